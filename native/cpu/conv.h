// 2-D convolution (cross-correlation, as in Caffe and cuDNN) for the CPU backend: forward,
// backward-data and backward-filter, with groups, through im2col + Sgemm per group, or where
// conv_direct.h says so (ConvDirectForwardFits, ConvDirectBackwardDataFits) its direct kernels,
// and a strided backward-data pass by phases where conv_phases.h says so (conv1's).
//
// Layouts: x (n, c, h, w), w (k, c / groups, kh, kw) (OIHW), y (n, k, out_h, out_w), all dense.
// Group g maps input channels [g * c/groups, (g+1) * c/groups) to output channels
// [g * k/groups, (g+1) * k/groups), as in Caffe's convolution layer (Krizhevsky et al. 2012,
// section 3.2: the two-GPU split of conv2, conv4 and conv5).
//
// Several images share one im2col buffer when an image has few output positions, so that each
// GEMM has at least kTargetColumns columns where the batch allows (conv.cc): packing the weights
// is then amortised over several images and the micro-kernel runs on long rows. The caller passes
// the scratch, sized by ConvScratchSize (ThreadScratch keeps one), so nothing is allocated per
// call. The im2col backward-data pass instead computes its column matrix a block of output rows
// at a time, each thread its own, and sums it into dx while it is in cache.
#pragma once

#include <cstdint>

#include "core/shapes.h"

namespace alexnet::cpu {

struct GemmEpilogue;

// Floats of scratch the three passes below need for `shape`.
int64_t ConvScratchSize(const ConvShape& shape);

// At least `floats` of scratch owned by the calling thread, shared by every convolution it runs.
// An environment's ops run one at a time on its executor thread (core/executor.h), so each layer
// writes memory the previous one has just used, still in cache; a buffer per layer was cold by
// the next forward pass, the fully connected layers' weights having streamed through the caches
// since. It grows to the largest need and is kept.
float* ThreadScratch(int64_t floats);

// y = conv(x, w); overwrites y. An epilogue (gemm.h) with a row bias of k floats adds the bias
// per output channel, and with relu clamps at 0, as each block of y is computed. With
// packed_weights (ConvPackWeights of w), w is not read and the weights are not packed again.
void ConvForward(const ConvShape& shape, const float* x, const float* w, float* y, float* scratch,
                 const GemmEpilogue* epilogue = nullptr, const float* packed_weights = nullptr);

// Floats of the forward's packed weights, and w packed into them, for a caller that keeps them
// while w is unchanged (bindings/conv.cc: a plan's forward packs them once per weight change).
int64_t ConvPackedWeightsSize(const ConvShape& shape);
void ConvPackWeights(const ConvShape& shape, const float* w, float* packed);

// dx = the adjoint of the forward in x, applied to dy; overwrites dx.
void ConvBackwardData(const ConvShape& shape, const float* w, const float* dy, float* dx,
                      float* scratch);

// dw = the gradient of sum(dy * conv(x, w)) in w, summed over the batch; overwrites dw.
void ConvBackwardFilter(const ConvShape& shape, const float* x, const float* dy, float* dw,
                        float* scratch);

}  // namespace alexnet::cpu
