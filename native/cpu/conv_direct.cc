#include "cpu/conv_direct.h"

#include <algorithm>
#include <cstdint>
#include <string_view>
#include <vector>

#include "cpu/aligned.h"
#include "cpu/conv_algorithm.h"
#include "cpu/conv_kernel.h"
#include "cpu/gemm.h"
#include "cpu/thread_pool.h"

namespace alexnet::cpu {

const ConvKernel& SelectedConvKernel() {
  static const ConvKernel& kernel = []() -> const ConvKernel& {
    const std::string_view isa = GemmIsa();
#if defined(ALEXNET_GEMM_X86)
    if (isa == "avx512") return conv_avx512::kKernel;
    if (isa == "avx2") return conv_avx2::kKernel;
#endif
    return conv_generic::kKernel;
  }();
  return kernel;
}

namespace {

// Images whose padded copies share the scratch at once: up to 4 MiB of them, half of what
// im2col needs for one image of conv2 (conv.cc).
constexpr int64_t kMaxPaddedFloats = int64_t{1} << 20;

// Images whose reordered input and dy share the scratch at once in the backward-filter pass: up
// to 8 MiB of them, about what im2col needs for one image of conv2 (conv.cc).
constexpr int64_t kMaxFilterFloats = int64_t{1} << 21;

// Floats of one group's inputs a tile of images holds: 512 KiB, half of a Zen 4 core's L2, the
// other half for a pair of blocks' weights (295 KiB for conv3).
constexpr int64_t kTileFloats = int64_t{1} << 17;

// The geometry of one direct convolution of `s`, with the kernels' block width.
struct Geometry {
  int vw;
  int cg, kg;  // input and output channels per group
  int blocks;  // blocks of vw output channels per group, the last zero-padded
  int pairs;   // kernel calls per group and pixel: two blocks each, the last maybe one
  int taps;    // kh * kw
  int hp, wp;  // input planes with their zero border
  int oh, ow;
  bool copy;             // whether the convolution pads: Run then reads a bordered copy, or
                         // x itself with kernels that skip the border (RowPlan)
  int64_t image_padded;  // floats of one image's bordered copy
  int64_t w_block;       // floats of one block's weights
  int64_t chunk;         // images per bordered copy
  int64_t tile;          // images whose inputs one pass of the weights sweeps (Run)

  explicit Geometry(const ConvShape& s) {
    vw = SelectedConvKernel().vw;
    cg = s.c / s.groups;
    kg = s.k / s.groups;
    blocks = (kg + vw - 1) / vw;
    pairs = (blocks + 1) / 2;
    taps = s.kh * s.kw;
    hp = s.h + 2 * s.pad_h;
    wp = s.w + 2 * s.pad_w;
    oh = s.out_h();
    ow = s.out_w();
    copy = s.pad_h != 0 || s.pad_w != 0;
    image_padded = static_cast<int64_t>(s.c) * hp * wp;
    w_block = static_cast<int64_t>(cg) * taps * vw;
    chunk = copy ? std::clamp<int64_t>(kMaxPaddedFloats / image_padded, 1, s.n) : s.n;
    tile = std::clamp<int64_t>(kTileFloats / (static_cast<int64_t>(cg) * hp * wp), 1, chunk);
  }

