// Per-channel bias of conv and fully connected layers for the CPU backend, over tensors of shape
// (n, c, spatial...) seen as n x c rows of `spatial` floats; FC outputs (n, c) have spatial 1.
#pragma once

#include <cstdint>

namespace alexnet::cpu {

// y[i, j, s] += b[j], in place.
void BiasForward(int64_t n, int64_t c, int64_t spatial, float* y, const float* b);

// db[j] = sum over i and s of dy[i, j, s]; overwrites db.
void BiasBackward(int64_t n, int64_t c, int64_t spatial, const float* dy, float* db);

// The backward of a layer whose forward added the bias and applied ReLU (a GEMM epilogue,
// gemm.h): dy = 0 where the output y is not positive (in place), then, where db is not null,
// db as BiasBackward sums it. One pass over dy instead of ReluBackward's and BiasBackward's two,
// with the same float operations in the same order, so bit-identical to them.
void ReluBiasBackward(int64_t n, int64_t c, int64_t spatial, const float* y, float* dy, float* db);

}  // namespace alexnet::cpu
