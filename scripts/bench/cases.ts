/**
 * The ops of one training step of the bvlc AlexNet at batch n, as data: which op at which
 * shapes. The bench runs each case on our backend (ours.ts) and sends the same object to the
 * PyTorch side (torch_ops.py), so both time exactly the same shapes. Widths and spatial sizes
 * come from lib/nn/architecture.ts; kernels, strides, padding and groups are those
 * lib/nn/alexnet.ts builds (Caffe's models/bvlc_alexnet/deploy.prototxt).
 */
import { architecture, LRN_OPTIONS, layerShapes } from '../../lib/nn/architecture';

export interface ConvCase {
  group: string;
  kind: 'conv';
  spec: {
    batch: number;
    inChannels: number;
    height: number;
    width: number;
    outChannels: number;
    kernel: number;
    stride: number;
    pad: number;
    groups: number;
  };
}

/** Bias add and its gradient over every conv and fc output, one row for all eight. */
export interface BiasCase {
  group: string;
  kind: 'bias';
  shapes: number[][];
}

/** ReLU forward and backward over relu1-relu7, one row for all seven. */
export interface ReluCase {
  group: string;
  kind: 'relu';
  shapes: number[][];
}

export interface LrnCase {
  group: string;
  kind: 'lrn';
  shape: number[];
  lrn: { size: number; alpha: number; beta: number; k: number };
}

export interface MaxPoolCase {
  group: string;
  kind: 'maxpool';
  shape: number[];
  pool: { kernel: number; stride: number; pad: number };
}

/** A fully connected layer's three GEMMs: y = x Wᵀ, dx = dy W, dW = dyᵀ x. */
export interface FcCase {
  group: string;
  kind: 'fc';
  batch: number;
  inFeatures: number;
  outFeatures: number;
}

/** Dropout forward and backward over drop6 and drop7, one row for both. */
export interface DropoutCase {
  group: string;
  kind: 'dropout';
  shapes: number[][];
  p: number;
}

export interface LossCase {
  group: string;
  kind: 'softmaxCrossEntropy';
  /** [n, classes] */
  shape: number[];
}

/** One SGD-momentum step over every parameter, weight decay on weights only. */
export interface SgdCase {
  group: string;
  kind: 'sgd';
  params: { name: string; shape: number[]; decay: boolean }[];
  lr: number;
  momentum: number;
  weightDecay: number;
}

/** The whole network's evaluation forward pass. */
export interface AlexNetCase {
  group: string;
  kind: 'alexnet';
  batch: number;
  classes: number;
}

/** One training step of the whole network (forward, loss, backward, the optimiser's update). */
export interface AlexNetTrainCase {
  group: string;
  kind: 'alexnetTrain';
  batch: number;
  classes: number;
  /** 'all' trains every layer; 'fc' only fc6-fc8, as transfer learning does. */
  layers: 'all' | 'fc';
  /** SGD with momentum, or Adam with torch.optim's betas and eps (the tutorial's). */
  optimizer: 'sgd' | 'adam';
  lr: number;
  momentum: number;
  weightDecay: number;
}

export type OpCase =
  | ConvCase
  | BiasCase
  | ReluCase
  | LrnCase
  | MaxPoolCase
  | FcCase
  | DropoutCase
  | LossCase
  | SgdCase
  | AlexNetCase
  | AlexNetTrainCase;

/**
 * One JPEG end to end, decode and resize included (the predict bench): a PyTorch case only, ours
 * being `classify`, so it is not an OpCase.
 */
export interface ClassifyCase {
  group: string;
  kind: 'classify';
  /** The JPEG's path. */
  image: string;
  classes: number;
}

/** The ops timed for each kind of case, in table order. */
export const OPS: Record<OpCase['kind'], readonly string[]> = {
  conv: ['forward', 'backwardData', 'backwardFilter'],
  bias: ['forward', 'backward'],
  relu: ['forward', 'backward'],
  lrn: ['forward', 'backward'],
  maxpool: ['forward', 'backward'],
  fc: ['forward', 'backwardData', 'backwardFilter'],
  dropout: ['forward', 'backward'],
  softmaxCrossEntropy: ['forwardBackward'],
  sgd: ['update'],
  alexnet: ['forward'],
  alexnetTrain: ['step'],
};

export const CLASSES = 1000;
export const INPUT_SIZE = 227;

/** conv1-conv5 as lib/nn/alexnet.ts builds them, with the layer each reads from. */
const CONVS = [
  { name: 'conv1', input: 'data', kernel: 11, stride: 4, pad: 0, groups: 1 },
  { name: 'conv2', input: 'pool1', kernel: 5, stride: 1, pad: 2, groups: 2 },
  { name: 'conv3', input: 'pool2', kernel: 3, stride: 1, pad: 1, groups: 1 },
  { name: 'conv4', input: 'conv3', kernel: 3, stride: 1, pad: 1, groups: 2 },
  { name: 'conv5', input: 'conv4', kernel: 3, stride: 1, pad: 1, groups: 2 },
] as const;

/** Overlapping pooling (paper §3.4) after conv1, conv2 and conv5. */
const POOL = { kernel: 3, stride: 2, pad: 0 };
const POOLS = [
  { name: 'pool1', input: 'conv1' },
  { name: 'pool2', input: 'conv2' },
  { name: 'pool5', input: 'conv5' },
] as const;

const NORMS = [
  { name: 'norm1', input: 'conv1' },
  { name: 'norm2', input: 'conv2' },
] as const;

