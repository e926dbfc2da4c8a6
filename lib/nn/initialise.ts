/**
 * The initial weights: He et al. 2015 (N(0, sqrt(2 / fan_in)), zero biases), the default, or the
 * paper's (§5: N(0, 0.01) weights, biases 1 in conv2, conv4, conv5, fc6 and fc7 "to accelerate
 * the early stages", 0 elsewhere). Drawn from the model's seed, in layer order.
 */
import { Rng } from '../random';
import type { Conv2d } from './conv2d';
import type { Linear } from './linear';

export type Init = 'he' | 'paper' | 'none';

/** Layers whose biases the paper initialises to 1. */
const PAPER_BIAS_ONE: readonly string[] = ['conv2', 'conv4', 'conv5', 'fc6', 'fc7'];

export function initialise(
  learnable: ReadonlyMap<string, Conv2d | Linear>,
  init: 'he' | 'paper',
  seed: number,
): void {
  const rng = new Rng(seed);
  for (const [name, layer] of learnable) {
    const w = layer.weight.value;
    const fanIn = w.size / w.shape[0];
    // The classifier starts near zero under both schemes (N(0, 0.01), as fc8 in Caffe's
    // bvlc_alexnet train_val.prototxt): He's gain would start the softmax saturated, with a
    // first loss far above ln(classes) and steps large enough to kill ReLUs.
    const std = init === 'he' && name !== 'fc8' ? Math.sqrt(2 / fanIn) : 0.01;
    w.write(rng.normal(w.size, std));
    layer.bias.value.fill(init === 'paper' && PAPER_BIAS_ONE.includes(name) ? 1 : 0);
  }
}
