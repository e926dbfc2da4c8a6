// Local response normalisation across channels for the CPU backend (Krizhevsky et al. 2012
// §3.3), in the Caffe / cuDNN form whose alpha is divided by the window size:
//
//   scale_c = k + (alpha / size) * sum_{c' = c - size/2 .. c + size/2, 0 <= c' < C} x_{c'}^2
//   y_c     = x_c * scale_c^(-beta)
//
// and its gradient (differentiate y_{c'} for every c' whose window holds c; windows are
// symmetric, so those c' are the window of c):
//
//   dx_c = dy_c * scale_c^(-beta)
//          - (2 * alpha * beta / size) * x_c * sum_{c' in window of c} dy_{c'} * y_{c'} /
//          scale_{c'}
//
// The paper's alpha is not divided by size; Caffe's lrn_layer and cuDNN's cudnnLRNCrossChannel*
// divide it, and bvlc_alexnet.npy was trained that way, so alpha here is the Caffe/cuDNN one.
#pragma once

#include "core/shapes.h"

namespace alexnet::cpu {

// y = LRN(x) over an (n, c, h, w) tensor; y must not be x.
void LrnForward(const LrnShape& shape, const float* x, float* y);

// y = max pooling (`pool`, over LRN's output shape) of LRN(x), with LRN(x) held a plane at a
// time by each thread rather than written out: bit for bit what LrnForward then MaxPoolForward
// give, with a third of the memory traffic (inference needs no LRN output for a backward).
void LrnMaxPoolForward(const LrnShape& shape, const PoolShape& pool, const float* x, float* y);

// dx from x, y = LRN(x) and dy, recomputing the scale as cuDNN does (no stored state). dx may
// be dy or y, not x.
void LrnBackward(const LrnShape& shape, const float* x, const float* y, const float* dy, float* dx);

}  // namespace alexnet::cpu
