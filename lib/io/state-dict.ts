/**
 * A PyTorch state_dict (from a `.pth` file, lib/io/pth.ts) matched to a model's parameters by
 * name, as `model.load_state_dict(strict=True)` matches them (torch/nn/modules/module.py): every
 * parameter the model expects must be there with its shape, and the file may hold no tensor the
 * model lacks. The model is described by its parameters' names, layers and shapes, so this file
 * knows no model class; for torchvision's AlexNet the names are `features.0.weight` ...
 * `classifier.6.bias` (lib/nn/architecture.ts, the torchvision preset), the layouts already
 * ours (conv OIHW, fc (out, in), fc6's inputs in C, H, W order), so nothing is permuted.
 */
import { AlexNetError } from '../errors';
import type { NamedArray } from './safetensors';

/** What the matching needs to know about one of the model's parameters. */
export interface StateDictParam {
  /** Its state_dict name, e.g. `features.0.weight`. */
  readonly name: string;
  /** Its layer, e.g. `conv1`: what `skip` names. */
  readonly layer: string;
  readonly shape: readonly number[];
}

/**
 * The tensors of `tensors` (read from `file`) for the parameters of layers not in `skip`, each
 * checked; throws an AlexNetError naming the file and the tensor that is missing, misshapen or
 * unexpected.
 */
export function matchStateDict(
  tensors: Record<string, NamedArray>,
  file: string,
  params: readonly StateDictParam[],
  skip: readonly string[] = [],
): Record<string, NamedArray> {
  const expected = new Set(params.map((p) => p.name));
  const unexpected = Object.keys(tensors).filter((name) => !expected.has(name));
  if (unexpected.length > 0) {
    throw new AlexNetError(
      `${file} holds tensors this model does not have (${listed(unexpected)}); ` +
        `it expects ${listed([...expected])}`,
    );
  }
  const out: Record<string, NamedArray> = {};
  for (const p of params) {
    if (skip.includes(p.layer)) continue;
    const tensor = tensors[p.name];
    if (!tensor) {
      throw new AlexNetError(
        `${file} has no tensor ${p.name} (it holds ${listed(Object.keys(tensors))})`,
      );
    }
    if (tensor.shape.join() !== p.shape.join()) {
      const hint =
        p.layer === 'fc8' ? " (a different number of classes? load with { skip: ['fc8'] })" : '';
      throw new AlexNetError(
        `${file}: ${p.name} has shape [${tensor.shape.join(', ')}] but the model expects ` +
          `[${p.shape.join(', ')}]${hint}`,
      );
    }
    out[p.name] = tensor;
  }
  return out;
}

/**
 * The output width of each named weight (its first dimension) in `tensors`, in the order of
 * `weightNames`: what a model must be built with to take the file.
 */
export function outputWidths(
  tensors: Record<string, NamedArray>,
  file: string,
  weightNames: readonly string[],
): number[] {
  return weightNames.map((name) => {
    const tensor = tensors[name];
    if (!tensor || tensor.shape.length === 0) {
      throw new AlexNetError(
        `${file} is not a state_dict of torchvision's AlexNet: it has no ${name} ` +
          `(it holds ${listed(Object.keys(tensors))})`,
      );
    }
    return tensor.shape[0];
  });
}

/** Names for a message: the first few and how many more. */
function listed(names: readonly string[]): string {
  if (names.length === 0) return 'none';
  const shown = names.slice(0, 6).join(', ');
  return names.length > 6 ? `${shown} and ${names.length - 6} more` : shown;
}
