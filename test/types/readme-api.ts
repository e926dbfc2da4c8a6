/**
 * The README's Library example as a user's file: `npm run typecheck` (tsc --strict, part of
 * `npm test`) compiles it, so a change to the public API that breaks the documented calls fails
 * the tests. It is never run.
 */
import {
  AlexNet,
  type Classification,
  classify,
  type Evaluation,
  SGD,
  trainStep,
  trainStepSync,
} from '../../lib';

export async function readmeExample(
  x: Float32Array,
  labels: Int32Array,
  n: number,
): Promise<Classification[]> {
  const net = new AlexNet({ preset: 'bvlc', classes: 2, device: 'auto', seed: 1 });
  const opt = new SGD(net, { lr: 0.01, momentum: 0.9, weightDecay: 5e-4 });
  const { loss, correct }: { loss: number; correct: number } = await trainStep(net, opt, {
    x,
    labels,
    n,
  });
  const again: number = trainStepSync(net, opt, { x, labels, n }).loss;
  const logits: Float32Array = await net.forward(x, n);
  const evaluation: Evaluation = await net.evaluate(x, labels, n);
  await net.save('ckpt.safetensors');
  await net.dispose();
  void [loss, correct, again, logits, evaluation];

  const imagenet = await AlexNet.fromFile('bvlc_alexnet.npy');
  const transfer = new AlexNet({ classes: 2, trainLayers: ['fc6', 'fc7', 'fc8'] });
  await transfer.load('bvlc_alexnet.npy', { skip: ['fc8'] });
  return classify(imagenet, ['Elephant.jpg'], { top: 5 });
}
