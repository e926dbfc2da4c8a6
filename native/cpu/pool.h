// Max pooling for the CPU backend: square windows of `kernel` positions, moved by `stride`, over
// an input padded by `pad` positions of -infinity on every side (AlexNet: 3x3, stride 2, the
// overlapping pooling of Krizhevsky et al. 2012 §3.4).
#pragma once

#include <cstdint>

#include "core/shapes.h"

namespace alexnet::cpu {

// floor((in + 2 * pad - kernel) / stride) + 1, PyTorch's default (ceil_mode=False). Caffe rounds
// up instead; the two agree on AlexNet's shapes 55 -> 27, 27 -> 13 and 13 -> 6, where the
// division is exact. Requires kernel <= in + 2 * pad.
int PoolOutputSize(int in, int kernel, int stride, int pad);

// The shape with oh and ow filled in.
PoolShape MakePoolShape(int n, int c, int h, int w, int kernel, int stride, int pad);

// y (n, c, oh, ow) = the maximum of each window of x (n, c, h, w).
void MaxPoolForward(const PoolShape& shape, const float* x, float* y);

// MaxPoolForward of one (h, w) plane into one (oh, ow) plane, on the calling thread.
void MaxPoolPlane(const PoolShape& shape, const float* x, float* y);

// dx = 0, then each dy is added at its window's argmax: the first element, in row-major scan
// order, equal to the window's y (the first maximum, as the forward pass found it), so no indices
// are stored, as in cuDNN's signature. Overlapping windows accumulate. dx must not alias x, y or
// dy.
void MaxPoolBackward(const PoolShape& shape, const float* x, const float* y, const float* dy,
                     float* dx);

// An argmax entry of a window with no element equal to its maximum (all NaN): no gradient.
constexpr uint8_t kNoArgmax = 255;

// MaxPoolForward (the same y), also keeping each window's argmax as MaxPoolBackward defines it,
// as its offset in the unclipped window, (iy - top) * kernel + (ix - left), in `argmax`
// (n, c, oh, ow): the backward then reads it instead of searching each window again. Requires
// kernel * kernel < kNoArgmax.
void MaxPoolForwardArgmax(const PoolShape& shape, const float* x, float* y, uint8_t* argmax);

// MaxPoolBackward from the argmax MaxPoolForwardArgmax kept: the same dx, bit for bit.
void MaxPoolBackwardArgmax(const PoolShape& shape, const uint8_t* argmax, const float* dy,
                           float* dx);

}  // namespace alexnet::cpu
