// Winograd F(4x4, 3x3) forward convolution for the CPU backend (Lavin and Gray, "Fast Algorithms
// for Convolutional Neural Networks", 2016): each 4x4 tile of the output is computed from a 6x6
// tile of the input with 36 multiplications per (input, output) channel pair where the direct
// convolution takes 144, so conv3-conv5 (3x3, stride 1) need a quarter of the multiply-adds, in
// 36 GEMMs of (output channels x input channels) by (input channels x tiles).
//
// Opt-in only, never the default: ALEXNET_CONV_ALGO=winograd. The transforms multiply and add
// values up to 100 times the input's and the filter's scale before the GEMM sums them, so
// float32 rounding leaves a larger error than the direct convolution's (measured against the
// float64 reference in test/conv-winograd.test.ts and stated in the README). Forward only: the
// backward passes keep the algorithms conv_direct.h picks.
//
// Layouts and groups as in conv.h. Every output is computed by one fixed sequence of float
// operations (transforms per tile, GEMMs whose sums do not depend on the threads), so results do
// not depend on the thread count.
#pragma once

#include <cstdint>

#include "core/shapes.h"

namespace alexnet::cpu {

struct GemmEpilogue;

// Whether the forward of `shape` runs here: ALEXNET_CONV_ALGO=winograd, and a 3x3 filter with
// stride 1.
bool ConvWinogradForwardFits(const ConvShape& shape);

// Floats of the transformed weights (36 packed GEMM operands per group), and w transformed into
// them (the transform in double, each value rounded once).
int64_t ConvWinogradWeightsSize(const ConvShape& shape);
void ConvWinogradPackWeights(const ConvShape& shape, const float* w, float* packed);

// Floats of scratch the forward needs: the transformed input and the GEMMs' products of a chunk
// of images.
int64_t ConvWinogradScratchSize(const ConvShape& shape);

// y = conv(x, w), then the epilogue's bias and ReLU (gemm.h: its row bias per output channel),
// from weights transformed by ConvWinogradPackWeights; overwrites y.
void ConvWinogradForward(const ConvShape& shape, const float* x, const float* packed, float* y,
                         float* scratch, const GemmEpilogue* epilogue);

}  // namespace alexnet::cpu
