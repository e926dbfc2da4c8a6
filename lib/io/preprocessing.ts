/**
 * How a model's inputs are prepared from images, as a checkpoint records it so that prediction
 * preprocesses as training did: the resize before the centre crop, and the per-channel
 * normalisation. The data pipeline (lib/data) applies these settings; they live here, below it,
 * because the checkpoint format stores them.
 */

/** How images become network inputs: value = (pixel - mean) * scale per RGB channel. */
export interface Normalisation {
  mean: readonly [number, number, number];
  scale: readonly [number, number, number];
  /** Channel order BGR (Caffe's, for the bvlc weights). */
  bgr: boolean;
}

export type ResizePolicy = 'stretch' | 'shorter';

export const RESIZE_POLICIES: readonly ResizePolicy[] = ['stretch', 'shorter'];

/** How images are resized before the centre crop of `inputSize` (train validation and predict). */
export interface ResizeSetting {
  /** 'stretch' to size x size, or 'shorter' side to size and the centre square. */
  policy: ResizePolicy;
  /** The side of the resized image, at least the input size. */
  size: number;
}
