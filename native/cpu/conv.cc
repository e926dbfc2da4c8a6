#include "cpu/conv.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "cpu/aligned.h"
#include "cpu/conv_direct.h"
#include "cpu/conv_kernel.h"
#include "cpu/conv_phases.h"
#include "cpu/conv_winograd.h"
#include "cpu/gemm.h"
#include "cpu/thread_pool.h"

namespace alexnet::cpu {

namespace {

// Fewest GEMM columns (images x output positions) per call. Sgemm packs the whole weight matrix
// on every call, and short rows leave its micro-kernel little to amortise that over: with
// conv3's 384 x 2304 weights on 2 AVX-512 cores, the gemm op ran at about 100 GFLOP/s with 169
// columns (one 13 x 13 image) and about 150 from 676 columns (4 images) up. conv1 (3025 positions)
// and conv2 (729) pass one image at a time, which keeps their buffers at one image.
constexpr int64_t kTargetColumns = 512;

// A parallel region wakes the other thread (microseconds), which pays only above a few thousand
// floats of work; loops over smaller items keep that many per chunk.
constexpr int64_t kMinFloatsPerChunk = 4096;

int64_t MinChunk(int64_t floats_per_item) {
  return std::max<int64_t>(1, kMinFloatsPerChunk / std::max<int64_t>(1, floats_per_item));
}

struct Layout {
  int64_t positions;   // out_h * out_w
  int64_t col_rows;    // c * kh * kw: rows of the im2col buffer, group after group
  int64_t group_rows;  // (c / groups) * kh * kw: the inner dimension of one group's GEMM
  int64_t chunk;       // images per im2col buffer
  int64_t image_in;    // c * h * w
  int64_t image_out;   // k * positions
};

Layout MakeLayout(const ConvShape& s) {
  Layout l;
  l.positions = static_cast<int64_t>(s.out_h()) * s.out_w();
  l.col_rows = static_cast<int64_t>(s.c) * s.kh * s.kw;
  l.group_rows = l.col_rows / s.groups;
  l.chunk = std::min<int64_t>(s.n, (kTargetColumns + l.positions - 1) / l.positions);
  l.image_in = static_cast<int64_t>(s.c) * s.h * s.w;
  l.image_out = static_cast<int64_t>(s.k) * l.positions;
  return l;
}

// The outputs o in [*lo, *hi) whose input coordinate o * stride - pad + offset lies in
// [0, size); the others read the zero padding.
void ValidRange(int size, int out, int stride, int pad, int offset, int* lo, int* hi) {
  const int first = pad - offset;  // smallest o * stride that is in range
  const int last = size - 1 + pad - offset;
  *lo = std::min(out, first <= 0 ? 0 : (first + stride - 1) / stride);
  *hi = std::max(*lo, last < 0 ? 0 : std::min(out, last / stride + 1));
}

// Appends row (ki, kj) of one channel's im2col block to `out` (a PackedB::RowWriter, or
// PlainRow): for every output position, the input pixel that filter tap (ki, kj) multiplies there,
// 0 where it reads the padding.
template <typename Writer>
void Im2ColRow(const ConvShape& s, const float* plane, int ki, int kj, Writer& out) {
  const int oh = s.out_h();
  const int ow = s.out_w();
  int i0, i1, j0, j1;
  ValidRange(s.h, oh, s.stride_h, s.pad_h, ki, &i0, &i1);
  ValidRange(s.w, ow, s.stride_w, s.pad_w, kj, &j0, &j1);
  const auto zero = [](int) { return 0.0f; };
  out.Append(i0 * ow, zero);
  for (int oi = i0; oi < i1; ++oi) {
    const float* src = plane + static_cast<int64_t>(oi * s.stride_h - s.pad_h + ki) * s.w +
                       (kj - s.pad_w) + static_cast<int64_t>(j0) * s.stride_w;
    out.Append(j0, zero);
    if (s.stride_w == 1) {
      out.Append(j1 - j0, [&](int q) { return src[q]; });
    } else {
      out.Append(j1 - j0, [&](int q) { return src[static_cast<int64_t>(q) * s.stride_w]; });
    }
    out.Append(ow - j1, zero);
  }
  out.Append((oh - i1) * ow, zero);
}

// A row of the plain im2col matrix, written from left to right.
class PlainRow {
 public:
  explicit PlainRow(float* row) : next_(row) {}

