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
import { PackedWeights } from '../../lib/ops/packed-weights';
import { MaxPoolPlan } from '../../lib/ops/pool';
import { reluBackward, reluForward } from '../../lib/ops/relu';
import { sgdUpdate } from '../../lib/ops/sgd';
import { flushSync } from '../../lib/queue';
import type { Rng } from '../../lib/random';
import { sizeOf, Tensor } from '../../lib/tensor';
import { Adam } from '../../lib/train/adam';
import { SGD } from '../../lib/train/sgd';
import { trainStep, trainStepSync } from '../../lib/train/training-step';
import {
  type AlexNetCase,
  type AlexNetTrainCase,
  type BiasCase,
  type ConvCase,
  type DropoutCase,
  type FcCase,
  type LossCase,
  type LrnCase,
  type MaxPoolCase,
  OPS,
  type OpCase,
  type ReluCase,
  type SgdCase,
} from './cases';

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

/** Makes a case's tensors, each kept to be freed with the case. */
class Tensors {
  private readonly owned: { dispose(): void }[] = [];

  constructor(readonly rng: Rng) {}

  keep<T extends { dispose(): void }>(t: T): T {
    this.owned.push(t);
    return t;
  }

  /** Uniform in [-scale, scale): random, non-zero and far from denormals. */
  random(shape: readonly number[], scale = 1): Tensor {
    return this.keep(Tensor.from(this.rng.uniform(sizeOf(shape), -scale, scale), shape));
  }

  zeros(shape: readonly number[]): Tensor {
    return this.keep(Tensor.zeros(shape));
  }

  /** He-initialised weights of `shape` (outputs first). */
  he(shape: readonly number[]): Tensor {
    const std = Math.sqrt(2 / (sizeOf(shape) / shape[0]));
    return this.keep(Tensor.from(this.rng.normal(sizeOf(shape), std), shape));
  }

  dispose(): void {
    for (const t of this.owned) t.dispose();
  }
}

type Ops = Record<string, () => void>;

function convOps(c: ConvCase, t: Tensors): Ops {
  const plan = t.keep(new ConvPlan(c.spec, 'cpu'));
  const [x, w, dy] = [
    t.random(plan.inputShape),
    t.he(plan.weightShape),
    t.random(plan.outputShape),
  ];
  const [y, dx, dw] = [
    t.zeros(plan.outputShape),
    t.zeros(plan.inputShape),
    t.zeros(plan.weightShape),
  ];
  return {
    forward: () => plan.forward(x, w, y),
    backwardData: () => plan.backwardData(w, dy, dx),
    backwardFilter: () => plan.backwardFilter(x, dy, dw),
  };
}

function biasOps(c: BiasCase, t: Tensors): Ops {
  const ys = c.shapes.map((s) => t.random(s));
  const bs = c.shapes.map((s) => t.random([s[1]], 0.1));
  const dbs = c.shapes.map((s) => t.zeros([s[1]]));
  return {
    forward: () => {
      for (let i = 0; i < ys.length; ++i) biasAdd(ys[i], bs[i]);
    },
    backward: () => {
      for (let i = 0; i < ys.length; ++i) biasBackward(ys[i], dbs[i]);
    },
  };
}

/** In place, as the Relu layer runs: y overwrites x, dx overwrites dy. */
function reluOps(c: ReluCase, t: Tensors): Ops {
  const xs = c.shapes.map((s) => t.random(s));
  const ys = c.shapes.map((s) => t.random(s));
  for (const y of ys) reluForward(y, y);
  const dys = c.shapes.map((s) => t.random(s));
  return {
    forward: () => {
      for (const x of xs) reluForward(x, x);
    },
    backward: () => {
      for (let i = 0; i < ys.length; ++i) reluBackward(ys[i], dys[i], dys[i]);
    },
  };
}

function lrnOps(c: LrnCase, t: Tensors): Ops {
  const plan = t.keep(new LrnPlan(c.shape, c.lrn, 'cpu'));
  const [x, dy, y, dx] = [t.random(c.shape), t.random(c.shape), t.zeros(c.shape), t.zeros(c.shape)];
  plan.forward(x, y);
  return {
    forward: () => plan.forward(x, y),
    backward: () => plan.backward(x, y, dy, dx),
  };
}

function maxPoolOps(c: MaxPoolCase, t: Tensors): Ops {
  const plan = t.keep(new MaxPoolPlan(c.shape, c.pool, 'cpu'));
  const [x, y] = [t.random(plan.inputShape), t.zeros(plan.outputShape)];
  const [dy, dx] = [t.random(plan.outputShape), t.zeros(plan.inputShape)];
  plan.forward(x, y);
  return {
    forward: () => plan.forward(x, y),
    backward: () => plan.backward(x, y, dy, dx),
  };
}

