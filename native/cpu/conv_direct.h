// Direct convolution for the CPU backend's forward pass, for the backward-data pass of a
// stride-1 convolution (the forward of dy with the filters transposed and flipped), and for the
// backward-filter pass: no im2col matrix, no GEMM. Output channels are blocked by the vector width
// (conv_kernel.h: 16 with AVX-512, 8 with AVX2, 4 generic) in both the weights, reordered once into
// (group, block, in-channel, kh, kw, lane) order, and the kernel's accumulators; each kernel call
// computes a piece of an output row for one or two blocks and writes it to y's NCHW planes, so
// the output needs no reorder. The input is read from planes with a zero border (a copy where
// the convolution pads, x itself where it does not), every pixel's value broadcast against the
// weight vectors.
//
// Layouts and groups as in conv.h. Each output element is summed over (channel, filter row,
// filter column) in that order by one kernel call, whichever thread runs it, so results do not
// depend on the thread count.
#pragma once

#include <cstdint>

#include "core/shapes.h"

namespace alexnet::cpu {

struct GemmEpilogue;

// Whether the forward of `shape` runs here rather than through im2col + GEMM: ALEXNET_CONV_ALGO
// ("direct" or "im2col") decides where set (for tests and benchmarks); otherwise the faster of
// the two for such shapes, as measured (conv_direct.cc).
bool ConvDirectForwardFits(const ConvShape& shape);
// The same for the backward-data pass (stride 1 and a padding below the filter size only), and
// for the backward-filter pass.
bool ConvDirectBackwardDataFits(const ConvShape& shape);
bool ConvDirectBackwardFilterFits(const ConvShape& shape);

// Floats of the forward's reordered weights, and w reordered into them from the buffer's first
// 64-byte boundary on: the forward must be given the same buffer (its address, not a copy).
int64_t ConvDirectWeightsSize(const ConvShape& shape);
void ConvDirectPackWeights(const ConvShape& shape, const float* w, float* packed);

// Floats of scratch the two passes below need (their padded input, and the backward-data pass's
// reordered weights).
int64_t ConvDirectScratchSize(const ConvShape& shape);

// y = conv(x, w), then the epilogue's bias and ReLU (gemm.h: its row bias per output channel),
// from weights reordered by ConvDirectPackWeights; overwrites y.
void ConvDirectForward(const ConvShape& shape, const float* x, const float* packed, float* y,
                       float* scratch, const GemmEpilogue* epilogue);

// dx = the adjoint of the forward in x, applied to dy; overwrites dx. Needs
// ConvDirectBackwardDataFits(shape).
void ConvDirectBackwardData(const ConvShape& shape, const float* w, const float* dy, float* dx,
                            float* scratch);

// dw = the gradient of sum(dy * conv(x, w)) in w, summed over the batch; overwrites dw. The
// kernels vectorise over the output channels of dy reordered into blocks, and broadcast x
// reordered into runs of adjacent channels; each gradient is summed over images, rows and
// columns in order by one kernel call per run of images, whichever thread runs it.
void ConvDirectBackwardFilter(const ConvShape& shape, const float* x, const float* dy, float* dw,
                              float* scratch);

// The instruction set of the kernels: "avx512", "avx2" or "generic", as the GEMM's.
const char* ConvDirectIsa();

}  // namespace alexnet::cpu
