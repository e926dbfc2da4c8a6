/**
 * How images become inputs for a preset's weights, and how they are resized first: Caffe's
 * (bvlc: BGR, 0-255, mean subtracted; stretched to 256 for a 227 input), torchvision's (RGB
 * scaled to 0-1, normalised by ImageNet's mean and std; shorter side to 256 then the centre, as
 * its transforms.Resize(256) and CenterCrop(224)), or none (the paper preset: raw RGB 0-255).
 */
import { storedSize } from '../data/resize';
import type { Normalisation, ResizeSetting } from '../io/preprocessing';
import { BVLC_INPUT, IMAGENET_MEAN, IMAGENET_STD, type Preset } from './architecture';

export function presetInput(
  preset: Preset,
  inputSize: number,
): { normalisation: Normalisation; resize: ResizeSetting } {
  if (preset === 'torchvision') {
    const channel = (c: number) => [255 * IMAGENET_MEAN[c], 1 / (255 * IMAGENET_STD[c])];
    const [[r, rs], [g, gs], [b, bs]] = [0, 1, 2].map(channel);
    return {
      normalisation: { mean: [r, g, b], scale: [rs, gs, bs], bgr: false },
      resize: { policy: 'shorter', size: Math.round((inputSize * 256) / 224) },
    };
  }
  const resize: ResizeSetting = { policy: 'stretch', size: storedSize(inputSize) };
  return preset === 'bvlc'
    ? { normalisation: BVLC_INPUT, resize }
    : { normalisation: { mean: [0, 0, 0], scale: [1, 1, 1], bgr: false }, resize };
}
