// The interface between the direct convolution's driver (conv_direct.cc) and its per-ISA
// register-blocked kernels (conv_kernel.inc, compiled once per instruction set like the GEMM's),
// which also hold the im2col backward-data pass's sums into dx (conv.cc).
//
// The kernels vectorise over output channels: a block of VW output channels (16 with AVX-512, 8
// with AVX2, 4 with the generic 128-bit vectors) is one vector, and a kernel keeps up to
// kMaxWidth output pixels x OB blocks of them in registers, broadcasting one input value per
// pixel against the weight vector of each block (the scheme of oneDNN's and MLAS's direct
// convolutions on their nChw16c / NCHWc layouts).
#pragma once

#include <cstdint>

namespace alexnet::cpu {

// One call: `width` consecutive output pixels of one output row, for OB blocks of VW output
// channels, summed over every input channel and the taps of kh filter rows.
struct ConvRowArgs {
  // The input (planes with their zero border, or without one for the edge kernels below; rows
  // x_row floats apart, planes x_channel apart) at the first pixel's first tap summed; pixel r
  // reads from r * x_step further on.
  const float* x;
  int64_t x_channel;
  int64_t x_row;
  int x_step;
  int channels;  // input channels summed over
  int kh, kw;    // filter rows summed, and filter columns
  // The first block's weights at the first tap summed: (channels, filter rows, kw, VW) floats,
  // the channels w_channel floats apart, the next block w_block further on. The kh filter rows
  // summed may be a run of the filter's (those whose input rows are not all padding).
  const float* w;
  int64_t w_channel;
  int64_t w_block;
  // For the kernels of a piece that runs on into the next output row (ConvKernel::wrapped):
  // how much further on in x than the row's next pixel would be the next row's first pixel reads.
  int64_t x_wrap;
  // Output channel (first block, lane 0) at pixel 0 of y; channels y_channel floats apart, the
  // next pixel 1 float on, the next row's first too where a piece runs on. Only the first
  // `valid` of the OB x VW channels are written.
  float* y;
  int64_t y_channel;
  int valid;
  // The epilogue: bias per written channel (null for none) added, then max(., 0) with relu,
  // the float operations of cpu::BiasForward then cpu::ReluForward.
  const float* bias;
  bool relu;
};

using ConvRowFn = void (*)(const ConvRowArgs& args);

// One call of the backward-filter kernel: the weight gradient of one block of VW output channels
// for NC input channels x KW filter columns of one filter row, summed over every output pixel of
// `images` images. The input is reordered so that the NC channels of a pixel are adjacent
// ((row, column, channel), zero-padded), which makes the NC x KW values a pixel multiplies
// constant offsets from one pointer; dy is blocked ((row, column, lane) per block).
struct ConvFilterArgs {
  // The input of the first image at its first output pixel's top-left tap (of this filter row),
  // channel 0 of the NC; the next image x_image further on, the next output row x_row, the next
  // pixel x_pixel.
  const float* x;
  int64_t x_image;
  int64_t x_row;
  int x_pixel;
  // dy of the block for the first image, the next image dy_image further on.
  const float* dy;
  int64_t dy_image;
  int images, rows, columns;  // images, and output rows and columns per image
  // The input columns that are zero border, counted from the first pixel's tap 0, a pixel
  // `stride` columns on from the last: those before `left` and from `right` on. The products of
  // taps falling there are zeros, and may be skipped.
  int stride, left, right;
  // The gradient of output channel (lane 0), input channel 0, tap 0 of the KW; lanes dw_lane
  // apart, channels dw_channel apart, taps 1 apart. The first `lanes` lanes and `channels`
  // channels are written, added to what is there with accumulate.
  float* dw;
  int64_t dw_lane;
  int64_t dw_channel;
  int lanes;
  int channels;
  bool accumulate;
};

using ConvFilterFn = void (*)(const ConvFilterArgs& args);

// The reorders of the backward-filter pass: `count` planes of `pixels` floats each (`plane`
// floats apart, a plane's rows of `row` pixels one after another) written as one group of
// `width` floats per pixel, the planes' values at that pixel then zeros up to width; pixel p's
// group at dst + (p / row) * dst_row + (p % row) * width. Blocks of VW pixels are transposed in
// registers where width divides VW (with AVX-512, each row's last pixels too, by masked loads and
// stores); other widths a float at a time.
struct ConvInterleaveArgs {
  const float* src;
  int64_t plane;
  int count;
  int width;
  int pixels;
  int row;
  float* dst;
  int64_t dst_row;
};

using ConvInterleaveFn = void (*)(const ConvInterleaveArgs& args);

// The im2col backward-data pass's sums (conv.cc): the taps that output rows put on one row of
// dx, added to it. Output column oj puts tap kj on pixel oj * stride - pad + kj; each pixel
// receives its taps output row after output row, in the order given, kj ascending within one.
struct ConvRowTapsArgs {
  // For each of `count` output rows, the column matrix's row (channel, ki, kj = 0) at that output
  // row's first column, ki being the filter row it puts on this row of dx; tap kj's row kj * ld
  // floats on.
  const float* const* taps;
  int count;
  int64_t ld;
  int kw, stride, pad;
  int w, out_w;  // pixels of a row of dx, and output columns
  // The row of dx, or with stride > 1 its pixels sorted by phase: pixel q * stride + px at px *
  // phase_width + q.
  float* acc;
  int64_t phase_width;
};

using ConvRowTapsFn = void (*)(const ConvRowTapsArgs& args);

// One call of the strided backward-data pass by phases (conv_phases.h): pixels of one phase
// plane of dx, a run of whole vectors, for kPhaseChannels input channels, each summed over every
// output channel of the forward (k) and the phase's A x B taps, k by k, then a, then b. The
// kernels vectorise over the plane's pixels, which lie a row after another, and broadcast the
// weights. The plane's rows and dy's are one padded row (`row` floats) apart, so that pixel f of
// the run reads dy at f - a * row - b for tap (a, b), zeros included.
struct ConvPhaseArgs {
  // dy of output channel 0 at the run's first pixel for tap (0, 0); the next output channel
  // dy_channel floats on.
  const float* dy;
  int64_t dy_channel;
  int64_t row;
  int channels;  // output channels of the forward summed over
  // The phase's weights, (channels, A, B, kPhaseChannels).
  const float* w;
  // The run's first pixel in input channel 0's plane; the next input channel's dx_channel on.
  float* dx;
  int64_t dx_channel;
};

using ConvPhaseFn = void (*)(const ConvPhaseArgs& args);

struct ConvKernel {
  static constexpr int kMaxWidth = 16;
  // The input strides between pixels that kernels are compiled for, where the addresses of a
  // row's pixels are then constant offsets (1: conv2-conv5 and every backward-data pass; 4:
  // conv1); 0 stands for any other, read from x_step.
  static constexpr int kSteps[] = {0, 1, 4};
  static constexpr int kStepCount = 3;
  const char* isa;
  int vw;         // output channels per block
  int max_width;  // widest row piece, at most kMaxWidth
  // row[step][ob - 1][width - 1]: the kernel for x_step kSteps[step] (any, for 0), OB = ob (1
  // or 2) blocks and `width` pixels.
  ConvRowFn row[kStepCount][2][kMaxWidth];
  // The filter widths the backward-filter kernels are compiled for; 1 also serves any other
  // width, one filter column at a time.
  static constexpr int kFilterWidths[] = {1, 3, 5, 11};
  static constexpr int kFilterWidthCount = 4;
  static constexpr int kMaxFilterChannels = 16;
  // filter[width][nc - 1]: the kernel for KW = kFilterWidths[width] and NC = nc channels, nc up
  // to filter_channels[width] (NC x KW accumulators, as many as the registers hold).
  int filter_channels[kFilterWidthCount];
  ConvFilterFn filter[kFilterWidthCount][kMaxFilterChannels];
  ConvInterleaveFn interleave;
  ConvRowTapsFn add_row_taps;
  // wrapped[ob - 1][width - 1][wrap]: the stride-1 kernels for OB = ob blocks and `width` pixels
  // whose pixels from `wrap` on (1 to width - 1) are the next output row's first, x_wrap floats
  // further on in the input; null where the instruction set has none. With them a plane's
  // output rows run as one line of pixels, cut into pieces of max_width whatever the row's
  // length.
  ConvRowFn wrapped[2][kMaxWidth][kMaxWidth];
  // Row kernels for stride 1 that read no zero border, so that the input is read in place
  // rather than copied with one: tap j of pixel r is skipped where it falls left of the input
  // row (r + j < L) or right of it ((width - 1 - r) + (kw - 1 - j) < R), and args.x is where
  // pixel 0's tap 0 would be. edge[kw][ob - 1][width - edge_width][L][R], kw
  // kEdgeFilterWidths[kw], for the widths edge_width and edge_width + 1 (the pieces of
  // AlexNet's 13- and 27-pixel rows); edge_width is 0 where an instruction set has none.
  static constexpr int kEdgeFilterWidths[] = {3, 5};
  static constexpr int kEdgeFilterWidthCount = 2;
  static constexpr int kEdgeMaxPad = 2;
  int edge_width;
  ConvRowFn edge[kEdgeFilterWidthCount][2][2][kEdgeMaxPad + 1][kEdgeMaxPad + 1];
  // The wrapped kernels' twins that skip the taps falling in the zero border's columns, for
  // padding (kw - 1) / 2 on both sides, still reading the bordered copy: pixel D of the piece is
  // the first of an output row (D <= 0: pixel 0 is column -D of its row; D >= width: the last
  // pixel is D - width columns before its row's last), D from 1 - pad to width + pad - 1, the
  // boundaries that put a tap in the border, at wrapped_edge[kw][ob - 1][width -
  // wrapped_edge_width][D + kEdgeMaxPad - 1], for the widths wrapped_edge_width and
  // wrapped_edge_width + 1 (0 where an instruction set has none).
  static constexpr int kBoundaryCount = kMaxWidth + 2 * kEdgeMaxPad - 1;
  int wrapped_edge_width;
  ConvRowFn wrapped_edge[kEdgeFilterWidthCount][2][2][kBoundaryCount];
  // phase[a - 1][b - 1][0]: the backward-data kernel by phases for A = a filter rows and B = b
  // filter columns in the phase, over phase_vectors vectors of pixels; [1] over one vector.
  // kPhaseChannels x phase_vectors accumulators, as many as the registers hold beside the
  // channels' weights and one vector of dy. phase_vectors is 0 where an instruction set has none.
  static constexpr int kPhaseChannels = 3;
  static constexpr int kMaxPhaseTaps = 3;
  int phase_vectors;
  ConvPhaseFn phase[kMaxPhaseTaps][kMaxPhaseTaps][2];
};

// The kernels of the GEMM's instruction set (gemm.h's GemmIsa: picked from the CPU, or
// ALEXNET_GEMM_ISA), so that forcing a lesser one for tests forces both (conv_direct.cc).
const ConvKernel& SelectedConvKernel();

namespace conv_generic {
extern const ConvKernel kKernel;
}
#if defined(ALEXNET_GEMM_X86)
namespace conv_avx2 {
extern const ConvKernel kKernel;
}
namespace conv_avx512 {
extern const ConvKernel kKernel;
}
#endif

}  // namespace alexnet::cpu
