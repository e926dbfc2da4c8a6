/**
 * What a weights file means for a model beyond its tensors: a checkpoint brings its class names
 * and preprocessing; bvlc_alexnet.npy and torchvision's .pth bring the input convention their
 * weights were trained with (Caffe's, torchvision's) and, with a 1000-way fc8, ImageNet's
 * classes; and a .pth file's widths say which torchvision-preset model to build for it.
 */
import { AlexNetError } from '../errors';
import { type CheckpointModel, loadWeights } from '../io/checkpoint';
import { imagenetClasses } from '../io/imagenet';
import type { WeightsFile } from '../io/model-file';
import type { Normalisation, ResizeSetting } from '../io/preprocessing';
import type { NamedArray } from '../io/safetensors';
import { outputWidths } from '../io/state-dict';
import { LAYERS, type LayerName, widthScaleOf } from './architecture';
import { presetInput } from './preset-input';

/** What adopting a file changes in a model (AlexNet is one). */
export interface WeightsHolder extends CheckpointModel {
  classNames: readonly string[];
  normalisation: Normalisation;
  resize: ResizeSetting;
}

/** Copies a file's weights into `net` (but the layers in `skip`), with what they imply. */
export function adoptWeights(net: WeightsHolder, read: WeightsFile, skip: readonly LayerName[]) {
  const source = read.format === 'checkpoint' ? read.checkpoint.file : `${read.format} weights`;
  loadWeights(net, read.weights, source, skip);
  if (read.format === 'checkpoint') {
    const { model } = read.checkpoint;
    if (!skip.includes('fc8')) net.classNames = model.classNames;
    net.normalisation = model.normalisation;
    if (model.resize) net.resize = model.resize;
    return;
  }
  const preset = read.format === 'bvlc' ? 'bvlc' : 'torchvision';
  ({ normalisation: net.normalisation, resize: net.resize } = presetInput(
    preset,
    net.arch.inputSize,
  ));
  if (!skip.includes('fc8') && net.arch.classes === 1000) net.classNames = imagenetClasses();
}

/** The torchvision-preset model a .pth state_dict fits: its width scale and classes. */
export function pthShape(
  file: string,
  tensors: Record<string, NamedArray>,
): { widthScale: number; classes: number } {
  const names = LAYERS.torchvision.flatMap((l) =>
    l.kind === 'conv' || l.kind === 'fc' ? [`${l.stateName}.weight`] : [],
  );
  const widths = outputWidths(tensors, file, names);
  const widthScale = widthScaleOf('torchvision', widths.slice(0, -1));
  if (widthScale === null) {
    throw new AlexNetError(
      `${file}: widths ${widths.slice(0, -1).join('/')} are not torchvision's AlexNet's ` +
        '(64/192/384/256/256/4096/4096) at any scale',
    );
  }
  return { widthScale, classes: widths[widths.length - 1] };
}
