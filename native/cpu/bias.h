// Per-channel bias of conv and fully connected layers for the CPU backend, over tensors of shape
// (n, c, spatial...) seen as n x c rows of `spatial` floats; FC outputs (n, c) have spatial 1.
#pragma once

#include <cstdint>

namespace alexnet::cpu {

// y[i, j, s] += b[j], in place.
void BiasForward(int64_t n, int64_t c, int64_t spatial, float* y, const float* b);

// db[j] = sum over i and s of dy[i, j, s]; overwrites db.
void BiasBackward(int64_t n, int64_t c, int64_t spatial, const float* dy, float* db);

}  // namespace alexnet::cpu
