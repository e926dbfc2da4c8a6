// The op set on a CUDA device, with the signatures of the CPU backend (native/cpu/*.h) plus the
// device index, on the same shape structs (core/shapes.h), so the N-API entry points
// (native/bindings) can dispatch on the tensors' device. Pointers are device memory unless named
// host_*. Every op is queued on the device's stream (context.h); the ops that return a value (loss,
// accuracy count) wait for it.
//
// Host-compiled: no CUDA headers. Kernels live in <op>.cu, cuDNN and cuBLAS calls in <op>.cc.
#pragma once

#include <cstdint>
#include <memory>

#include "core/shapes.h"
// The Adam update is one element function shared by both backends (host and device code).
#include "cpu/adam.h"

namespace alexnet::cuda {

// C = alpha op(A) op(B) + beta C, row-major, through cublasSgemm (gemm.cc).
void Sgemm(int device, bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a,
           int lda, const float* b, int ldb, float beta, float* c, int ldc);

// bias.cu: y[i, j, s] += b[j]; db[j] = sum over i, s of dy[i, j, s].
void BiasForward(int device, int64_t n, int64_t c, int64_t spatial, float* y, const float* b);
void BiasBackward(int device, int64_t n, int64_t c, int64_t spatial, const float* dy, float* db);

// relu.cu
void ReluForward(int device, const float* x, float* y, int64_t count);
void ReluBackward(int device, const float* y, const float* dy, float* dx, int64_t count);

// dropout.cu: the masks of cpu::DropoutForward, element for element.
void DropoutForward(int device, const float* x, float* y, int64_t n, const DropoutKey& key);
void DropoutBackward(int device, const float* dy, float* dx, int64_t n, const DropoutKey& key);

// softmax_xent.cu: labels are uploaded from the host array; the mean loss and the count are
// reduced on the device into *out (device memory), and nothing is copied back.
void SoftmaxCrossEntropy(int device, const float* logits, const int32_t* host_labels, int64_t n,
                         int64_t classes, int64_t divisor, float* dlogits, float* out);
void TopKCorrect(int device, const float* logits, const int32_t* host_labels, int64_t n,
                 int64_t classes, int64_t k, float* out);

// sgd.cu: cpu::SgdUpdate, `guard` in device memory.
void SgdUpdate(int device, float* param, const float* grad, float* velocity, int64_t n, float lr,
               float momentum, float weight_decay, const float* guard);

// adam.cu: cpu::AdamUpdate, `step` and `guard` in device memory.
void AdamUpdate(int device, float* param, const float* grad, float* exp_avg, float* exp_avg_sq,
                float* step, int64_t n, const cpu::AdamSettings& settings, const float* guard);

// augment.cu: the images and the per-image arrays of `params` are host memory, uploaded to the
// staging buffer; `out` is on the device.
void Augment(int device, const uint8_t* host_images, float* out, const AugmentParams& params);

// conv.cc: cuDNN descriptors and the algorithms chosen for one shape. The algorithms are found
// on the first call of each pass (cudnnFind*AlgorithmEx on the caller's buffers, within the
// workspace limit) and cached per shape in the context.
class ConvState;
std::shared_ptr<ConvState> CreateConvState(int device, const ConvShape& shape);
void ConvForward(ConvState& state, const float* x, const float* w, float* y);
void ConvBackwardData(ConvState& state, const float* w, const float* dy, float* dx);
void ConvBackwardFilter(ConvState& state, const float* x, const float* dy, float* dw);

// lrn.cc: cudnnLRNCrossChannel*, whose alpha is divided by the window size like the CPU's.
class LrnState;
std::shared_ptr<LrnState> CreateLrnState(int device, const LrnShape& shape);
void LrnForward(LrnState& state, const float* x, float* y);
void LrnBackward(LrnState& state, const float* x, const float* y, const float* dy, float* dx);

// pool.cc: cudnnPooling* in max mode.
class PoolState;
std::shared_ptr<PoolState> CreatePoolState(int device, const PoolShape& shape);
void MaxPoolForward(PoolState& state, const float* x, float* y);
void MaxPoolBackward(PoolState& state, const float* x, const float* y, const float* dy, float* dx);

}  // namespace alexnet::cuda
