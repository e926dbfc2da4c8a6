/**
 * Checkpoints as safetensors: the weights under PyTorch's state_dict names and layouts (so
 * `model.load_state_dict` takes them for the same network), the optimiser's state under
 * `optimizer.<PyTorch's state name>.<name>` (SGD's `momentum`; Adam's `exp_avg`, `exp_avg_sq`
 * and `step`, as torch.optim.Adam's state_dict names them), and everything else as JSON in the
 * header's metadata: the model config (enough to rebuild the network and preprocess inputs for
 * prediction), the class names, and the training state (epoch, step, RNG and scheduler state,
 * the optimiser's kind) that makes a resume exact.
 */

import { AlexNetError, FormatError } from '../errors';
import type { Tensor } from '../tensor';
import { isTypedArray } from '../validate';
import { describeJson } from './describe-json';
import type { Normalisation, ResizeSetting } from './preprocessing';
import { type NamedArray, readSafetensors, writeSafetensors } from './safetensors';

/** Identifies our checkpoints and their layout version. */
export const CHECKPOINT_FORMAT = 'alexnet-cudnn/1';
const OPTIMIZER_PREFIX = 'optimizer.';

/** What a checkpoint says about the model: enough to rebuild it and feed it. */
export interface ModelConfig {
  /** The architecture preset's name ('bvlc', 'paper'); lib/nn checks it when it rebuilds. */
  preset: string;
  classes: number;
  inputSize: number;
  widthScale: number;
  dropout: number;
  seed: number;
  classNames: readonly string[];
  normalisation: Normalisation;
  /** Absent in checkpoints written before it was saved: the model's default then. */
  resize?: ResizeSetting;
}

/** Where training stands: what --resume needs to continue exactly. */
export interface TrainingState {
  /** Epochs completed. */
  epoch: number;
  /** Batches of epoch `epoch + 1` already trained (non-zero after an interrupt). */
  batchInEpoch: number;
  /** The model's step counter (keys the dropout masks). */
  step: number;
  lr: number;
  scheduler: unknown;
  /** Running sums of the interrupted epoch, so its summary counts every batch once. */
  partialEpoch?: {
    loss: number;
    correct: number;
    seen: number;
    seconds: number;
    /** The lr of each step so far, when it changes from step to step (warmup, cosine). */
    stepLr?: number[];
  };
  history: unknown[];
  config: Record<string, unknown>;
  /** The optimiser trained with ('sgd', 'adam', 'adamw'); absent in older checkpoints: 'sgd'. */
  optimizer?: string;
}

/** What checkpoints read from and write to an optimiser (lib/train/optimizer.ts). */
export interface CheckpointOptimizer {
  readonly kind: string;
  /** State tensors by `<state name>.<parameter name>`. */
  state(): ReadonlyMap<string, Tensor>;
}

/** A model's tensor under its PyTorch state_dict name (`conv1.weight`, `features.0.weight`). */
export interface NamedTensor {
  readonly name: string;
  /** Its layer (`conv1`): what `skip` names. */
  readonly layer: string;
  readonly value: Tensor;
}

/**
 * What checkpoints read from and write to a model: its parameters and the settings that rebuild
 * and preprocess for it (AlexNet is one; this file does not depend on it).
 */
export interface CheckpointModel {
  readonly arch: Omit<ModelConfig, 'seed' | 'classNames' | 'normalisation' | 'resize'>;
  readonly seed: number;
  readonly classNames: readonly string[];
  readonly normalisation: Normalisation;
  readonly resize: ResizeSetting;
  parameters(): readonly NamedTensor[];
}

export function modelConfig(net: CheckpointModel): ModelConfig {
  const { preset, classes, inputSize, widthScale, dropout } = net.arch;
  const { seed, classNames, normalisation, resize } = net;
  return {
    preset,
    classes,
    inputSize,
    widthScale,
    dropout,
    seed,
    classNames,
    normalisation,
    resize,
  };
}

function readTensors(net: CheckpointModel): Record<string, NamedArray> {
  const out: Record<string, NamedArray> = {};
  for (const p of net.parameters()) out[p.name] = { data: p.value.toArray(), shape: p.value.shape };
  return out;
}