  template <typename Value>
  void Append(int count, const Value& value) {
    for (int q = 0; q < count; ++q) next_[q] = value(q);
    next_ += count;
  }

 private:
  float* next_;
};

// Calls row(b, channel, ki, kj) for every im2col row of every one of `count` images, in parallel
// over (image, channel, ki).
template <typename Row>
void ForEachIm2ColRow(const ConvShape& s, const Layout& l, int64_t count, const Row& row) {
  const int64_t items = count * s.c * s.kh;
  ParallelFor(items, MinChunk(s.kw * l.positions), [&](int64_t begin, int64_t end) {
    for (int64_t item = begin; item < end; ++item) {
      const int64_t b = item / (static_cast<int64_t>(s.c) * s.kh);
      const int channel = static_cast<int>(item / s.kh % s.c);
      const int ki = static_cast<int>(item % s.kh);
      for (int kj = 0; kj < s.kw; ++kj) row(b, channel, ki, kj);
    }
  });
}

// im2col of `count` images starting at x: image b fills columns [b * positions, (b+1) *
// positions) of every row; rows are `ld` = count * positions floats long.
void Im2Col(const ConvShape& s, const Layout& l, const float* x, int64_t count, float* col) {
  const int64_t ld = count * l.positions;
  ForEachIm2ColRow(s, l, count, [&](int64_t b, int channel, int ki, int kj) {
    const float* plane = x + b * l.image_in + static_cast<int64_t>(channel) * s.h * s.w;
    const int64_t r = (static_cast<int64_t>(channel) * s.kh + ki) * s.kw + kj;
    PlainRow row(col + r * ld + b * l.positions);
    Im2ColRow(s, plane, ki, kj, row);
  });
}

// The same matrix written straight into the GEMM's packed layout, one PackedB per group, each
// `packed_b.size()` floats after the previous.
void Im2ColPacked(const ConvShape& s, const Layout& l, const float* x, int64_t count,
                  const PackedB& packed_b, float* packed) {
  const int group_channels = s.c / s.groups;
  ForEachIm2ColRow(s, l, count, [&](int64_t b, int channel, int ki, int kj) {
    const int g = channel / group_channels;
    const int p = ((channel - g * group_channels) * s.kh + ki) * s.kw + kj;
    PackedB::RowWriter row =
        packed_b.Row(packed + g * packed_b.size(), p, static_cast<int>(b * l.positions));
    Im2ColRow(s, x + b * l.image_in + static_cast<int64_t>(channel) * s.h * s.w, ki, kj, row);
  });
  for (int g = 0; g < s.groups; ++g) packed_b.ZeroPadding(packed + g * packed_b.size());
}

// Calls copy(image_offset, matrix_offset) for each of the k * count rows of `positions` floats
// that move between `count` images of (k, positions) planes and one (k, count * positions)
// matrix, the layout the GEMMs see.
template <typename Copy>
void ForEachOutputRow(const ConvShape& s, const Layout& l, int64_t count, const Copy& copy) {
  ParallelFor(s.k * count, MinChunk(l.positions), [&](int64_t begin, int64_t end) {
    for (int64_t item = begin; item < end; ++item) {
      const int64_t channel = item / count;
      const int64_t b = item % count;
      copy(b * l.image_out + channel * l.positions, (channel * count + b) * l.positions);
    }
  });
}

void ImagesToMatrix(const ConvShape& s, const Layout& l, int64_t count, const float* images,
                    float* matrix) {
  ForEachOutputRow(s, l, count, [&](int64_t image, int64_t row) {
    std::memcpy(matrix + row, images + image, sizeof(float) * l.positions);
  });
}

void MatrixToImages(const ConvShape& s, const Layout& l, int64_t count, const float* matrix,
                    float* images) {
  ForEachOutputRow(s, l, count, [&](int64_t image, int64_t row) {
    std::memcpy(images + image, matrix + row, sizeof(float) * l.positions);
  });
}

// Calls gemm(g) for every group. With a group or more per thread, each thread takes whole
// groups (its Sgemm then runs on that thread alone) instead of splitting every group's GEMM
// between the threads, which left each thread too little of conv4's and conv5's 192- and
// 128-row, 169-column GEMMs to amortise its packing. On 2 AVX-512 threads (bench ops,
// 2026-12-01), forward at batch 1: conv2 4.4 -> 2.7 ms, conv4 3.2 -> 1.6, conv5 2.8 -> 1.2; at
// batch 16: conv2 70 -> 46 ms, conv5 27 -> 19.
template <typename Gemm>
void ForEachGroup(int groups, const Gemm& gemm) {
  if (groups < ThreadCount()) {
    for (int g = 0; g < groups; ++g) gemm(g);
    return;
  }
  ParallelFor(groups, 1, [&](int64_t g0, int64_t g1) {
    for (int64_t g = g0; g < g1; ++g) gemm(static_cast<int>(g));
  });
}

// The forward pass's B operand for `count` images: one group's im2col rows, packed.
PackedB ForwardPackedB(const Layout& l, int64_t count) {
  return PackedB(static_cast<int>(l.group_rows), static_cast<int>(count * l.positions));
}

// The forward pass's A operand: one group's weights, packed once per call for all its chunks.
PackedA ForwardPackedA(const ConvShape& s, const Layout& l) {
  return PackedA(s.k / s.groups, static_cast<int>(l.group_rows));
}

// Scratch starts with the im2col matrix of a chunk: plain for the backward passes, packed (each
// group's columns padded to whole strips) for the forward. A chunk of several images also needs
// its outputs (or output gradients) as one matrix, which follows; the forward's packed weights
// come last.
int64_t MatrixOffset(const ConvShape& s, const Layout& l) {
  return std::max(l.col_rows * l.chunk * l.positions, s.groups * ForwardPackedB(l, l.chunk).size());
}

int64_t MatrixSize(const ConvShape& s, const Layout& l) {
  return l.chunk > 1 ? s.k * l.chunk * l.positions : 0;
}

// The backward-data pass: dx = col2im(Wᵀ dy), one block of output rows at a time. Each block's
// column matrix (c * kh * kw rows, one per tap of each input channel) is computed into a buffer
// that stays in the thread's L2 and is summed into dx at once: conv1's whole column matrix (363 x
// 3025 per image, 4.4 MB) went out to memory between the GEMM and the sum. Output rows are taken
// from the last block up, so that each element of dx receives its taps in (ki, kj) order, the
// order of the one-pass col2im: its bits do not depend on the blocks, nor on the threads, which
// split the images' rows of dx between them.

// Output columns per block: about 500, as kTargetColumns, so that the micro-kernel runs on long
// rows of B, while the block's column matrix stays in L2. conv1 then takes 9 rows of 55 (363 x 496
// floats, 0.7 MB), 15 strips of 32 columns and a last of 15 that the half-width kernel computes
// with one idle column; 10 rows left a last strip of 6 and took about 1% longer.
constexpr int64_t kDataBlockColumns = 480;

int FloorDiv(int a, int b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

struct DataBlocks {
  int rows;             // output rows per block
  int64_t ld;           // floats per row of a block's column matrix
  int64_t phase_width;  // ceil(w / stride_w): an input row's pixels of one phase mod stride_w
  int64_t slot;         // floats of one thread's buffers: the column matrix, then the phases
};

DataBlocks MakeDataBlocks(const ConvShape& s, const Layout& l) {
  DataBlocks d;
  const int ow = s.out_w();
  // No more rows than keep all the threads' column matrices about the size of the forward's im2col
  // buffer (one chunk of images), which ConvScratchSize provides anyway: a plan's scratch then
  // does not grow with the thread count (conv1: 3 rows each on 16 threads).
  const int64_t share = std::max<int64_t>(1, l.chunk * s.out_h() / ThreadCount());
  d.rows = static_cast<int>(std::min<int64_t>(
      share, std::clamp<int64_t>((kDataBlockColumns + ow - 1) / ow, 1, s.out_h())));
  // Rows of whole vectors, so that every tile of C starts at a 64-byte boundary.
  d.ld = (static_cast<int64_t>(d.rows) * ow + 15) / 16 * 16;
  d.phase_width = (s.w + s.stride_w - 1) / s.stride_w;
  d.slot = (l.col_rows * d.ld + s.stride_w * d.phase_width + 15) / 16 * 16;
  return d;
}

// The backward-data's weights: each group's Wᵀ (group_rows x k / groups), packed once per call.
PackedA DataPackedA(const ConvShape& s, const Layout& l) {
  return PackedA(static_cast<int>(l.group_rows), s.k / s.groups);
}

int64_t DataScratchSize(const ConvShape& s, const Layout& l) {
  return 2 * kAlignmentFloats + s.groups * DataPackedA(s, l).size() +
         ThreadCount() * MakeDataBlocks(s, l).slot;
}

// The largest output row whose taps can reach input row y; the tap it puts there, y + pad - oi *
// stride, is the smallest of any output row's, so a tap of it reaches y if any does (ReachesRow).
int TopOutputRow(const ConvShape& s, int y) {
  return std::min(s.out_h() - 1, FloorDiv(y + s.pad_h, s.stride_h));
}

bool ReachesRow(const ConvShape& s, int y) {
  return y + s.pad_h - TopOutputRow(s, y) * s.stride_h < s.kh;
}

// Rows [y0, y1) of one image's dx, all channels, from the block of output rows [b0, b1), whose
// column matrix is `col`: each row receives the block's taps after those of later output rows
// (earlier blocks), or starts from 0 where none reached it.
void Col2ImRows(const ConvShape& s, const DataBlocks& d, const float* col, int b0, int b1, int y0,
                int y1, float* dx, float* phases) {
  const int sw = s.stride_w;
  const int64_t taps_per_channel = static_cast<int64_t>(s.kh) * s.kw;
  const ConvKernel& kernel = SelectedConvKernel();
  // The output rows whose taps reach a row of dx: at most ceil(kh / stride_h).
  std::vector<const float*> rows((s.kh + s.stride_h - 1) / s.stride_h);
  ConvRowTapsArgs taps{rows.data(), 0,   d.ld,      s.kw,    s.stride_w,
                       s.pad_w,     s.w, s.out_w(), nullptr, d.phase_width};
  // A row's whole groups of sw pixels, one from each phase, are interleaved by the kernel.
  const int groups = s.w / sw;
  ConvInterleaveArgs interleave{phases, d.phase_width, sw, sw, groups, groups, nullptr, 0};
  const int first_y = std::max(y0, b0 * s.stride_h - s.pad_h);
  const int last_y = std::min(y1, (b1 - 1) * s.stride_h - s.pad_h + s.kh);
  for (int c = 0; c < s.c; ++c) {
    const float* channel_col = col + c * taps_per_channel * d.ld;
    for (int y = first_y; y < last_y; ++y) {
      const int top = TopOutputRow(s, y);
      const int first = std::min(top, b1 - 1);
      if (first < b0 || y + s.pad_h - first * s.stride_h >= s.kh) continue;
      const bool started = top >= b1 && ReachesRow(s, y);
      float* row = dx + (static_cast<int64_t>(c) * s.h + y) * s.w;
      taps.acc = sw == 1 ? row : phases;
      if (sw > 1 && started) {
        for (int px = 0; px < sw; ++px) {
          for (int x = px, q = 0; x < s.w; x += sw, ++q) phases[px * d.phase_width + q] = row[x];
        }
      } else if (!started) {
        std::fill(taps.acc, taps.acc + (sw == 1 ? s.w : sw * d.phase_width), 0.0f);
      }
      taps.count = 0;
      for (int oi = first; oi >= b0; --oi) {
        const int ki = y + s.pad_h - oi * s.stride_h;
        if (ki >= s.kh) break;
        rows[taps.count++] = channel_col + ki * s.kw * d.ld + (oi - b0) * s.out_w();
      }
      kernel.add_row_taps(taps);
      if (sw > 1) {
        interleave.dst = row;
        if (groups > 0) kernel.interleave(interleave);
        for (int x = groups * sw; x < s.w; ++x) row[x] = phases[x % sw * d.phase_width + x / sw];
      }
    }
  }
}

// Rows [y0, y1) of one image's dx from its dy: zero where no tap reaches, else block by block of
// the output rows that reach them, the last block first.
void BackwardDataRows(const ConvShape& s, const Layout& l, const DataBlocks& d,
                      const PackedA& a_layout, const float* packed, const float* dy, int y0, int y1,
                      float* dx, float* col, float* phases) {
  for (int y = y0; y < y1; ++y) {
    if (ReachesRow(s, y)) continue;
    for (int c = 0; c < s.c; ++c) {
      float* row = dx + (static_cast<int64_t>(c) * s.h + y) * s.w;
      std::fill(row, row + s.w, 0.0f);
    }
  }
  const int kg = s.k / s.groups;
  const int lo = std::max(0, -FloorDiv(-(y0 + s.pad_h - s.kh + 1), s.stride_h));
  const int hi = std::min(s.out_h(), FloorDiv(y1 - 1 + s.pad_h, s.stride_h) + 1);
  for (int b1 = hi, b0; b1 > lo; b1 = b0) {
    b0 = std::max(lo, b1 - d.rows);
    const int columns = (b1 - b0) * s.out_w();
    for (int g = 0; g < s.groups; ++g) {
      SgemmPackedAInPlaceB(a_layout, packed + g * a_layout.size(),
                           dy + g * kg * l.positions + b0 * s.out_w(), l.positions, columns,
                           col + g * l.group_rows * d.ld, d.ld);
    }
    Col2ImRows(s, d, col, b0, b1, y0, y1, dx, phases);
  }
}

}  // namespace

float* ThreadScratch(int64_t floats) {
  thread_local std::vector<float> scratch;
  if (static_cast<int64_t>(scratch.size()) < floats) scratch.resize(static_cast<size_t>(floats));
  return scratch.data();
}

int64_t ConvScratchSize(const ConvShape& shape) {
  // The direct and Winograd forwards without kept weights reorder them after their own scratch.
  const int64_t winograd =
      ConvWinogradForwardFits(shape)
          ? ConvWinogradScratchSize(shape) + kAlignmentFloats + ConvWinogradWeightsSize(shape)
          : 0;
  const int64_t direct = ConvDirectScratchSize(shape) + kAlignmentFloats +
                         (ConvDirectForwardFits(shape) ? ConvDirectWeightsSize(shape) : 0);
  const bool data_direct = ConvDirectBackwardDataFits(shape);
  const bool data_phases = ConvPhasesBackwardDataFits(shape);
  const int64_t phases = data_phases ? ConvPhasesScratchSize(shape) : 0;
  // No pass through im2col (conv1-conv5): no column matrix.
  if (ConvDirectForwardFits(shape) && (data_direct || data_phases) &&
      ConvDirectBackwardFilterFits(shape)) {
    return std::max({winograd, direct, phases});
  }
  const Layout l = MakeLayout(shape);
  const int64_t im2col = kAlignmentFloats + MatrixOffset(shape, l) + MatrixSize(shape, l) +
                         shape.groups * ForwardPackedA(shape, l).size();
  const int64_t data = data_direct || data_phases ? phases : DataScratchSize(shape, l);
  return std::max({im2col, direct, winograd, data});
}

int64_t ConvPackedWeightsSize(const ConvShape& s) {
  if (ConvWinogradForwardFits(s)) return ConvWinogradWeightsSize(s);
  if (ConvDirectForwardFits(s)) return ConvDirectWeightsSize(s);
  return s.groups * ForwardPackedA(s, MakeLayout(s)).size();
}

void ConvPackWeights(const ConvShape& s, const float* w, float* packed) {
  if (ConvWinogradForwardFits(s)) return ConvWinogradPackWeights(s, w, packed);
  if (ConvDirectForwardFits(s)) return ConvDirectPackWeights(s, w, packed);
  const Layout l = MakeLayout(s);
  const int kg = s.k / s.groups;
  const PackedA packed_a = ForwardPackedA(s, l);
  for (int g = 0; g < s.groups; ++g) {
    packed_a.Pack(w + g * kg * l.group_rows, l.group_rows, 1.0f, packed + g * packed_a.size());
  }
}

void ConvForward(const ConvShape& s, const float* x, const float* w, float* y, float* scratch,
                 const GemmEpilogue* epilogue, const float* packed_weights) {
  // The weights a Winograd or direct forward reads: the caller's packed ones, or w packed into
  // the scratch after the `used` floats of the pass's own.
  const auto kept_or_packed = [&](int64_t used,
                                  void (*pack)(const ConvShape&, const float*, float*)) {
    if (packed_weights) return packed_weights;
    float* own = Aligned(scratch + used);
    pack(s, w, own);
    return static_cast<const float*>(own);
  };
  if (ConvWinogradForwardFits(s)) {
    return ConvWinogradForward(s, x,
                               kept_or_packed(ConvWinogradScratchSize(s), ConvWinogradPackWeights),
                               y, scratch, epilogue);
  }
  if (ConvDirectForwardFits(s)) {
    return ConvDirectForward(s, x, kept_or_packed(ConvDirectScratchSize(s), ConvDirectPackWeights),
                             y, scratch, epilogue);
  }
  const Layout l = MakeLayout(s);
  const int kg = s.k / s.groups;
  float* packed = Aligned(scratch);
  float* matrix = packed + MatrixOffset(s, l);
  const PackedA packed_a = ForwardPackedA(s, l);
  const float* weights = packed_weights;
  if (!weights) {
    float* own = matrix + MatrixSize(s, l);
    ConvPackWeights(s, w, own);
    weights = own;
  }
  for (int64_t n0 = 0; n0 < s.n; n0 += l.chunk) {
    const int64_t count = std::min<int64_t>(l.chunk, s.n - n0);
    const PackedB packed_b = ForwardPackedB(l, count);
    Im2ColPacked(s, l, x + n0 * l.image_in, count, packed_b, packed);
    // One image's (k, positions) output already is the GEMM's layout.
    float* out = count == 1 ? y + n0 * l.image_out : matrix;
    ForEachGroup(s.groups, [&](int g) {
      // Group g's rows of the output are channels [g kg, (g+1) kg): its share of the bias.
      GemmEpilogue group_epilogue;
      if (epilogue) {
        group_epilogue = *epilogue;
        group_epilogue.row_bias = epilogue->row_bias ? epilogue->row_bias + g * kg : nullptr;
      }
      SgemmPacked(packed_a, weights + g * packed_a.size(), packed_b, packed + g * packed_b.size(),
                  0.0f, out + g * kg * packed_b.n(), packed_b.n(),
                  epilogue ? &group_epilogue : nullptr);
    });
    if (count > 1) MatrixToImages(s, l, count, out, y + n0 * l.image_out);
  }
}

void ConvBackwardData(const ConvShape& s, const float* w, const float* dy, float* dx,
                      float* scratch) {
  if (ConvDirectBackwardDataFits(s)) return ConvDirectBackwardData(s, w, dy, dx, scratch);
  if (ConvPhasesBackwardDataFits(s)) return ConvPhasesBackwardData(s, w, dy, dx, scratch);
  const Layout l = MakeLayout(s);
  const DataBlocks d = MakeDataBlocks(s, l);
  const PackedA a_layout = DataPackedA(s, l);
  float* packed = Aligned(scratch);
  const int kg = s.k / s.groups;
  for (int g = 0; g < s.groups; ++g) {
    a_layout.Pack(w + g * kg * l.group_rows, l.group_rows, 1.0f, packed + g * a_layout.size(),
                  true);
  }
  float* slots = Aligned(packed + s.groups * a_layout.size());
  // One slot of buffers per thread; the images' rows of dx split evenly between them.
  const int threads = ThreadCount();
  const int64_t rows = static_cast<int64_t>(s.n) * s.h;
  ParallelFor(threads, 1, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      float* col = slots + t * d.slot;
      for (int64_t r = rows * t / threads, end = rows * (t + 1) / threads; r < end;) {
        const int64_t b = r / s.h;
        const int y0 = static_cast<int>(r % s.h);
        const int y1 = static_cast<int>(std::min<int64_t>(s.h, y0 + (end - r)));
        BackwardDataRows(s, l, d, a_layout, packed, dy + b * l.image_out, y0, y1,
                         dx + b * l.image_in, col, col + l.col_rows * d.ld);
        r += y1 - y0;
      }
    }
  });
}

