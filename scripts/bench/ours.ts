/**
 * Our side of the op bench: each case of cases.ts set up on the CPU backend through the public
 * ops of lib/ (so the timings include the argument checks a user's call pays), with random
 * non-zero inputs. Outputs are allocated once per case, as the layers do.
 */
import { AlexNet } from '../../lib/nn/alexnet';
import { biasAdd, biasBackward } from '../../lib/ops/bias';
import { ConvPlan } from '../../lib/ops/conv';
import { dropoutBackward, dropoutForward } from '../../lib/ops/dropout';
import { gemm } from '../../lib/ops/gemm';
import { softmaxCrossEntropy } from '../../lib/ops/loss';
import { LrnPlan } from '../../lib/ops/lrn';
import { MaxPoolPlan } from '../../lib/ops/pool';
import { reluBackward, reluForward } from '../../lib/ops/relu';
import { sgdUpdate } from '../../lib/ops/sgd';
import { flushSync } from '../../lib/queue';
import type { Rng } from '../../lib/random';
import { sizeOf, Tensor } from '../../lib/tensor';
import { Adam } from '../../lib/train/adam';
import { SGD } from '../../lib/train/sgd';
import { OPS, type OpCase } from './cases';

/**
 * A case ready to run: one function per op name of OPS (blocking until the op has run), the
 * same through the asynchronous API where the case has one, and what to free afterwards.
 */
export interface OursCase {
  ops: Record<string, () => void>;
  asyncOps: Record<string, () => Promise<unknown>>;
  dispose(): void;
}

/** Standard deviation of the whole-network input: Caffe's 0-255 scale with the mean removed. */
export const INPUT_STD = 50;

