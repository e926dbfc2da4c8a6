/**
 * The files a model reads and writes, by extension: our safetensors checkpoints (written by
 * `saveModel` or the trainer), the public bvlc_alexnet.npy, and torchvision's `.pth` state_dicts. These are functions over a
 * structural model type, so this floor knows the formats and not the model class; the model
 * (lib/nn/alexnet.ts) decides what a file's contents mean for its settings.
 */
import * as path from 'node:path';
import { fileReadError } from '../errors';
import { fail } from '../validate';
import { readBvlcWeights } from './bvlc';
import {
  type Checkpoint,
  type CheckpointModel,
  modelConfig,
  type NamedTensor,
  readCheckpoint,
  saveCheckpoint,
} from './checkpoint';
import { readPth } from './pth';
import type { NamedArray } from './safetensors';
import { matchStateDict } from './state-dict';

export type WeightsFormat = 'bvlc' | 'checkpoint' | 'pth';

/** Which reader a weights file needs, by its extension. */
export function weightsFormat(file: string): WeightsFormat {
  if (typeof file !== 'string' || file === '') fail('non-empty string', 'file', file);
  const extension = path.extname(file).toLowerCase();
  if (extension === '.npy') return 'bvlc';
  if (extension === '.safetensors') return 'checkpoint';
  if (extension === '.pth' || extension === '.pt') return 'pth';
  return fail(
    'a .safetensors checkpoint, a .npy file like bvlc_alexnet.npy or a .pth file like alexnet-owt-7be5be79.pth',
    'file',
    file,
  );
}

/** What reading a bvlc file needs to know of the model it loads into. */
export interface WeightsTarget {
  /** The learnable layers, in order (conv1 ... fc8). */
  readonly layerNames: readonly string[];
  parameters(): readonly NamedTensor[];
  /** pool5's output for one image, [channels, height, width]: the order of fc6's inputs. */
  readonly pool5: readonly [number, number, number];
}

export type WeightsFile =
  | { format: 'bvlc' | 'pth'; weights: Record<string, NamedArray> }
  | { format: 'checkpoint'; weights: Record<string, NamedArray>; checkpoint: Checkpoint };

/**
 * The weights of a file in our names and layouts (layers in `skip` left out of a bvlc file), and
 * for a checkpoint the rest of what it holds. Errors name the file.
 */
export async function readWeightsFile(
  file: string,
  target: WeightsTarget,
  skip: readonly string[] = [],
): Promise<WeightsFile> {
  const format = weightsFormat(file);
  if (format === 'checkpoint') {
    const checkpoint = await readCheckpointFile(file);
    return { format, weights: checkpoint.weights, checkpoint };
  }
  if (format === 'pth') {
    return { format, weights: pthWeights(await readPth(file), file, target, skip) };
  }
  try {
    const shapes = Object.fromEntries(target.parameters().map((p) => [p.name, p.value.shape]));
    const layers = target.layerNames;
    return {
      format,
      weights: await readBvlcWeights(file, { layers, shapes, pool5: target.pool5 }, skip),
    };
  } catch (error) {
    throw fileReadError(file, error);
  }
}

/**
 * A `.pth` state_dict's tensors for `target`'s parameters (of the layers not in `skip`), matched
 * by name as load_state_dict(strict=True) does (state-dict.ts).
 */
export function pthWeights(
  tensors: Record<string, NamedArray>,
  file: string,
  target: Pick<WeightsTarget, 'parameters'>,
  skip: readonly string[] = [],
): Record<string, NamedArray> {
  const params = target.parameters().map(({ name, layer, value }) => ({
    name,
    layer,
    shape: value.shape,
  }));
  return matchStateDict(tensors, file, params, skip);
}

/** A checkpoint's contents; errors name the file. */
export async function readCheckpointFile(file: string): Promise<Checkpoint> {
  try {
    return await readCheckpoint(file);
  } catch (error) {
    throw fileReadError(file, error);
  }
}

/** Writes a model's weights, class names and preprocessing to a safetensors file, atomically. */
export function saveModel(file: string, model: CheckpointModel): Promise<void> {
  return saveCheckpoint(file, model, modelConfig(model));
}
