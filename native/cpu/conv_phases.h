// The backward-data pass of a strided convolution of few input channels (AlexNet's conv1: 3
// channels, 11x11, stride 4) by phases, with no column matrix. Input pixel (y, x) = (s_h i + p_h,
// s_w j + p_w) receives filter rows p_h + s_h a and columns p_w + s_w b only, from dy at (i - a,
// j - b): each of the s_h x s_w phases of dx is a stride-1 "full" convolution of dy with a
// filter of ceil((kh - p_h) / s_h) x ceil((kw - p_w) / s_w) taps. The kernels (conv_kernel.h's
// ConvPhaseArgs) vectorise over a phase plane's pixels, up to kPhaseChannels input channels at
// once; dy is copied with a zero border into rows as long as a phase plane's, a band of rows at a
// time, so that the plane's pixels run on from one row into the next. Each band's planes are then
// interleaved into dx's rows.
//
// Through im2col + GEMM this pass spent a tenth of its time summing the column matrix into dx,
// and computed 372 rows of it for conv1's 363 (bench/RESULTS.md).
//
// Each element of dx is summed over (output channel, filter row, filter column) in that order by
// one kernel call, whichever thread runs it, so results do not depend on the thread count.
#pragma once

#include <cstdint>

#include "core/shapes.h"

namespace alexnet::cpu {

// Whether the backward-data pass of `shape` runs here: one group, no padding, strides above 1 and
// at most the filter's size, which the input's last filter reaches exactly (h - kh and w - kw
// multiples of them), at most 3 taps per phase and dimension, at most kPhaseChannels input
// channels, and kernels for the instruction set (AVX-512 and AVX2); not where
// ALEXNET_CONV_ALGO=im2col.
bool ConvPhasesBackwardDataFits(const ConvShape& shape);

// Floats of scratch ConvPhasesBackwardData needs: the weights reordered by phase, and each
// thread's band of dy and band of dx's phase planes.
int64_t ConvPhasesScratchSize(const ConvShape& shape);

// dx = the adjoint of the forward in x, applied to dy; overwrites dx. Needs
// ConvPhasesBackwardDataFits(shape).
void ConvPhasesBackwardData(const ConvShape& shape, const float* w, const float* dy, float* dx,
                            float* scratch);

}  // namespace alexnet::cpu