export function oursCase(c: OpCase, rng: Rng): OursCase {
  const owned: { dispose(): void }[] = [];
  const keep = <T extends { dispose(): void }>(t: T): T => {
    owned.push(t);
    return t;
  };
  // Uniform in [-scale, scale): random, non-zero and far from denormals.
  const random = (shape: readonly number[], scale = 1) =>
    keep(Tensor.from(rng.uniform(sizeOf(shape), -scale, scale), shape));
  const zeros = (shape: readonly number[]) => keep(Tensor.zeros(shape));
  const he = (shape: readonly number[]) =>
    keep(Tensor.from(rng.normal(sizeOf(shape), Math.sqrt(2 / (sizeOf(shape) / shape[0]))), shape));
  const asyncOps: Record<string, () => Promise<unknown>> = {};
  const ops = ((): Record<string, () => void> => {
    switch (c.kind) {
      case 'conv': {
        const plan = keep(new ConvPlan(c.spec, 'cpu'));
        const [x, w, dy] = [
          random(plan.inputShape),
          he(plan.weightShape),
          random(plan.outputShape),
        ];
        const [y, dx, dw] = [
          zeros(plan.outputShape),
          zeros(plan.inputShape),
          zeros(plan.weightShape),
        ];
        return {
          forward: () => plan.forward(x, w, y),
          backwardData: () => plan.backwardData(w, dy, dx),
          backwardFilter: () => plan.backwardFilter(x, dy, dw),
        };
      }
      case 'bias': {
        const ys = c.shapes.map((s) => random(s));
        const bs = c.shapes.map((s) => random([s[1]], 0.1));
        const dbs = c.shapes.map((s) => zeros([s[1]]));
        return {
          forward: () => {
            for (let i = 0; i < ys.length; ++i) biasAdd(ys[i], bs[i]);
          },
          backward: () => {
            for (let i = 0; i < ys.length; ++i) biasBackward(ys[i], dbs[i]);
          },
        };
      }
      case 'relu': {
        // In place, as the Relu layer runs: y overwrites x, dx overwrites dy.
        const xs = c.shapes.map((s) => random(s));
        const ys = c.shapes.map((s) => random(s));
        for (const y of ys) reluForward(y, y);
        const dys = c.shapes.map((s) => random(s));
        return {
          forward: () => {
            for (const x of xs) reluForward(x, x);
          },
          backward: () => {
            for (let i = 0; i < ys.length; ++i) reluBackward(ys[i], dys[i], dys[i]);
          },
        };
      }
      case 'lrn': {
        const plan = keep(new LrnPlan(c.shape, c.lrn, 'cpu'));
        const [x, dy, y, dx] = [random(c.shape), random(c.shape), zeros(c.shape), zeros(c.shape)];
        plan.forward(x, y);
        return {
          forward: () => plan.forward(x, y),
          backward: () => plan.backward(x, y, dy, dx),
        };
      }
      case 'maxpool': {
        const plan = keep(new MaxPoolPlan(c.shape, c.pool, 'cpu'));
        const [x, y] = [random(plan.inputShape), zeros(plan.outputShape)];
        const [dy, dx] = [random(plan.outputShape), zeros(plan.inputShape)];
        plan.forward(x, y);
        return {
          forward: () => plan.forward(x, y),
          backward: () => plan.backward(x, y, dy, dx),
        };
      }
      case 'fc': {
        const { batch, inFeatures, outFeatures } = c;
        const [x, w, dy] = [
          random([batch, inFeatures]),
          he([outFeatures, inFeatures]),
          random([batch, outFeatures]),
        ];
        const [y, dx, dw] = [
          zeros([batch, outFeatures]),
          zeros([batch, inFeatures]),
          zeros([outFeatures, inFeatures]),
        ];
        // The three GEMMs of lib/nn/linear.ts.
        return {
          forward: () => gemm(x, w, y, { transB: true }),
          backwardData: () => gemm(dy, w, dx),
          backwardFilter: () => gemm(dy, x, dw, { transA: true }),
        };
      }
      case 'dropout': {
        const xs = c.shapes.map((s) => random(s));
        const ys = c.shapes.map((s) => zeros(s));
        const key = (layer: number) => ({ p: c.p, seed: 1, step: 0, layer });
        return {
          forward: () => {
            for (let i = 0; i < xs.length; ++i) dropoutForward(xs[i], ys[i], key(i));
          },
          backward: () => {
            for (let i = 0; i < ys.length; ++i) dropoutBackward(ys[i], xs[i], key(i));
          },
        };
      }
      case 'softmaxCrossEntropy': {
        const logits = random(c.shape, 4);
        const labels = rng.int(c.shape[0], c.shape[1]);
        const dlogits = zeros(c.shape);
        return { forwardBackward: () => softmaxCrossEntropy(logits, labels, dlogits) };
      }
      case 'sgd': {
        const params = c.params.map((p) => ({
          value: random(p.shape, 0.01),
          grad: random(p.shape, 0.01),
          velocity: zeros(p.shape),
          step: { lr: c.lr, momentum: c.momentum, weightDecay: p.decay ? c.weightDecay : 0 },
        }));
        return {
          update: () => {
            for (const p of params) sgdUpdate(p.value, p.grad, p.velocity, p.step);
          },
        };
      }
      case 'alexnet': {
        const net = keep(new AlexNet({ preset: 'bvlc', classes: c.classes, device: 'cpu' }));
        const size = net.arch.inputSize;
        const shape = [c.batch, 3, size, size];
        const x = keep(Tensor.from(rng.normal(sizeOf(shape), INPUT_STD), shape));
        return {
          forward: () => {
            net.forwardSync(x, c.batch);
          },
        };
      }
      case 'alexnetTrain': {
        const trainLayers = c.layers === 'fc' ? (['fc6', 'fc7', 'fc8'] as const) : undefined;
        const net = keep(
          new AlexNet({
            preset: 'bvlc',
            classes: c.classes,
            device: 'cpu',
            trainLayers: trainLayers && [...trainLayers],
          }),
        );
        const opt = keep(c.optimizer === 'adam' ? new Adam(net, c) : new SGD(net, c));
        const size = net.arch.inputSize;
        const shape = [c.batch, 3, size, size];
        // Unit-variance inputs, as training from scratch normalises them: Caffe's 0-255 scale
        // with random weights diverges within a few steps, and a diverged step throws.
        const x = keep(Tensor.from(rng.normal(sizeOf(shape), 1), shape));
        const labels = rng.int(c.batch, c.classes);
        asyncOps.step = () => net.trainStep(x, labels, c.batch, opt);
        return {
          step: () => {
            net.trainStepSync(x, labels, c.batch, opt);
          },
        };
      }
    }
  })();
  const missing = OPS[c.kind].filter((op) => !(op in ops));
  if (missing.length > 0) throw new Error(`ours.ts has no ${missing.join(', ')} for ${c.kind}`);
  // Ops are queued (lib/queue.ts): a timed call includes running them, not only queueing them.
  const timed = Object.fromEntries(
    Object.entries(ops).map(([name, op]) => [
      name,
      () => {
        op();
        flushSync();
      },
    ]),
  ) as typeof ops;
  return {
    ops: timed,
    asyncOps,
    dispose: () => {
      for (const t of owned) t.dispose();
    },
  };
}