  int64_t WeightsSize(int groups) const { return groups * blocks * w_block; }
  int64_t PaddedSize() const { return copy ? chunk * image_padded : 0; }
};

// Fills the forward's reordered weights of `s` (group, block, in-channel, tap, lane) from w
// (output channel, input channel, tap); lanes past the group's last output channel are 0. A block
// is filled kPackChannels input channels at a time, and the block's part it writes stays in L1;
// w is read lane by lane, a short run of each lane's filter.
constexpr int kPackChannels = 16;

void PackBlocks(const ConvShape& s, const Geometry& d, const float* w, float* packed) {
  ParallelFor(s.groups * d.blocks, 1, [&](int64_t begin, int64_t end) {
    for (int64_t item = begin; item < end; ++item) {
      const int g = static_cast<int>(item / d.blocks);
      const int o0 = static_cast<int>(item % d.blocks) * d.vw;
      float* block = packed + item * d.w_block;
      const auto fill = [&](int lane, int c) {
        float* out = block + static_cast<int64_t>(c) * d.taps * d.vw + lane;
        if (o0 + lane >= d.kg) {
          for (int t = 0; t < d.taps; ++t) out[t * d.vw] = 0.0f;
        } else {
          const float* taps =
              w + ((static_cast<int64_t>(g) * d.kg + o0 + lane) * d.cg + c) * d.taps;
          for (int t = 0; t < d.taps; ++t) out[t * d.vw] = taps[t];
        }
      };
      for (int c0 = 0; c0 < d.cg; c0 += kPackChannels) {
        const int c1 = std::min(d.cg, c0 + kPackChannels);
        for (int lane = 0; lane < d.vw; ++lane) {
          for (int c = c0; c < c1; ++c) fill(lane, c);
        }
      }
    }
  });
}

// One channel's taps of the first `lanes` lanes of a block of kVw (the kernels' block width),
// flipped, for PackFlipped; the other lanes 0. The loop over a block's lanes unrolls: over a
// run-time count of lanes, the reorder took 19% of conv3's AVX2 backward-data pass at batch 1
// rather than 15% (bench/RESULTS.md).
template <int kVw>
void FlipTaps(const float* filters, int taps, int lanes, float* out) {
  for (int tap = 0; tap < taps; ++tap, out += kVw) {
    const float* in = filters + taps - 1 - tap;
    for (int lane = 0; lane < kVw; ++lane) out[lane] = lane < lanes ? in[lane * taps] : 0.0f;
  }
}

// Fills the reordered weights of the transposed convolution `t` (TransposedShape of the forward
// whose filters w are) in PackBlocks' layout. Its filter o is the forward's input channel o, its
// channel c the forward's output channel c, its tap the forward's taps - 1 - tap. w is read in
// its own order, one forward output channel c at a time, whose filters of every forward input
// channel (the lanes of all of t's blocks) are adjacent: 9 KiB of conv3's, in L1 while every
// block's part for c is written. Block by block, as PackBlocks reads, each block read conv3's w
// in runs of 288 bytes 9 KiB apart, and that took 27% of the AVX2 backward-data pass of conv3 at
// batch 1 (bench/RESULTS.md).
void PackFlipped(const ConvShape& t, const Geometry& d, const float* w, float* packed) {
  const auto flip = d.vw == 8 ? &FlipTaps<8> : d.vw == 16 ? &FlipTaps<16> : &FlipTaps<4>;
  ParallelFor(static_cast<int64_t>(t.groups) * d.cg, 1, [&](int64_t begin, int64_t end) {
    for (int64_t item = begin; item < end; ++item) {  // (group, channel c)
      const int g = static_cast<int>(item / d.cg);
      const int c = static_cast<int>(item % d.cg);
      const float* filters = w + item * d.kg * d.taps;  // the forward's (c, every input channel)
      for (int b = 0; b < d.blocks; ++b) {
        float* out = packed + (static_cast<int64_t>(g) * d.blocks + b) * d.w_block +
                     static_cast<int64_t>(c) * d.taps * d.vw;
        flip(filters + static_cast<int64_t>(b) * d.vw * d.taps, d.taps,
             std::min(d.vw, d.kg - b * d.vw), out);
      }
    }
  });
}

// Copies one plane of x into its bordered plane: pad_h zero rows, rows of pad_w zeros, the
// input row and pad_w zeros, then pad_h zero rows, written in order. Without loop distribution:
// GCC otherwise turns each run of copies or zeros into a memcpy or memset call, a few dozen
// calls per 13 x 13 plane of conv3-conv5 that took longer than the floats they move.
__attribute__((optimize("no-tree-loop-distribute-patterns"))) void PadPlane(const ConvShape& s,
                                                                            const Geometry& d,
                                                                            const float* src,
                                                                            float* dst) {
  const int64_t top = static_cast<int64_t>(s.pad_h) * d.wp;
  for (int64_t q = 0; q < top + s.pad_w; ++q) dst[q] = 0.0f;
  dst += top + s.pad_w;
  for (int i = 0; i < s.h; ++i, src += s.w) {
    for (int j = 0; j < s.w; ++j) dst[j] = src[j];
    dst += s.w;
    // The row's right border and the next one's left, or after the last row the bottom rows.
    const int64_t zeros = i + 1 < s.h ? 2 * s.pad_w : s.pad_w + top;
    for (int64_t q = 0; q < zeros; ++q) dst[q] = 0.0f;
    dst += zeros;
  }
}

// Copies `count` images of x into planes with a zero border of pad_h rows and pad_w columns.
void PadImages(const ConvShape& s, const Geometry& d, const float* x, int64_t count,
               float* padded) {
  const int64_t plane_in = static_cast<int64_t>(s.h) * s.w;
  const int64_t plane_out = static_cast<int64_t>(d.hp) * d.wp;
  ParallelFor(count * s.c, std::max<int64_t>(1, 4096 / plane_out), [&](int64_t begin, int64_t end) {
    for (int64_t item = begin; item < end; ++item) {
      PadPlane(s, d, x + item * plane_in, padded + item * plane_out);
    }
  });
}

// AVX2's way through a stride-1 plane (ConvKernel::wrapped): its oh x ow output pixels as one
// line cut into the fewest pieces of at most max_width pixels, as even as can be, pieces running
// on from one row into the next, so that nearly every piece keeps max_width pixels'
// accumulators whatever the rows' length. With AVX2, conv3-conv5's 13-pixel rows cut 5 + 4 + 4
// kept 8 to 10 of the 12 accumulators and ran at 74-78% of the one-thread peak
// (bench/RESULTS.md).
struct PlanePieces {
  int count;  // pieces of the plane

