// The batch augmentation of Krizhevsky et al. (2012, §4.1), fused into one pass from the uint8
// image cache to the network's float input: a crop at a given offset, an optional horizontal
// mirror, the PCA colour shift (added per image and channel), mean subtraction, a per-channel
// scale, and the channel order the weights expect (RGB, or BGR for Caffe's bvlc weights).
//
// The random choices (offsets, mirror flags, shifts) are made by the caller, so this op is
// deterministic and the two backends agree exactly.
#pragma once

#include <cstdint>

#include "core/shapes.h"

namespace alexnet::cpu {

// images: count x height x width x 3 (HWC, RGB), contiguous. out: count x 3 x out_height x
// out_width (NCHW). out[i][oc][y][x] = (pixel + rgb_shift[3i + c] - mean[c]) * scale[c], where c is
// the source channel of output channel oc and the pixel is at (crop_y + y, crop_x + x), or at
// column crop_x + out_width - 1 - x when mirrored.
void Augment(const uint8_t* images, float* out, const AugmentParams& params);

}  // namespace alexnet::cpu
