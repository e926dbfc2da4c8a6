// Whether the CUDA backend keeps to algorithms that give bitwise the same result on every run.
//
// By default it does: convolutions use only the cudnnFind* results marked CUDNN_DETERMINISTIC
// (conv.cc) and max pooling uses CUDNN_POOLING_MAX_DETERMINISTIC (pool.cc), so a step repeated on
// the same device and inputs gives the same bits, which exact resume and 1 rank = N ranks rely
// on. ALEXNET_CUDNN_DETERMINISTIC=0 allows the others too (faster on some shapes; the results then
// vary in the last bits from run to run). Either way float32 stays float32: no TF32 tensor cores.
#pragma once

namespace alexnet::cuda {

// Read from ALEXNET_CUDNN_DETERMINISTIC once per process: false only when it is "0".
bool DeterministicOnly();

}  // namespace alexnet::cuda