export async function saveCheckpoint(
  file: string,
  net: CheckpointModel,
  model: ModelConfig,
  training?: { optimizer: CheckpointOptimizer; state: TrainingState },
): Promise<void> {
  const tensors = readTensors(net);
  const metadata: Record<string, string> = {
    format: CHECKPOINT_FORMAT,
    model: JSON.stringify(model),
  };
  if (training) {
    for (const [name, t] of training.optimizer.state()) {
      tensors[OPTIMIZER_PREFIX + name] = { data: t.toArray(), shape: t.shape };
    }
    metadata.training = JSON.stringify({ ...training.state, optimizer: training.optimizer.kind });
  }
  await writeSafetensors(file, tensors, metadata);
}

export interface Checkpoint {
  file: string;
  model: ModelConfig;
  training?: TrainingState;
  weights: Record<string, NamedArray>;
  /** The optimiser's state by `<state name>.<parameter name>`, e.g. `momentum.fc8.weight`. */
  optimizerState: Record<string, NamedArray>;
}

export async function readCheckpoint(file: string): Promise<Checkpoint> {
  const { tensors, metadata } = await readSafetensors(file);
  if (metadata.format !== CHECKPOINT_FORMAT || !metadata.model) {
    throw new AlexNetError(
      `${file} is not an alexnet-cudnn checkpoint (expected metadata format '${CHECKPOINT_FORMAT}')`,
    );
  }
  const weights: Record<string, NamedArray> = {};
  const optimizerState: Record<string, NamedArray> = {};
  for (const [name, t] of Object.entries(tensors)) {
    if (name.startsWith(OPTIMIZER_PREFIX)) optimizerState[name.slice(OPTIMIZER_PREFIX.length)] = t;
    else weights[name] = t;
  }
  return {
    file,
    model: metadataObject(file, 'model', metadata.model) as unknown as ModelConfig,
    training: metadata.training
      ? (metadataObject(file, 'training', metadata.training) as unknown as TrainingState)
      : undefined,
    weights,
    optimizerState,
  };
}

/** A metadata entry's JSON text as an object, or a FormatError naming the file and the entry. */
function metadataObject(file: string, key: string, text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new FormatError(`${file}: metadata '${key}' is not JSON (${(error as Error).message})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new FormatError(
      `${file}: metadata '${key}' is ${describeJson(value)}, not a JSON object`,
    );
  }
  return value as Record<string, unknown>;
}

/**
 * Copies named arrays into the model's parameters, checking that every expected name is
 * present with the right shape; names in `skip` (layer names like 'fc8') are left untouched.
 */
export function loadWeights(
  net: CheckpointModel,
  weights: Record<string, NamedArray>,
  source: string,
  skip: readonly string[] = [],
): void {
  for (const p of net.parameters()) {
    if (skip.includes(p.layer)) continue;
    const w = weights[p.name];
    if (!w) throw new AlexNetError(`${source} has no tensor ${p.name}`);
    if (w.shape.join() !== p.value.shape.join()) {
      throw new AlexNetError(
        `${source}: ${p.name} has shape [${w.shape.join(', ')}] but the model expects ` +
          `[${p.value.shape.join(', ')}]` +
          (p.layer === 'fc8'
            ? " (a different number of classes? load with { skip: ['fc8'] })"
            : ''),
      );
    }
    p.value.write(isTypedArray(w.data, Float32Array) ? w.data : Float32Array.from(w.data));
  }
}

/**
 * Copies a checkpoint's optimiser state into `optimizer`, which must be of the kind it was
 * trained with: another optimiser's state would not continue the same run.
 */
export function loadOptimizerState(
  optimizer: CheckpointOptimizer,
  checkpoint: Pick<Checkpoint, 'training' | 'optimizerState'>,
  source: string,
): void {
  const trainedWith = checkpoint.training?.optimizer ?? 'sgd';
  if (trainedWith !== optimizer.kind) {
    throw new AlexNetError(
      `${source} was trained with the ${trainedWith} optimizer and cannot be resumed with ` +
        `${optimizer.kind}: resume it with ${trainedWith} (--optimizer ${trainedWith}), or start ` +
        'a new run from its weights (--weights)',
    );
  }
  for (const [name, t] of optimizer.state()) {
    const m = checkpoint.optimizerState[name];
    if (!m) throw new AlexNetError(`${source} has no optimizer state ${name}`);
    t.write(isTypedArray(m.data, Float32Array) ? m.data : Float32Array.from(m.data));
  }
}