  // Whether the kernels have wrapped rows for this shape: stride 1, and rows at least max_width
  // long, so that no piece spans more than two rows.
  static bool Apply(const ConvShape& s, const Geometry& d, const ConvKernel& kernel) {
    return kernel.wrapped[1][kernel.max_width - 1][1] != nullptr && s.stride_w == 1 &&
           d.ow >= kernel.max_width;
  }

  PlanePieces(const Geometry& d, const ConvKernel& kernel)
      : count((d.oh * d.ow + kernel.max_width - 1) / kernel.max_width) {}

  // Piece k: its first pixel (row * ow + column) and its width.
  void Get(const Geometry& d, int k, int* start, int* width) const {
    const int length = d.oh * d.ow;
    const int base = length / count;
    const int longer = length % count;  // the first `longer` pieces have one pixel more
    *width = base + (k < longer ? 1 : 0);
    *start = k * base + std::min(k, longer);
  }
};

// The wrapped line's kernels that skip the taps falling in the border's columns
// (ConvKernel::wrapped_edge), where the kernel set has them for the filter width and the padding
// is (kw - 1) / 2 on both sides. Rows at least max_width + 2 pad - 1 pixels long, so that no
// piece has a tap in the border at both ends of a row.
class BoundaryKernels {
 public:
  BoundaryKernels(const ConvShape& s, const Geometry& d, const ConvKernel& kernel)
      : kernel_(kernel), pad_(s.pad_w), ow_(d.ow) {
    if (kernel.wrapped_edge_width == 0 || s.pad_w > ConvKernel::kEdgeMaxPad ||
        2 * s.pad_w + 1 != s.kw || d.ow < kernel.max_width + 2 * s.pad_w - 1) {
      return;
    }
    for (int i = 0; i < ConvKernel::kEdgeFilterWidthCount; ++i) {
      if (ConvKernel::kEdgeFilterWidths[i] == s.kw) kw_ = i;
    }
  }

  // The kernel of the piece of `width` pixels from column `col` of an output row, for `ob`
  // blocks; null where none of its taps falls in the border, or there is no such kernel.
  ConvRowFn Get(int col, int width, int ob) const {
    const int first = kernel_.wrapped_edge_width;
    if (kw_ < 0 || width < first || width > first + 1) return nullptr;
    const int left = ow_ - col;  // pixels left in the row
    int boundary;  // the piece's pixel that begins a row: D of ConvKernel::wrapped_edge
    if (left < width + pad_) {
      boundary = left;
    } else if (col < pad_) {
      boundary = -col;
    } else {
      return nullptr;
    }
    return kernel_.wrapped_edge[kw_][ob - 1][width - first][boundary + ConvKernel::kEdgeMaxPad - 1];
  }

 private:
  const ConvKernel& kernel_;
  int pad_;
  int ow_;
  int kw_ = -1;  // index in ConvKernel::kEdgeFilterWidths, -1 for none
};

// The filter rows [begin, end) of output row `row` whose input rows are not in the zero border:
// the others would add only products of zeros, which leave each sum's bits as they are.
struct FilterRows {
  int begin, end;
};

FilterRows RealFilterRows(const ConvShape& s, int row) {
  const int top = row * s.stride_h - s.pad_h;  // the input row of filter row 0
  const int begin = std::max(0, -top);
  return {begin, std::max(begin, std::min(s.kh, s.h - top))};
}

// One piece of an output row: its first pixel, its kernel for one and for two blocks, and the
// column of its first pixel's first tap in the input planes it reads.
struct RowPiece {
  int col;
  ConvRowFn row[2];
  int x_col;
};

// How Run reads the input row by row: each output row cut into the fewest pieces of at most
// max_width pixels, as even as can be, and whether the pieces' kernels read x in place. They do
// where x needs no border, and where every piece has a kernel that skips the taps falling in the
// border (ConvKernel::edge): the bordered copy then is not made.
struct RowPlan {
  std::vector<RowPiece> pieces;
  bool in_place;

