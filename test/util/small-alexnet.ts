/**
 * One forward and backward pass of the bvlc AlexNet structure (5 conv + 3 FC, ReLU, LRN after
 * conv1 and conv2, max-pool 3/2 after conv1, conv2 and conv5, groups 2 on conv2, conv4 and
 * conv5; no dropout), composed directly from the ops, at whatever widths the parameters have.
 * Only the tests use it: it checks that the ops fit together into AlexNet the way PyTorch's
 * layers do (test/fixtures/small_alexnet, made by scripts/make_fixtures.py).
 */
import {
  biasAdd,
  biasBackward,
  ConvPlan,
  gemm,
  LrnPlan,
  MaxPoolPlan,
  reluBackward,
  reluForward,
  softmaxCrossEntropy,
  Tensor,
} from '../../lib';

/** Geometry of AlexNet's convolutions (Krizhevsky et al. 2012, §3.5; Caffe's bvlc prototxt). */
const CONVS = [
  { name: 'conv1', stride: 4, pad: 0, groups: 1, lrn: true, pool: true },
  { name: 'conv2', stride: 1, pad: 2, groups: 2, lrn: true, pool: true },
  { name: 'conv3', stride: 1, pad: 1, groups: 1, lrn: false, pool: false },
  { name: 'conv4', stride: 1, pad: 1, groups: 2, lrn: false, pool: false },
  { name: 'conv5', stride: 1, pad: 1, groups: 2, lrn: false, pool: true },
];
const FCS = ['fc6', 'fc7', 'fc8'];
const POOL = { kernel: 3, stride: 2, pad: 0 };

export interface LrnParams {
  size: number;
  alpha: number;
  beta: number;
  k: number;
}

export interface SmallAlexNetPass {
  logits: Float32Array;
  /** Mean softmax cross-entropy over the batch. */
  loss: number;
  /** Gradient of the loss for every parameter, by PyTorch name; the caller disposes them. */
  grads: Map<string, Tensor>;
  /** Outputs of the three max-pools and of fc7's ReLU, to locate a divergence. */
  activations: Record<'pool1' | 'pool2' | 'pool5' | 'fc7', Float32Array>;
}

/**
 * Runs the network on the batch `x` (N, 3, H, W) with `params` named as PyTorch's state_dict
 * (`conv1.weight` (out, in / groups, kh, kw), `conv1.bias`, ..., `fc6.weight` (out, in)).
 */
export function smallAlexNetPass(
  params: ReadonlyMap<string, Tensor>,
  x: Tensor,
  labels: Int32Array,
  lrn: LrnParams,
): SmallAlexNetPass {
  const owned: { dispose(): void }[] = [];
  const zeros = (shape: readonly number[]) => {
    const t = Tensor.zeros(shape);
    owned.push(t);
    return t;
  };
  const param = (name: string) => {
    const t = params.get(name);
    if (!t) throw new Error(`smallAlexNetPass: no parameter ${name}`);
    return t;
  };
  const grads = new Map<string, Tensor>();
  const grad = (name: string) => {
    const t = Tensor.zeros(param(name).shape);
    grads.set(name, t);
    return t;
  };
  // Backward steps, pushed in forward order: each takes the gradient of its layer's output and
  // returns the gradient of its input (null for the network's input, which needs none).
  const tape: ((dy: Tensor) => Tensor | null)[] = [];
  const activations: Partial<SmallAlexNetPass['activations']> = {};

  const relu = (z: Tensor) => {
    const a = zeros(z.shape);
    reluForward(z, a);
    tape.push((da) => {
      const dz = zeros(z.shape);
      reluBackward(a, da, dz);
      return dz;
    });
    return a;
  };

  let a = x;
  for (const [index, layer] of CONVS.entries()) {
    const input = a;
    const w = param(`${layer.name}.weight`);
    const b = param(`${layer.name}.bias`);
    const [batch, inChannels, height, width] = input.shape;
    const plan = new ConvPlan({
      batch,
      inChannels,
      height,
      width,
      outChannels: w.shape[0],
      kernel: [w.shape[2], w.shape[3]],
      stride: layer.stride,
      pad: layer.pad,
      groups: layer.groups,
    });
    owned.push(plan);
    const z = zeros(plan.outputShape);
    plan.forward(input, w, z);
    biasAdd(z, b);
    tape.push((dz) => {
      biasBackward(dz, grad(`${layer.name}.bias`));
      plan.backwardFilter(input, dz, grad(`${layer.name}.weight`));
      if (index === 0) return null;
      const dx = zeros(input.shape);
      plan.backwardData(w, dz, dx);
      return dx;
    });
    a = relu(z);
    if (layer.lrn) {
      const lrnPlan = new LrnPlan(a.shape, lrn);
      owned.push(lrnPlan);
      const lrnIn = a;
      const lrnOut = zeros(lrnIn.shape);
      lrnPlan.forward(lrnIn, lrnOut);
      tape.push((dy) => {
        const dx = zeros(lrnIn.shape);
        lrnPlan.backward(lrnIn, lrnOut, dy, dx);
        return dx;
      });
      a = lrnOut;
    }
    if (layer.pool) {
      const poolPlan = new MaxPoolPlan(a.shape, POOL);
      owned.push(poolPlan);
      const poolIn = a;
      const poolOut = zeros(poolPlan.outputShape);
      poolPlan.forward(poolIn, poolOut);
      tape.push((dy) => {
        const dx = zeros(poolIn.shape);
        poolPlan.backward(poolIn, poolOut, dy, dx);
        return dx;
      });
      a = poolOut;
      activations[`pool${layer.name.slice(-1)}` as 'pool1' | 'pool2' | 'pool5'] = a.toArray();
    }
  }

  // Fully connected layers see their input (N, C, H, W) as an N x CHW matrix: the C, H, W
  // flatten order of PyTorch's x.flatten(1).
  for (const name of FCS) {
    const input = a;
    const w = param(`${name}.weight`);
    const z = zeros([input.shape[0], w.shape[0]]);
    gemm(input, w, z, { transB: true });
    biasAdd(z, param(`${name}.bias`));
    tape.push((dz) => {
      biasBackward(dz, grad(`${name}.bias`));
      gemm(dz, input, grad(`${name}.weight`), { transA: true });
      const dx = zeros(input.shape);
      gemm(dz, w, dx);
      return dx;
    });
    a = name === 'fc8' ? z : relu(z);
    if (name === 'fc7') activations.fc7 = a.toArray();
  }

  const dlogits = zeros(a.shape);
  const loss = softmaxCrossEntropy(a, labels, dlogits);
  const logits = a.toArray();
  let upstream: Tensor | null = dlogits;
  for (let i = tape.length - 1; i >= 0 && upstream; --i) upstream = tape[i](upstream);

  for (const item of owned) item.dispose();
  return {
    logits,
    loss,
    grads,
    activations: activations as SmallAlexNetPass['activations'],
  };
}