void ConvBackwardFilter(const ConvShape& s, const float* x, const float* dy, float* dw,
                        float* scratch) {
  if (ConvDirectBackwardFilterFits(s)) return ConvDirectBackwardFilter(s, x, dy, dw, scratch);
  const Layout l = MakeLayout(s);
  const int kg = s.k / s.groups;
  float* col = scratch;
  for (int64_t n0 = 0; n0 < s.n; n0 += l.chunk) {
    const int64_t count = std::min<int64_t>(l.chunk, s.n - n0);
    const int64_t columns = count * l.positions;
    Im2Col(s, l, x + n0 * l.image_in, count, col);
    const float* grad = dy + n0 * l.image_out;
    if (count > 1) {
      float* matrix = scratch + MatrixOffset(s, l);
      ImagesToMatrix(s, l, count, grad, matrix);
      grad = matrix;
    }
    // dW_g = dy_g col_gᵀ; the first chunk overwrites dw, the others add to it.
    ForEachGroup(s.groups, [&](int g) {
      Sgemm(false, true, kg, static_cast<int>(l.group_rows), static_cast<int>(columns), 1.0f,
            grad + g * kg * columns, columns, col + g * l.group_rows * columns, columns,
            n0 == 0 ? 0.0f : 1.0f, dw + g * kg * l.group_rows, l.group_rows);
    });
  }
}

}  // namespace alexnet::cpu