  RowPlan(const ConvShape& s, const Geometry& d) {
    const ConvKernel& kernel = SelectedConvKernel();
    int step = 0;
    for (int i = 1; i < ConvKernel::kStepCount; ++i) {
      if (ConvKernel::kSteps[i] == s.stride_w) step = i;
    }
    int edge_kw = -1;
    for (int i = 0; i < ConvKernel::kEdgeFilterWidthCount; ++i) {
      if (ConvKernel::kEdgeFilterWidths[i] == s.kw) edge_kw = i;
    }
    const int count = (d.ow + kernel.max_width - 1) / kernel.max_width;
    bool edges = d.copy && kernel.edge_width > 0 && edge_kw >= 0 && s.stride_w == 1 &&
                 s.pad_w <= ConvKernel::kEdgeMaxPad;
    for (int piece = 0, col = 0; piece < count; ++piece) {
      const int width = d.ow / count + (piece < d.ow % count ? 1 : 0);
      edges = edges && width >= kernel.edge_width && width <= kernel.edge_width + 1;
      pieces.push_back({col,
                        {kernel.row[step][0][width - 1], kernel.row[step][1][width - 1]},
                        col * s.stride_w});
      col += width;
    }
    in_place = !d.copy || edges;
    if (!edges) return;
    for (size_t piece = 0; piece < pieces.size(); ++piece) {
      RowPiece& p = pieces[piece];
      const int end = piece + 1 < pieces.size() ? pieces[piece + 1].col : d.ow;
      // The columns of the border that the piece's first pixel reaches left of the input row,
      // and its last pixel right of it.
      const int left = std::max(0, s.pad_w - p.col);
      const int right = std::max(0, end - 1 + s.kw - s.pad_w - s.w);
      for (int ob = 0; ob < 2; ++ob) {
        p.row[ob] = kernel.edge[edge_kw][ob][end - p.col - kernel.edge_width][left][right];
      }
      p.x_col = p.col - s.pad_w;
    }
  }
};

// Fetches rows [first, last) of each of `channels` input planes (`plane` floats apart, rows
// `row_length` apart) into L2. The first pair of blocks to pass over a tile of images reads its
// input from memory, the others from L2: while it computes an output row, it fetches the input
// rows that the next output row adds.
void PrefetchRows(const float* x, int64_t plane, int row_length, int channels, int first,
                  int last) {
  constexpr uintptr_t kLine = 64;
  for (int c = 0; c < channels; ++c) {
    for (int i = first; i < last; ++i) {
      const float* start = x + c * plane + static_cast<int64_t>(i) * row_length;
      const uintptr_t end = reinterpret_cast<uintptr_t>(start + row_length);
      for (uintptr_t line = reinterpret_cast<uintptr_t>(start) & ~(kLine - 1); line < end;
           line += kLine) {
        __builtin_prefetch(reinterpret_cast<const void*>(line), 0, 2);
      }
    }
  }
}

// y = conv(x, packed) for all of `s`, with the epilogue's bias and ReLU.
void Run(const ConvShape& s, const Geometry& d, const float* x, const float* packed, float* y,
         float* scratch, const GemmEpilogue* epilogue) {
  const ConvKernel& kernel = SelectedConvKernel();
  const bool wrapped = PlanePieces::Apply(s, d, kernel);
  const PlanePieces line(d, kernel);
  const BoundaryKernels boundaries(s, d, kernel);
  const RowPlan plan(s, d);
  const bool bordered = wrapped ? d.copy : !plan.in_place;
  const int64_t image_in = static_cast<int64_t>(s.c) * s.h * s.w;
  const int64_t plane_out = static_cast<int64_t>(d.oh) * d.ow;
  const int64_t image_out = static_cast<int64_t>(s.k) * plane_out;
  const int x_row = bordered ? d.wp : s.w;
  const int64_t plane_in = static_cast<int64_t>(bordered ? d.hp : s.h) * x_row;
  const int64_t image_stride = bordered ? d.image_padded : image_in;
  for (int64_t n0 = 0; n0 < s.n; n0 += d.chunk) {
    const int64_t count = std::min(d.chunk, s.n - n0);
    const float* input = x + n0 * image_in;
    if (bordered) {
      PadImages(s, d, input, count, scratch);
      input = scratch;
    }
    // Items in (group, tile of images, pair, image, part) order, a part being an output row, or
    // as many of the plane's wrapped pieces: a thread's consecutive items share a pair's
    // weights, and sweep them over a tile's inputs, which stay in L2 while every pair passes
    // over them. Sweeping all the images of a batch instead read each row's inputs, 256 planes
    // apart for conv3, from L3 once per pair, which cost conv3 at batch 16 about a tenth of its
    // speed (bench/RESULTS.md).
    const int64_t tiles = (count + d.tile - 1) / d.tile;
    const int64_t items = s.groups * tiles * d.pairs * d.tile * d.oh;
    ParallelForBalanced(items, 1, [&](int64_t begin, int64_t end) {
      for (int64_t item = begin; item < end; ++item) {
        const int part = static_cast<int>(item % d.oh);
        const int64_t in_tile = item / d.oh % d.tile;
        const int pair = static_cast<int>(item / (d.oh * d.tile) % d.pairs);
        const int64_t tile = item / (d.oh * d.tile * d.pairs) % tiles;
        const int g = static_cast<int>(item / (d.oh * d.tile * d.pairs * tiles));
        const int64_t b = tile * d.tile + in_tile;
        if (b >= count) continue;  // the last tile's missing images
        const int block0 = pair * 2;
        const int ob = std::min(2, d.blocks - block0);
        const int channel0 = g * d.kg + block0 * d.vw;
        const float* x_plane = input + b * image_stride + g * d.cg * plane_in;
        const float* w_pair = packed + (static_cast<int64_t>(g) * d.blocks + block0) * d.w_block;
        float* y_plane = y + (n0 + b) * image_out + channel0 * plane_out;
        ConvRowArgs args;
        args.x_channel = plane_in;
        args.x_row = x_row;
        args.x_step = s.stride_w;
        args.channels = d.cg;
        args.kw = s.kw;
        args.w_channel = static_cast<int64_t>(d.taps) * d.vw;
        args.w_block = d.w_block;
        args.y_channel = plane_out;
        args.valid = std::min(ob * d.vw, d.kg - block0 * d.vw);
        args.bias = epilogue && epilogue->row_bias ? epilogue->row_bias + channel0 : nullptr;
        args.relu = epilogue && epilogue->relu;
        if (wrapped) {
          args.x_wrap = static_cast<int64_t>(s.stride_h) * d.wp - d.ow;
          const int first = static_cast<int>(static_cast<int64_t>(line.count) * part / d.oh);
          const int last = static_cast<int>(static_cast<int64_t>(line.count) * (part + 1) / d.oh);
          for (int k = first; k < last; ++k) {
            int start, width;
            line.Get(d, k, &start, &width);
            const int row = start / d.ow;
            const int col = start % d.ow;
            const int wrap = d.ow - col;  // pixels left in the row
            // A piece within one row sums only its real filter rows, as a row's pieces do; one
            // that runs on into the next row sums them all.
            const FilterRows rows = wrap < width ? FilterRows{0, s.kh} : RealFilterRows(s, row);
            args.kh = rows.end - rows.begin;
            args.w = w_pair + static_cast<int64_t>(rows.begin) * s.kw * d.vw;
            args.x = x_plane + static_cast<int64_t>(row * s.stride_h + rows.begin) * d.wp + col;
            args.y = y_plane + start;
            ConvRowFn row_fn = boundaries.Get(col, width, ob);
            if (!row_fn) {
              row_fn = wrap < width ? kernel.wrapped[ob - 1][width - 1][wrap]
                                    : kernel.row[1][ob - 1][width - 1];  // kSteps[1]: 1
            }
            row_fn(args);
          }
          continue;
        }
        const int row = part;
        const int top = row * s.stride_h - s.pad_h;  // the input row of filter row 0
        const FilterRows rows = RealFilterRows(s, row);
        const float* x_first =
            x_plane + static_cast<int64_t>(top + rows.begin + (bordered ? s.pad_h : 0)) * x_row;
        args.kh = rows.end - rows.begin;
        args.w = w_pair + static_cast<int64_t>(rows.begin) * s.kw * d.vw;
        args.x_wrap = 0;
        if (pair == 0 && row + 1 < d.oh) {
          const int bordered_top = top + (bordered ? s.pad_h : 0);
          PrefetchRows(x_plane, plane_in, x_row, d.cg, bordered_top + s.kh,
                       std::min(bordered_top + s.kh + s.stride_h, bordered ? d.hp : s.h));
        }
        float* y_row = y_plane + static_cast<int64_t>(row) * d.ow;
        for (const RowPiece& piece : plan.pieces) {
          args.x = x_first + piece.x_col;
          args.y = y_row + piece.col;
          piece.row[ob - 1](args);
        }
      }
    });
  }
}

// The backward-filter pass of `s`: which kernel, how the input channels are cut into runs of
// nc, and how many images share one reordering of x and dy in the scratch.
struct FilterGeometry {
  Geometry d;
  int width;         // index of the kernel's filter width in ConvKernel::kFilterWidths
  int kw_kernel;     // filter columns per kernel call: kw, or 1 for a width without a kernel
  int nc;            // input channels per kernel call
  int chunks;        // runs of nc channels per group, the last zero-padded
  int64_t x_image;   // floats of one image's reordered input: (group, run, row, column, nc)
  int64_t dy_image;  // floats of one image's blocked dy: (group, block, row, column, lane)
  // Whether x already is its own reordering (runs of one channel, no border), as conv1's: it is
  // then read in place rather than copied.
  bool x_in_place;
  int64_t images;  // images per reordering