const FCS = [
  { name: 'fc6', input: 'pool5' },
  { name: 'fc7', input: 'fc6' },
  { name: 'fc8', input: 'fc7' },
] as const;

/** The training hyper-parameters of the paper (§5), those the trainer defaults to. */
export const SGD_STEP = { lr: 0.01, momentum: 0.9, weightDecay: 5e-4 };

/** Every case of the op bench at batch `n`, in the order they are timed and printed. */
export function opCases(n: number): OpCase[] {
  const arch = architecture({
    preset: 'bvlc',
    classes: CLASSES,
    inputSize: INPUT_SIZE,
    widthScale: 1,
    dropout: 0.5,
  });
  // Output shape of each layer for one image, and of the input.
  const out = new Map<string, number[]>(layerShapes(arch).map((l) => [l.name, l.shape]));
  out.set('data', [3, INPUT_SIZE, INPUT_SIZE]);
  const of = (name: string) => out.get(name)!;
  const batched = (name: string) => [n, ...of(name)];
  const features = (name: string) => of(name).reduce((a, b) => a * b, 1);

  const cases: OpCase[] = [];
  const params: SgdCase['params'] = [];
  for (const c of CONVS) {
    const [inChannels, height, width] = of(c.input);
    const outChannels = of(c.name)[0];
    cases.push({
      group: c.name,
      kind: 'conv',
      spec: {
        batch: n,
        inChannels,
        height,
        width,
        outChannels,
        kernel: c.kernel,
        stride: c.stride,
        pad: c.pad,
        groups: c.groups,
      },
    });
    params.push(
      {
        name: `${c.name}.weight`,
        shape: [outChannels, inChannels / c.groups, c.kernel, c.kernel],
        decay: true,
      },
      { name: `${c.name}.bias`, shape: [outChannels], decay: false },
    );
  }
  const withBias = [...CONVS.map((c) => c.name), ...FCS.map((f) => f.name)];
  cases.push({ group: 'bias', kind: 'bias', shapes: withBias.map(batched) });
  cases.push({ group: 'relu', kind: 'relu', shapes: withBias.slice(0, -1).map(batched) });
  for (const norm of NORMS) {
    cases.push({
      group: norm.name,
      kind: 'lrn',
      shape: batched(norm.input),
      lrn: LRN_OPTIONS.bvlc,
    });
  }
  for (const pool of POOLS) {
    cases.push({ group: pool.name, kind: 'maxpool', shape: batched(pool.input), pool: POOL });
  }
  for (const fc of FCS) {
    const inFeatures = features(fc.input);
    const outFeatures = features(fc.name);
    cases.push({ group: fc.name, kind: 'fc', batch: n, inFeatures, outFeatures });
    params.push(
      { name: `${fc.name}.weight`, shape: [outFeatures, inFeatures], decay: true },
      { name: `${fc.name}.bias`, shape: [outFeatures], decay: false },
    );
  }
  cases.push({
    group: 'dropout',
    kind: 'dropout',
    shapes: [batched('fc6'), batched('fc7')],
    p: arch.dropout,
  });
  cases.push({ group: 'loss', kind: 'softmaxCrossEntropy', shape: [n, CLASSES] });
  cases.push({ group: 'sgd', kind: 'sgd', params, ...SGD_STEP });
  return cases;
}

/**
 * A whole training step at batch `n`, of every layer or of fc6-fc8 only, with SGD or with Adam
 * as the tutorial fine-tunes (lr 0.001, no weight decay).
 */
export function trainCase(
  n: number,
  layers: 'all' | 'fc',
  optimizer: 'sgd' | 'adam' = 'sgd',
): AlexNetTrainCase {
  return {
    group: `train ${layers}${optimizer === 'adam' ? ' adam' : ''}`,
    kind: 'alexnetTrain',
    batch: n,
    classes: CLASSES,
    layers,
    optimizer,
    ...SGD_STEP,
    ...(optimizer === 'adam' ? { weightDecay: 0 } : {}),
    // Small enough that random labels on random inputs stay finite over the timed steps.
    lr: 0.001,
  };
}

/** The whole forward pass at batch `n`. */
export function forwardCase(n: number): AlexNetCase {
  return { group: 'alexnet', kind: 'alexnet', batch: n, classes: CLASSES };
}

/**
 * Floating-point operations (2 per multiply-add) of each of a case's ops, where a matrix product
 * dominates it: a convolution's three passes each multiply out (n, k, out_h, out_w) x
 * (c / groups, kernel, kernel); a fully connected layer's three GEMMs are n x in x out each; the
 * whole forward pass is the sum over conv1-conv5 and fc6-fc8. Null for the other ops.
 */
export function opFlops(opCase: OpCase): number | null {
  switch (opCase.kind) {
    case 'conv': {
      const s = opCase.spec;
      const out = (size: number) => Math.floor((size + 2 * s.pad - s.kernel) / s.stride) + 1;
      const macs =
        s.batch *
        s.outChannels *
        out(s.height) *
        out(s.width) *
        (s.inChannels / s.groups) *
        s.kernel ** 2;
      return 2 * macs;
    }
    case 'fc':
      return 2 * opCase.batch * opCase.inFeatures * opCase.outFeatures;
    case 'alexnet':
      return opCases(opCase.batch).reduce((sum, c) => sum + (opFlops(c) ?? 0), 0);
    default:
      return null;
  }
}

/** One JPEG, the file `image`, end to end. */
export function classifyCase(image: string): ClassifyCase {
  return { group: 'classify', kind: 'classify', image, classes: CLASSES };
}
