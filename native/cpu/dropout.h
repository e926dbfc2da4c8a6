// Inverted dropout (Srivastava et al., "Dropout: a simple way to prevent neural networks from
// overfitting", JMLR 2014): during training each element is kept with probability 1 - p and
// scaled by 1 / (1 - p), so inference needs no rescaling.
//
// The mask is never stored: element i is kept when its Philox uniform (core/philox.h, key
// (seed, layer), step `step`) is >= p, and backward draws the same uniforms again. Element i of a
// tensor is element `offset + i` of the mask: a data-parallel rank holding rows r.. of the global
// batch passes r times the row size, so its rows get the masks one process would draw for them.
#pragma once

#include <cstdint>

#include "core/shapes.h"

namespace alexnet::cpu {

// y = x * mask / (1 - p) over n elements; p = 0 copies. x and y may alias.
void DropoutForward(const float* x, float* y, int64_t n, const DropoutKey& key);

// dx = dy * mask / (1 - p), with the mask of DropoutForward for the same key.
void DropoutBackward(const float* dy, float* dx, int64_t n, const DropoutKey& key);

}  // namespace alexnet::cpu