  explicit FilterGeometry(const ConvShape& s) : d(s) {
    const ConvKernel& kernel = SelectedConvKernel();
    width = 0;
    for (int i = 1; i < ConvKernel::kFilterWidthCount; ++i) {
      if (ConvKernel::kFilterWidths[i] == s.kw) width = i;
    }
    kw_kernel = ConvKernel::kFilterWidths[width];
    // The run length with the least work: twice the channels computed, zero padding included,
    // plus one per kernel call (each reads all of a block's dy again). conv1's 3 channels then
    // run one at a time rather than as runs of 2, one of them padding.
    nc = 1;
    int64_t best = -1;
    for (int run = kernel.filter_channels[width]; run >= 1; --run) {
      const int64_t calls = (d.cg + run - 1) / run;
      const int64_t cost = 2 * calls * run + calls;
      if (best < 0 || cost < best) {
        best = cost;
        nc = run;
      }
    }
    chunks = (d.cg + nc - 1) / nc;
    x_image = static_cast<int64_t>(s.groups) * chunks * d.hp * d.wp * nc;
    dy_image = static_cast<int64_t>(s.groups) * d.blocks * d.oh * d.ow * d.vw;
    x_in_place = nc == 1 && !d.copy;
    // Counting x's floats even where it is read in place: the runs of images stay as short, and
    // their inputs in cache. Runs sized by dy alone (7 images of conv1 rather than 4) took conv1's
    // AVX2 backward-filter pass about 7% longer on one core.
    images = std::clamp<int64_t>(kMaxFilterFloats / (x_image + dy_image), 1, s.n);
  }

