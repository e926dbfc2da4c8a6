// ReLU for the CPU backend, element-wise over a flat buffer (Krizhevsky et al. 2012 §3.1).
#pragma once

#include <cstdint>

namespace alexnet::cpu {

// y = max(x, 0) over count elements; y may be x (in place). NaN propagates, as in PyTorch.
void ReluForward(const float* x, float* y, int64_t count);

// dx = dy where y > 0, else 0: the mask cuDNN's activation backward takes from y. dx may be dy.
void ReluBackward(const float* y, const float* dy, float* dx, int64_t count);

}  // namespace alexnet::cpu