/**
 * The three products of lib/nn/linear.ts: the forward as the layer infers, from weights packed
 * once (they do not change between calls), and the two gradients' GEMMs.
 */
function fcOps(c: FcCase, t: Tensors): Ops {
  const { batch, inFeatures, outFeatures } = c;
  const [x, w, dy] = [
    t.random([batch, inFeatures]),
    t.he([outFeatures, inFeatures]),
    t.random([batch, outFeatures]),
  ];
  const [y, dx, dw] = [
    t.zeros([batch, outFeatures]),
    t.zeros([batch, inFeatures]),
    t.zeros([outFeatures, inFeatures]),
  ];
  const packed = t.keep(new PackedWeights('cpu'));
  return {
    forward: () => packed.multiply(x, w, y),
    backwardData: () => gemm(dy, w, dx),
    backwardFilter: () => gemm(dy, x, dw, { transA: true }),
  };
}

function dropoutOps(c: DropoutCase, t: Tensors): Ops {
  const xs = c.shapes.map((s) => t.random(s));
  const ys = c.shapes.map((s) => t.zeros(s));
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

function lossOps(c: LossCase, t: Tensors): Ops {
  const logits = t.random(c.shape, 4);
  const labels = t.rng.int(c.shape[0], c.shape[1]);
  const dlogits = t.zeros(c.shape);
  return { forwardBackward: () => softmaxCrossEntropy(logits, labels, dlogits) };
}

function sgdOps(c: SgdCase, t: Tensors): Ops {
  const params = c.params.map((p) => ({
    value: t.random(p.shape, 0.01),
    grad: t.random(p.shape, 0.01),
    velocity: t.zeros(p.shape),
    step: { lr: c.lr, momentum: c.momentum, weightDecay: p.decay ? c.weightDecay : 0 },
  }));
  return {
    update: () => {
      for (const p of params) sgdUpdate(p.value, p.grad, p.velocity, p.step);
    },
  };
}

function alexnetOps(c: AlexNetCase, t: Tensors): Ops {
  const net = t.keep(new AlexNet({ preset: 'bvlc', classes: c.classes, device: 'cpu' }));
  const size = net.arch.inputSize;
  const shape = [c.batch, 3, size, size];
  const x = t.keep(Tensor.from(t.rng.normal(sizeOf(shape), INPUT_STD), shape));
  return {
    forward: () => {
      net.forwardSync(x, c.batch);
    },
  };
}

/** A training step, blocking (ops) and through the Promise API (asyncOps). */
function alexnetTrainOps(c: AlexNetTrainCase, t: Tensors, asyncOps: AsyncOps): Ops {
  const trainLayers = c.layers === 'fc' ? (['fc6', 'fc7', 'fc8'] as const) : undefined;
  const net = t.keep(
    new AlexNet({
      preset: 'bvlc',
      classes: c.classes,
      device: 'cpu',
      trainLayers: trainLayers && [...trainLayers],
    }),
  );
  const opt = t.keep(c.optimizer === 'adam' ? new Adam(net, c) : new SGD(net, c));
  const size = net.arch.inputSize;
  const shape = [c.batch, 3, size, size];
  // Unit-variance inputs, as training from scratch normalises them: Caffe's 0-255 scale
  // with random weights diverges within a few steps, and a diverged step throws.
  const x = t.keep(Tensor.from(t.rng.normal(sizeOf(shape), 1), shape));
  const labels = t.rng.int(c.batch, c.classes);
  asyncOps.step = () => trainStep(net, opt, { x, labels, n: c.batch });
  return {
    step: () => {
      trainStepSync(net, opt, { x, labels, n: c.batch });
    },
  };
}

type AsyncOps = Record<string, () => Promise<unknown>>;

function caseOps(c: OpCase, t: Tensors, asyncOps: AsyncOps): Ops {
  switch (c.kind) {
    case 'conv':
      return convOps(c, t);
    case 'bias':
      return biasOps(c, t);
    case 'relu':
      return reluOps(c, t);
    case 'lrn':
      return lrnOps(c, t);
    case 'maxpool':
      return maxPoolOps(c, t);
    case 'fc':
      return fcOps(c, t);
    case 'dropout':
      return dropoutOps(c, t);
    case 'softmaxCrossEntropy':
      return lossOps(c, t);
    case 'sgd':
      return sgdOps(c, t);
    case 'alexnet':
      return alexnetOps(c, t);
    case 'alexnetTrain':
      return alexnetTrainOps(c, t, asyncOps);
  }
}

export function oursCase(c: OpCase, rng: Rng): OursCase {
  const tensors = new Tensors(rng);
  const asyncOps: AsyncOps = {};
  let ops: Ops;
  try {
    ops = caseOps(c, tensors, asyncOps);
  } catch (error) {
    tensors.dispose();
    throw error;
  }
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
  ) as Ops;
  return { ops: timed, asyncOps, dispose: () => tensors.dispose() };
}