  // Floats of scratch per image: its reordered input, unless read in place, and its dy.
  int64_t ImageScratch() const { return (x_in_place ? 0 : x_image) + dy_image; }
  int64_t ScratchSize() const { return images * ImageScratch(); }
};

// Zeros the floats before `begin` and from `end` on in each of `rows` rows `row` floats apart;
// without loop distribution, as PadPlane, for the same reason.
__attribute__((optimize("no-tree-loop-distribute-patterns"))) void ZeroColumns(
    float* first, int rows, int64_t row, int64_t begin, int64_t end) {
  for (int i = 0; i < rows; ++i, first += row) {
    for (int64_t q = 0; q < begin; ++q) first[q] = 0.0f;
    for (int64_t q = end; q < row; ++q) first[q] = 0.0f;
  }
}

// Reorders `count` images of x into runs of nc adjacent channels, with the zero border: a run's
// planes at once, transposed in registers by the kernels (conv_kernel.h). Writing every nc-th
// float of a row per channel took about an eighth of conv4's and conv5's backward-filter passes.
void ReorderInput(const ConvShape& s, const FilterGeometry& f, const float* x, int64_t count,
                  float* out) {
  const Geometry& d = f.d;
  const ConvKernel& kernel = SelectedConvKernel();
  const int64_t plane = static_cast<int64_t>(s.h) * s.w;
  const int64_t row = static_cast<int64_t>(d.wp) * f.nc;  // floats of one reordered row
  const int64_t run_floats = d.hp * row;
  ParallelFor(count * s.groups * f.chunks, 1, [&](int64_t begin, int64_t end) {
    for (int64_t item = begin; item < end; ++item) {  // (image, group, chunk)
      const int chunk = static_cast<int>(item % f.chunks);
      const int64_t image_group = item / f.chunks;  // image * groups + group
      float* dst = out + item * run_floats;
      float* first = dst + s.pad_h * row;  // the first row of the input's
      std::fill(dst, first, 0.0f);
      std::fill(first + s.h * row, dst + run_floats, 0.0f);
      ZeroColumns(first, s.h, row, s.pad_w * f.nc, (s.pad_w + s.w) * f.nc);
      ConvInterleaveArgs args;
      args.src = x + (image_group * d.cg + chunk * f.nc) * plane;
      args.plane = plane;
      args.count = std::min(f.nc, d.cg - chunk * f.nc);  // the rest are padding
      args.width = f.nc;
      args.pixels = static_cast<int>(plane);
      args.row = s.w;
      args.dst = first + s.pad_w * f.nc;
      args.dst_row = row;
      kernel.interleave(args);
    }
  });
}

// Reorders `count` images of dy into blocks of vw channels, the lanes past a group's last
// channel zero: a block's planes at once, as ReorderInput's.
void ReorderGradient(const ConvShape& s, const FilterGeometry& f, const float* dy, int64_t count,
                     float* out) {
  const Geometry& d = f.d;
  const ConvKernel& kernel = SelectedConvKernel();
  const int plane = d.oh * d.ow;
  ParallelFor(count * s.groups * d.blocks, 1, [&](int64_t begin, int64_t end) {
    for (int64_t item = begin; item < end; ++item) {  // (image, group, block)
      const int block = static_cast<int>(item % d.blocks);
      const int64_t image_group = item / d.blocks;
      ConvInterleaveArgs args;
      args.src = dy + (image_group * d.kg + block * d.vw) * plane;
      args.plane = plane;
      args.count = std::min(d.vw, d.kg - block * d.vw);
      args.width = d.vw;
      args.pixels = plane;
      args.row = plane;
      args.dst = out + item * plane * d.vw;
      args.dst_row = static_cast<int64_t>(plane) * d.vw;
      kernel.interleave(args);
    }
  });
}

// The forward convolution whose result is the backward-data pass of a stride-1 `s`: dy in, dx
// out, the filters' input and output channels swapped, each filter flipped, and a padding of
// kh - 1 - pad_h rows and kw - 1 - pad_w columns.
ConvShape TransposedShape(const ConvShape& s) {
  return {s.n, s.k, s.out_h(),          s.out_w(),          s.c,     s.kh, s.kw,
          1,   1,   s.kh - 1 - s.pad_h, s.kw - 1 - s.pad_w, s.groups};
}

bool BackwardDataShapeFits(const ConvShape& s) {
  return s.stride_h == 1 && s.stride_w == 1 && s.pad_h < s.kh && s.pad_w < s.kw;
}

// Whether `s` keeps the kernels' lanes busy: its groups' output channels fill at least 3/4 of
// their blocks. On one AVX-512 thread the direct forward took less CPU time than im2col + GEMM
// for each of AlexNet's convolutions, conv1 (3 input channels, stride 4) included, and so did
// the backward-filter pass and the stride-1 backward-data pass (bench/RESULTS.md); a layer of a
// few channels would multiply mostly zero lanes.
bool FillsBlocks(const ConvShape& s) {
  const Geometry d(s);
  return 4 * d.kg >= 3 * d.blocks * d.vw;
}

bool Chosen(const ConvShape& s) {
  switch (RequestedConvAlgorithm()) {
    case ConvAlgorithm::kDirect:
      return true;
    case ConvAlgorithm::kIm2col:
      return false;
    default:  // measured, or winograd: its forward is chosen before this (conv.cc)
      return FillsBlocks(s);
  }
}

}  // namespace

bool ConvDirectForwardFits(const ConvShape& s) { return Chosen(s); }

bool ConvDirectBackwardDataFits(const ConvShape& s) {
  return BackwardDataShapeFits(s) && Chosen(TransposedShape(s));
}

bool ConvDirectBackwardFilterFits(const ConvShape& s) { return Chosen(s); }

int64_t ConvDirectWeightsSize(const ConvShape& s) {
  return kAlignmentFloats + Geometry(s).WeightsSize(s.groups);
}

void ConvDirectPackWeights(const ConvShape& s, const float* w, float* packed) {
  const Geometry d(s);
  PackBlocks(s, d, w, Aligned(packed));
}

int64_t ConvDirectScratchSize(const ConvShape& s) {
  int64_t size = Geometry(s).PaddedSize();
  if (BackwardDataShapeFits(s)) {
    const ConvShape t = TransposedShape(s);
    const Geometry d(t);
    size = std::max(size, kAlignmentFloats + d.WeightsSize(t.groups) + d.PaddedSize());
  }
  return std::max(size, FilterGeometry(s).ScratchSize());
}

void ConvDirectForward(const ConvShape& s, const float* x, const float* packed, float* y,
                       float* scratch, const GemmEpilogue* epilogue) {
  Run(s, Geometry(s), x, Aligned(packed), y, scratch, epilogue);
}

void ConvDirectBackwardData(const ConvShape& s, const float* w, const float* dy, float* dx,
                            float* scratch) {
  const ConvShape t = TransposedShape(s);
  const Geometry d(t);
  float* packed = Aligned(scratch);
  PackFlipped(t, d, w, packed);
  Run(t, d, dy, packed, dx, packed + d.WeightsSize(t.groups), nullptr);
}

void ConvDirectBackwardFilter(const ConvShape& s, const float* x, const float* dy, float* dw,
                              float* scratch) {
  const FilterGeometry f(s);
  const Geometry& d = f.d;
  const ConvKernel& kernel = SelectedConvKernel();
  const ConvFilterFn filter = kernel.filter[f.width][f.nc - 1];
  const int columns = s.kw / f.kw_kernel;  // kernel calls per filter row
  float* dys = scratch + (f.x_in_place ? 0 : f.images * f.x_image);
  const int64_t image_in = static_cast<int64_t>(s.c) * s.h * s.w;
  const int64_t image_out = static_cast<int64_t>(s.k) * d.oh * d.ow;
  for (int64_t n0 = 0; n0 < s.n; n0 += f.images) {
    const int64_t count = std::min(f.images, s.n - n0);
    const float* xs = x + n0 * image_in;
    if (!f.x_in_place) {
      ReorderInput(s, f, xs, count, scratch);
      xs = scratch;
    }
    ReorderGradient(s, f, dy + n0 * image_out, count, dys);
    // Items in (group, block, run, filter row, column) order: a thread's consecutive items share
    // a block of dy and a run of x. Each owns its gradients, and the batch's images add to them
    // in order, so no sum depends on the threads.
    const int64_t items = static_cast<int64_t>(s.groups) * d.blocks * f.chunks * s.kh * columns;
    ParallelFor(items, 1, [&](int64_t begin, int64_t end) {
      for (int64_t item = begin; item < end; ++item) {
        const int j0 = static_cast<int>(item % columns) * f.kw_kernel;
        const int i = static_cast<int>(item / columns % s.kh);
        const int chunk = static_cast<int>(item / (columns * s.kh) % f.chunks);
        const int64_t run = item / (static_cast<int64_t>(columns) * s.kh * f.chunks);
        const int block = static_cast<int>(run % d.blocks);
        const int g = static_cast<int>(run / d.blocks);
        // The output rows r0 to r1 - 1 whose input row for filter row i is not in the zero
        // border: the others would add only products of zeros, which leave the bits as they are.
        const int r0 = std::max(0, s.pad_h - i + s.stride_h - 1) / s.stride_h;
        const int r1 =
            std::max(r0, std::min(d.oh, (s.h + s.pad_h - i + s.stride_h - 1) / s.stride_h));
        ConvFilterArgs args;
        args.x = xs +
                 ((static_cast<int64_t>(g) * f.chunks + chunk) * d.hp + i +
                  static_cast<int64_t>(r0) * s.stride_h) *
                     d.wp * f.nc +
                 static_cast<int64_t>(j0) * f.nc;
        args.x_image = f.x_image;
        args.x_row = static_cast<int64_t>(s.stride_h) * d.wp * f.nc;
        args.x_pixel = s.stride_w * f.nc;
        args.dy = dys + (run * d.oh + r0) * d.ow * d.vw;
        args.dy_image = f.dy_image;
        args.images = static_cast<int>(count);
        args.rows = r1 - r0;
        args.columns = d.ow;
        args.stride = s.stride_w;
        args.left = s.pad_w - j0;
        args.right = s.pad_w + s.w - j0;
        const int o0 = g * d.kg + block * d.vw;
        args.dw = dw + (static_cast<int64_t>(o0) * d.cg + chunk * f.nc) * d.taps + i * s.kw + j0;
        args.dw_lane = static_cast<int64_t>(d.cg) * d.taps;
        args.dw_channel = d.taps;
        args.lanes = std::min(d.vw, d.kg - block * d.vw);
        args.channels = std::min(f.nc, d.cg - chunk * f.nc);
        args.accumulate = n0 > 0;
        filter(args);
      }
    });
  }
}

const char* ConvDirectIsa() { return SelectedConvKernel().isa; }

}  // namespace alexnet::cpu
