#include "cpu/gemm.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <new>
#include <string_view>

#include "cpu/gemm_kernel.h"
#include "cpu/thread_pool.h"

namespace alexnet::cpu {

namespace {

// Block sizes (BLIS naming). A KC x NR strip of B (32 KiB at NR = 32) stays in L1 while the
// micro-kernel sweeps an MC x KC block of A (144 KiB) held in L2; the KC x NC panel of B
// (3 MiB) is shared by both threads from L3. MC is a multiple of every MR (4, 6, 12).
constexpr int kKc = 256;
constexpr int kMc = 144;
constexpr int kNc = 3072;
// Up to this many rows of A, A B^T runs as row dot products (DotKernel) instead of packed GEMM.
constexpr int kDotMaxRows = 32;
// From this many rows of A up to kDotMaxRows, A Bᵀ broadcasts B's elements (GemmBroadcast).
constexpr int kBroadcastMinRows = 8;
// Up to this many rows of A, A B reads B in place (GemmInPlaceB) instead of packing it; and up to
// kInPlaceWideMaxRows where B has at least kWideBMinRatio times as many columns as A has rows (a
// fully connected layer's backward-data at batch 128: packing W took a third of the time).
constexpr int kInPlaceMaxRows = 32;
constexpr int kInPlaceWideMaxRows = 256;
// Up to this inner dimension (one KC block, so the sums are those of the other drivers), and with
// B of at most kShallowMaxB floats (6 MiB: fc6's input at batch 128 is 4.5 MiB), C is computed
// strip of rows by strip of rows from all of A and B packed once (GemmShallow).
constexpr int kShallowMaxK = kKc;
constexpr int64_t kShallowMaxB = int64_t{3} << 19;
// From this many floats of C (8 MiB: 4 of each core's L2 and a quarter of the L3 of the Zen 4 this
// was measured on), a C that is overwritten is written past the caches: a smaller one (an im2col
// buffer) may still be in cache when it is read next.
constexpr int64_t kStreamMinFloats = int64_t{1} << 21;
// A Bᵀ with B at least this many times A's rows, and A of at most this many floats (6 MiB: fc6's
// input at batch 128 is 4.5 MiB), packs all of A once and B a strip at a time (GemmWideB).
constexpr int kWideBMinRatio = 4;
constexpr int64_t kWideBMaxA = int64_t{3} << 19;

// The best kernel this CPU runs, or a lesser one named by ALEXNET_GEMM_ISA ("avx2" or
// "generic"): the portable kernels can then be tested and benchmarked on an AVX-512 machine.
const GemmKernel& SelectKernel() {
  const char* env = std::getenv("ALEXNET_GEMM_ISA");
  const std::string_view requested = env == nullptr ? "" : env;
#if defined(ALEXNET_GEMM_X86)
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (requested == "avx2" && avx2) return gemm_avx2::kKernel;
  if (requested != "generic" && requested != "avx2") {
    if (__builtin_cpu_supports("avx512f")) return gemm_avx512::kKernel;
    if (avx2) return gemm_avx2::kKernel;
  }
#endif
  return gemm_generic::kKernel;
}

const GemmKernel& Kernel() {
  static const GemmKernel& kernel = SelectKernel();
  return kernel;
}

// Packing buffers, one pair per calling thread, grown on demand and kept: a training step
// calls Sgemm dozens of times with the same shapes, so after the first step it allocates nothing.
class PackBuffer {
 public:
  ~PackBuffer() { std::free(data_); }
  float* Reserve(size_t count) {
    if (count > capacity_) {
      std::free(data_);
      size_t bytes = (count * sizeof(float) + 63) / 64 * 64;
      data_ = static_cast<float*>(std::aligned_alloc(64, bytes));
      capacity_ = data_ ? count : 0;
      if (data_ == nullptr) throw std::bad_alloc();
    }
    return data_;
  }

 private:
  float* data_ = nullptr;
  size_t capacity_ = 0;
};

thread_local PackBuffer a_buffer;
thread_local PackBuffer b_buffer;

// A view of op(X): element (i, j) at x[i * row_stride + j * col_stride].
struct MatrixView {
  const float* x;
  int64_t row_stride;
  int64_t col_stride;
  float at(int64_t i, int64_t j) const { return x[i * row_stride + j * col_stride]; }
};

// Packs rows [0, rows) x cols [0, kc) of `a` into strips of `mr` rows, each stored column by
// column (kc steps of mr values), scaled by alpha and zero-padded to whole strips. The loop
// order follows whichever stride of the source is 1, so reads are contiguous.
void PackA(const MatrixView& a, int rows, int kc, float alpha, int mr, float* out) {
  for (int i0 = 0; i0 < rows; i0 += mr) {
    int h = std::min(mr, rows - i0);
    float* strip = out + static_cast<int64_t>(i0) * kc;
    if (h < mr) std::fill(strip, strip + static_cast<int64_t>(mr) * kc, 0.0f);
    if (a.col_stride == 1) {
      for (int i = 0; i < h; ++i)
        for (int p = 0; p < kc; ++p) strip[p * mr + i] = alpha * a.at(i0 + i, p);
    } else {
      for (int p = 0; p < kc; ++p)
        for (int i = 0; i < h; ++i) strip[p * mr + i] = alpha * a.at(i0 + i, p);
    }
  }
}

// Packs rows [0, kc) x cols [0, cols) of `b` into strips of `nr` columns (kc steps of nr values),
// zero-padded to whole strips.
void PackBStrip(const MatrixView& b, int kc, int j0, int cols, int nr, float* strip) {
  int w = std::min(nr, cols - j0);
  if (w < nr) std::fill(strip, strip + static_cast<int64_t>(nr) * kc, 0.0f);
  if (b.col_stride == 1) {
    for (int p = 0; p < kc; ++p)
      for (int j = 0; j < w; ++j) strip[p * nr + j] = b.at(p, j0 + j);
  } else {
    for (int j = 0; j < w; ++j)
      for (int p = 0; p < kc; ++p) strip[p * nr + j] = b.at(p, j0 + j);
  }
}

// Packs rows [0, rows) of w (rows ldw floats apart, k long; rows <= nr) as one strip of B = wᵀ over
// the whole of k: for each KC block, kc steps of nr values (as PackBStrip lays one block out),
// zero-padded to nr. Groups of 8 rows are read side by side from start to end, 8 streams that
// the prefetchers follow, and each step writes 8 adjacent floats.
void PackBRows(const float* w, int64_t ldw, int k, int rows, int nr, float* panel) {
  constexpr int kGroup = 8;
  if (rows < nr) std::fill(panel, panel + static_cast<int64_t>(nr) * k, 0.0f);
  for (int j0 = 0; j0 < rows; j0 += kGroup) {
    const int count = std::min(kGroup, rows - j0);
    for (int pc = 0; pc < k; pc += kKc) {
      const int kc = std::min(kKc, k - pc);
      float* block = panel + static_cast<int64_t>(pc) * nr + j0;
      const float* src = w + j0 * ldw + pc;
      if (count == kGroup) {
        for (int p = 0; p < kc; ++p) {
          for (int j = 0; j < kGroup; ++j) block[p * nr + j] = src[j * ldw + p];
        }
      } else {
        for (int p = 0; p < kc; ++p) {
          for (int j = 0; j < count; ++j) block[p * nr + j] = src[j * ldw + p];
        }
      }
    }
  }
}

void ScaleRows(int64_t rows, int n, float beta, float* c, int64_t ldc) {
  if (beta == 1.0f) return;
  for (int64_t i = 0; i < rows; ++i) {
    float* row = c + i * ldc;
    if (beta == 0.0f) {
      std::fill(row, row + n, 0.0f);
    } else {
      for (int j = 0; j < n; ++j) row[j] *= beta;
    }
  }
}

void ScaleC(int m, int n, float beta, float* c, int64_t ldc) {
  if (beta == 1.0f) return;
  ParallelFor(m, 16,
              [&](int64_t i0, int64_t i1) { ScaleRows(i1 - i0, n, beta, c + i0 * ldc, ldc); });
}

// The micro-kernel for a tile n_eff columns wide. The narrow one skips the padding of a last strip
// that is at most half full: conv3-conv5's 169 columns per image leave 9 in the last of 6 strips.
MicroKernelFn MicroFor(const GemmKernel& kernel, int n_eff) {
  return 2 * n_eff <= kernel.nr ? kernel.narrow : kernel.micro;
}

// One KC block of packed panels: C's tiles for A strips [i0, i1) and B strips [j0, j1) (strip
// ir of A at a_block + ir * MR * kc, strip jr of B at b_block + jr * NR * kc, in C's columns from
// col0 + jr * NR). Each B strip is swept over an MC block of A strips, reusing it from L1.
struct PackedPanels {
  const GemmKernel& kernel;
  int kc;
  const float* a_block;
  const float* b_block;
  int m, n;  // C's rows and columns, which bound the last tiles
  float* c;
  int64_t ldc;
  bool accumulate;

  void Multiply(int i0, int i1, int j0, int j1, int col0) const {
    const int mr = kernel.mr;
    const int nr = kernel.nr;
    for (int ib = i0; ib < i1; ib += kMc / mr) {
      const int ie = std::min(i1, ib + kMc / mr);
      for (int jr = j0; jr < j1; ++jr) {
        const int j = col0 + jr * nr;
        const int n_eff = std::min(nr, n - j);
        for (int ir = ib; ir < ie; ++ir) {
          MicroFor(kernel, n_eff)(kc, a_block + static_cast<int64_t>(ir) * mr * kc,
                                  b_block + static_cast<int64_t>(jr) * nr * kc, nr,
                                  c + ir * mr * ldc + j, ldc, std::min(mr, m - ir * mr), n_eff,
                                  accumulate);
        }
      }
    }
  }
};

// One Sgemm call's operands, as its drivers below share them.
struct GemmCall {
  const GemmKernel& kernel;
  bool trans_a, trans_b;
  int m, n, k;
  float alpha;
  const float* a;
  int64_t lda;
  const float* b;
  int64_t ldb;
  bool accumulate;  // add to C (already scaled by beta) rather than overwrite it
  float* c;
  int64_t ldc;
  const GemmEpilogue* epilogue;  // null for none

  // op(A) from column pc on, and op(B) from row pc, column jc on.
  MatrixView ABlock(int pc) const {
    return trans_a ? MatrixView{a + pc * lda, 1, lda} : MatrixView{a + pc, lda, 1};
  }
  MatrixView BBlock(int pc, int jc) const {
    return trans_b ? MatrixView{b + jc * ldb + pc, 1, ldb} : MatrixView{b + pc * ldb + jc, ldb, 1};
  }
  int MStrips() const { return (m + kernel.mr - 1) / kernel.mr; }
  int NStrips() const { return (n + kernel.nr - 1) / kernel.nr; }

  // The KC block starting at pc, with A and B packed in these buffers.
  PackedPanels Panels(int pc, int kc, const float* a_packed, const float* b_packed) const {
    return {kernel, kc, a_packed, b_packed, m, n, c, ldc, accumulate || pc > 0};
  }

  // C[i0.., j0..] (+)= the tile of packed A strip `a_strip` and B strip `b_strip` (rows ldb apart)
  // for the KC block starting at pc.
  void Tile(int pc, int kc, const float* a_strip, const float* b_strip, int64_t b_stride, int i0,
            int j0) const {
    const int n_eff = std::min(kernel.nr, n - j0);
    MicroFor(kernel, n_eff)(kc, a_strip, b_strip, b_stride, c + i0 * ldc + j0, ldc,
                            std::min(kernel.mr, m - i0), n_eff, accumulate || pc > 0);
  }
};

// A B (or Aᵀ B) with few rows of A, B not transposed: a fully connected layer's backward-data, dy
// W. Each element of B (the weights) is used only m times, so packing it cost as much as the
// multiply: fc6's at batch 16 took 46 ms, 26 GFLOP/s. The few-rows micro-kernel reads B's rows in
// place instead, prefetching the next strip; only a last strip narrower than its width is packed,
// so that no load runs past B's row. Threads split the columns and each packs all of A (m rows).
void GemmInPlaceB(const GemmCall& g) {
  const int mr = g.kernel.few_mr;
  const int nr = g.kernel.few_nr;
  const int m_strips = (g.m + mr - 1) / mr;
  const int kc_max = std::min(g.k, kKc);
  ParallelFor((g.n + nr - 1) / nr, 4, [&](int64_t s0, int64_t s1) {
    float* a_packed = a_buffer.Reserve(static_cast<size_t>(m_strips) * mr * kc_max);
    float* edge = b_buffer.Reserve(static_cast<size_t>(nr) * kc_max);
    for (int pc = 0; pc < g.k; pc += kKc) {
      const int kc = std::min(kKc, g.k - pc);
      PackA(g.ABlock(pc), g.m, kc, g.alpha, mr, a_packed);
      const MatrixView block = g.BBlock(pc, 0);
      for (int64_t s = s0; s < s1; ++s) {
        const int j0 = static_cast<int>(s) * nr;
        const float* strip = block.x + j0;
        int64_t stride = g.ldb;
        if (g.n - j0 < nr) {
          PackBStrip(block, kc, j0, g.n, nr, edge);
          strip = edge;
          stride = nr;
        }
        for (int ir = 0; ir < m_strips; ++ir) {
          g.kernel.few_rows(kc, a_packed + static_cast<int64_t>(ir) * mr * kc, strip, stride,
                            g.c + ir * mr * g.ldc + j0, g.ldc, std::min(mr, g.m - ir * mr),
                            std::min(nr, g.n - j0), g.accumulate || pc > 0);
        }
      }
    }
  });
}

// Calls with a short inner dimension (k <= kShallowMaxK) and many rows: a fully connected
// layer's backward-filter, dyᵀ x, whose k is the batch. Each element of C is a sum of k products
// only, so writing C is much of the work: fc6's weight gradient is 151 MB. All of B is packed once
// (k x n, 590 KB for fc6 at batch 16: it stays in each core's L2) and all of A, the threads split
// A's strips, and each sweeps its rows of C from left to right, so that C is written row by row,
// once. A C overwritten and too large for the caches is written past them (the stream kernel),
// which saves reading each line in before it is written: half the memory traffic.
void GemmShallow(const GemmCall& g) {
  const int mr = g.kernel.mr;
  const int nr = g.kernel.nr;
  const int n_strips = g.NStrips();
  float* const a_packed = a_buffer.Reserve(static_cast<size_t>(g.MStrips()) * mr * g.k);
  float* const b_packed = b_buffer.Reserve(static_cast<size_t>(n_strips) * nr * g.k);
  ParallelFor(n_strips, 16, [&](int64_t s0, int64_t s1) {
    for (int64_t s = s0; s < s1; ++s) {
      PackBStrip(g.BBlock(0, 0), g.k, static_cast<int>(s) * nr, g.n, nr, b_packed + s * nr * g.k);
    }
  });
  const bool aligned = reinterpret_cast<uintptr_t>(g.c) % 64 == 0 && g.ldc % 16 == 0;
  const bool stream = !g.accumulate && !g.epilogue && aligned &&
                      static_cast<int64_t>(g.m) * g.n >= kStreamMinFloats;
  ParallelFor(g.MStrips(), 1, [&](int64_t i0, int64_t i1) {
    MatrixView rows = g.ABlock(0);
    rows.x += i0 * mr * rows.row_stride;
    const int count = static_cast<int>(std::min<int64_t>(g.m, i1 * mr) - i0 * mr);
    PackA(rows, count, g.k, g.alpha, mr, a_packed + i0 * mr * g.k);
    for (int64_t ir = i0; ir < i1; ++ir) {
      for (int s = 0; s < n_strips; ++s) {
        const int j0 = s * nr;
        const int n_eff = std::min(nr, g.n - j0);
        const MicroKernelFn kernel =
            n_eff == nr && stream ? g.kernel.stream : MicroFor(g.kernel, n_eff);
        kernel(g.k, a_packed + ir * mr * g.k, b_packed + static_cast<int64_t>(s) * nr * g.k, nr,
               g.c + ir * mr * g.ldc + j0, g.ldc, std::min<int64_t>(mr, g.m - ir * mr), n_eff,
               g.accumulate);
      }
    }
    if (g.epilogue) {
      g.epilogue->Apply(static_cast<int>(i0) * mr, static_cast<int>(i0) * mr + count, 0, g.n, g.c,
                        g.ldc);
    }
#if defined(ALEXNET_GEMM_X86)
    // Non-temporal stores are weakly ordered: this thread's must be visible before the pool
    // reports it done.
    if (stream) __builtin_ia32_sfence();
#endif
  });
}

// C's columns [j_begin, j_end) on the calling thread alone: all of A's rows and these columns of
// B packed into this thread's buffers, one KC x NC block at a time, each B strip swept over an
// MC block of A from L1. For calls with more column strips than row strips (a convolution's
// backward-filter: conv1's dy x colᵀ is 96 x 363 x 3025 per image), the threads split the
// columns this way in one parallel region, where packing shared buffers took three per KC block.
void GemmColumns(const GemmCall& g, int j_begin, int j_end) {
  const int mr = g.kernel.mr;
  const int nr = g.kernel.nr;
  const int kc_max = std::min(g.k, kKc);
  const int nc_max = std::min((j_end - j_begin + nr - 1) / nr * nr, kNc);
  float* a_packed = a_buffer.Reserve(static_cast<size_t>(g.MStrips()) * mr * kc_max);
  float* b_packed = b_buffer.Reserve(static_cast<size_t>(nc_max) * kc_max);
  for (int jc = j_begin; jc < j_end; jc += kNc) {
    const int nc = std::min(kNc, j_end - jc);
    const int n_strips = (nc + nr - 1) / nr;
    for (int pc = 0; pc < g.k; pc += kKc) {
      const int kc = std::min(kKc, g.k - pc);
      PackA(g.ABlock(pc), g.m, kc, g.alpha, mr, a_packed);
      // Columns past j_end are padding here even where C has more: nc, not n, bounds the pack.
      for (int s = 0; s < n_strips; ++s) {
        PackBStrip(g.BBlock(pc, jc), kc, s * nr, nc, nr,
                   b_packed + static_cast<int64_t>(s) * nr * kc);
      }
      g.Panels(pc, kc, a_packed, b_packed).Multiply(0, g.MStrips(), 0, n_strips, jc);
    }
    if (g.epilogue) g.epilogue->Apply(0, g.m, jc, jc + nc, g.c, g.ldc);
  }
}

// A Bᵀ where B is far larger than A (a fully connected layer's training forward at batch 128: W
// is 4096 x 9216, x 128 x 9216). GemmColumns packs B a KC x NC block at a time, which reads each
// of NC rows of W 1 KiB at a time (KC floats), a new page each: packing then took as long as the
// multiply. Here all of A is packed once (at most kWideBMaxA floats), and each thread packs B one
// strip of NR rows of W at a time over the whole of k, reading those rows from start to end, then
// runs that strip against all of A's strips, KC block by KC block: the sums of GemmColumns.
void GemmWideB(const GemmCall& g) {
  const int mr = g.kernel.mr;
  const int nr = g.kernel.nr;
  const int m_strips = g.MStrips();
  const int64_t padded_m = static_cast<int64_t>(m_strips) * mr;
  float* const a_packed = a_buffer.Reserve(static_cast<size_t>(padded_m) * g.k);
  ParallelFor(m_strips, 1, [&](int64_t i0, int64_t i1) {
    for (int pc = 0; pc < g.k; pc += kKc) {
      const int kc = std::min(kKc, g.k - pc);
      MatrixView rows = g.ABlock(pc);
      rows.x += i0 * mr * rows.row_stride;
      const int count = static_cast<int>(std::min<int64_t>(g.m, i1 * mr) - i0 * mr);
      PackA(rows, count, kc, g.alpha, mr, a_packed + pc * padded_m + i0 * mr * kc);
    }
  });
  ParallelFor(g.NStrips(), 1, [&](int64_t s0, int64_t s1) {
    float* const panel = b_buffer.Reserve(static_cast<size_t>(nr) * g.k);
    for (int64_t s = s0; s < s1; ++s) {
      const int j0 = static_cast<int>(s) * nr;
      PackBRows(g.b + static_cast<int64_t>(j0) * g.ldb, g.ldb, g.k, std::min(nr, g.n - j0), nr,
                panel);
      for (int pc = 0; pc < g.k; pc += kKc) {
        const int kc = std::min(kKc, g.k - pc);
        for (int ir = 0; ir < m_strips; ++ir) {
          g.Tile(pc, kc, a_packed + pc * padded_m + static_cast<int64_t>(ir) * mr * kc,
                 panel + static_cast<int64_t>(pc) * nr, nr, ir * mr, j0);
        }
      }
      if (g.epilogue) g.epilogue->Apply(0, g.m, j0, std::min(g.n, j0 + nr), g.c, g.ldc);
    }
  });
}

// Calls with more row strips than column strips (a convolution's backward-data): B is packed
// once per KC x NC block into the calling thread's buffer, shared by the threads, which split
// A's rows, pack their own and sweep each B strip over MC-row blocks of them.
void GemmRows(const GemmCall& g) {
  const int mr = g.kernel.mr;
  const int nr = g.kernel.nr;
  const int m_strips = g.MStrips();
  const int kc_max = std::min(g.k, kKc);
  const int nc_max = std::min(g.NStrips() * nr, kNc);
  float* const a_packed = a_buffer.Reserve(static_cast<size_t>(m_strips) * mr * kc_max);
  float* const b_packed = b_buffer.Reserve(static_cast<size_t>(nc_max) * kc_max);
  for (int jc = 0; jc < g.n; jc += kNc) {
    const int nc = std::min(kNc, g.n - jc);
    const int n_strips = (nc + nr - 1) / nr;
    for (int pc = 0; pc < g.k; pc += kKc) {
      const int kc = std::min(kKc, g.k - pc);
      ParallelFor(n_strips, 4, [&](int64_t s0, int64_t s1) {
        for (int64_t s = s0; s < s1; ++s) {
          PackBStrip(g.BBlock(pc, jc), kc, static_cast<int>(s) * nr, nc, nr,
                     b_packed + s * nr * kc);
        }
      });
      ParallelFor(m_strips, 1, [&](int64_t i0, int64_t i1) {
        MatrixView rows = g.ABlock(pc);
        rows.x += i0 * mr * rows.row_stride;
        const int count = static_cast<int>(std::min<int64_t>(g.m, i1 * mr) - i0 * mr);
        PackA(rows, count, kc, g.alpha, mr, a_packed + i0 * mr * kc);
        g.Panels(pc, kc, a_packed, b_packed)
            .Multiply(static_cast<int>(i0), static_cast<int>(i1), 0, n_strips, jc);
      });
    }
  }
}

// A Bᵀ with kBroadcastMinRows to kDotMaxRows rows of A (a fully connected layer's forward at
// batch 8-32): A is packed transposed once, each row's values side by side (590 KB for fc6 at
// batch 16, in L2), and the threads split B's rows, which the broadcast kernel reads in place.
void GemmBroadcast(const GemmKernel& kernel, int m, int n, int k, float alpha, const float* a,
                   int64_t lda, const float* b, int64_t ldb, float* c, int64_t ldc,
                   const GemmEpilogue* epilogue) {
  int lanes = kernel.vw;
  while (lanes < m) lanes *= 2;
  float* const at = a_buffer.Reserve(static_cast<size_t>(lanes) * k);
  ParallelFor(k, 256, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      float* step = at + p * lanes;
      for (int i = 0; i < m; ++i) step[i] = a[i * lda + p];
      std::fill(step + m, step + lanes, 0.0f);
    }
  });
  ParallelFor(n, 64, [&](int64_t j0, int64_t j1) {
    const int begin = static_cast<int>(j0);
    const int end = static_cast<int>(j1);
    kernel.broadcast(m, end - begin, k, alpha, at, lanes, b + begin * ldb, ldb, c + begin, ldc);
    if (epilogue) epilogue->Apply(0, m, begin, end, c, ldc);
  });
}

// The epilogue over all of C in one parallel pass, for the drivers that do not apply it per
// block (their blocks' rows or columns are not one thread's alone).
void ApplyEpilogue(int m, int n, float* c, int64_t ldc, const GemmEpilogue* epilogue) {
  if (!epilogue) return;
  ParallelFor(m, std::max(1, 4096 / std::max(1, n)), [&](int64_t i0, int64_t i1) {
    epilogue->Apply(static_cast<int>(i0), static_cast<int>(i1), 0, n, c, ldc);
  });
}

}  // namespace

const char* GemmIsa() { return Kernel().isa; }

double MeasurePeakGflops() {
  const GemmKernel& kernel = Kernel();
  const int threads = ThreadCount();
  const double flop_per_step = 2.0 * kernel.mr * kernel.nr;
  // About 0.1 s per run at 100 GFLOP/s per thread; the best of 3 runs skips a descheduled one.
  const int64_t steps = static_cast<int64_t>(1e10 / flop_per_step);
  double best = 0.0;
  for (int run = 0; run < 3; ++run) {
    const auto start = std::chrono::steady_clock::now();
    ParallelFor(threads, 1, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) kernel.fma_loop(steps);
    });
    const std::chrono::duration<double> seconds = std::chrono::steady_clock::now() - start;
    best = std::max(best, threads * steps * flop_per_step / seconds.count() / 1e9);
  }
  return best;
}

void GemmEpilogue::Apply(int i0, int i1, int j0, int j1, float* c, int64_t ldc) const {
  for (int i = i0; i < i1; ++i) {
    float* row = c + i * ldc;
    if (row_bias) {
      const float value = row_bias[i];
      for (int j = j0; j < j1; ++j) row[j] += value;
    }
    if (col_bias) {
      for (int j = j0; j < j1; ++j) row[j] += col_bias[j];
    }
    if (relu) {
      for (int j = j0; j < j1; ++j) row[j] = std::max(row[j], 0.0f);
    }
  }
}

void Sgemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a,
           int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc,
           const GemmEpilogue* epilogue) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0 || alpha == 0.0f) {
    ScaleC(m, n, beta, c, ldc);
    return ApplyEpilogue(m, n, c, ldc, epilogue);
  }

  const GemmKernel& kernel = Kernel();
  // A B^T with few rows of A (a fully connected layer at small batch): every element of B is
  // used only m times, so packing it would cost as much as the multiply. Dot products of rows
  // read B once instead.
  if (!trans_a && trans_b && m <= kDotMaxRows) {
    ScaleC(m, n, beta, c, ldc);
    if (m >= kBroadcastMinRows)
      return GemmBroadcast(kernel, m, n, k, alpha, a, lda, b, ldb, c, ldc, epilogue);
    ParallelFor((n + 3) / 4, 16, [&](int64_t j0, int64_t j1) {
      const int begin = static_cast<int>(j0) * 4;
      const int end = std::min(n, static_cast<int>(j1) * 4);
      kernel.dot(m, end - begin, k, alpha, a, lda, b + begin * ldb, ldb, c + begin, ldc);
      if (epilogue) epilogue->Apply(0, m, begin, end, c, ldc);
    });
    return;
  }
  // Where beta is 0 the first KC block overwrites C instead of adding to zeros: C is then neither
  // zeroed first nor read (fc6's weight gradient is 151 MB). Other betas scale C once up front.
  if (beta != 0.0f) ScaleC(m, n, beta, c, ldc);
  const bool accumulate = beta != 0.0f;
  const GemmCall call{kernel, trans_a, trans_b, m,          n, k,   alpha,   a,
                      lda,    b,       ldb,     accumulate, c, ldc, epilogue};
  if (!trans_b && (m <= kInPlaceMaxRows || (m <= kInPlaceWideMaxRows && n >= kWideBMinRatio * m))) {
    GemmInPlaceB(call);
    return ApplyEpilogue(m, n, c, ldc, epilogue);
  }
  if (k <= kShallowMaxK && static_cast<int64_t>(k) * n <= kShallowMaxB) return GemmShallow(call);
  if (trans_b && n >= kWideBMinRatio * m && static_cast<int64_t>(m) * k <= kWideBMaxA) {
    return GemmWideB(call);
  }
  if (call.NStrips() < call.MStrips()) {
    GemmRows(call);
    return ApplyEpilogue(m, n, c, ldc, epilogue);
  }
  // The threads split the columns, each running its share alone (GemmColumns).
  ParallelFor(call.NStrips(), 1, [&](int64_t s0, int64_t s1) {
    GemmColumns(call, static_cast<int>(s0) * kernel.nr,
                std::min(n, static_cast<int>(s1) * kernel.nr));
  });
}

PackedB::PackedB(int k, int n) : k_(k), n_(n), nr_(Kernel().nr) {
  padded_n_ = (n + nr_ - 1) / nr_ * nr_;
}

PackedB::RowWriter PackedB::Row(float* packed, int p, int j) const {
  const int pc = p / kKc * kKc;
  const int64_t strip_floats = static_cast<int64_t>(nr_) * std::min(kKc, k_ - pc);
  float* row = packed + static_cast<int64_t>(pc) * padded_n_ + static_cast<int64_t>(p - pc) * nr_;
  return RowWriter(row + j / nr_ * strip_floats, strip_floats, nr_, j % nr_);
}

void PackedB::ZeroPadding(float* packed) const {
  if (n_ == padded_n_) return;
  for (int p = 0; p < k_; ++p) {
    Row(packed, p, n_).Append(padded_n_ - n_, [](int) { return 0.0f; });
  }
}

PackedA::PackedA(int m, int k) : m_(m), k_(k), mr_(Kernel().mr) {
  padded_m_ = (m + mr_ - 1) / mr_ * mr_;
}

void PackedA::Pack(const float* a, int64_t lda, float alpha, float* packed, bool trans) const {
  ParallelFor(padded_m_ / mr_, 1, [&](int64_t s0, int64_t s1) {
    for (int64_t s = s0; s < s1; ++s) {
      const int i0 = static_cast<int>(s) * mr_;
      const int rows = std::min(mr_, m_ - i0);
      for (int pc = 0; pc < k_; pc += kKc) {
        const int kc = std::min(kKc, k_ - pc);
        const MatrixView block =
            trans ? MatrixView{a + pc * lda + i0, 1, lda} : MatrixView{a + i0 * lda + pc, lda, 1};
        PackA(block, rows, kc, alpha, mr_,
              packed + static_cast<int64_t>(pc) * padded_m_ + static_cast<int64_t>(i0) * kc);
      }
    }
  });
}

void SgemmPacked(const PackedA& a_layout, const float* a_packed, const PackedB& b_layout,
                 const float* b_packed, float beta, float* c, int64_t ldc,
                 const GemmEpilogue* epilogue, bool split_columns) {
  const int m = a_layout.m();
  const int n = b_layout.n();
  const int k = a_layout.k();
  if (m <= 0 || n <= 0) return;
  const GemmKernel& kernel = Kernel();
  const int mr = kernel.mr;
  const int nr = kernel.nr;
  const int m_strips = (m + mr - 1) / mr;
  const int n_strips = (n + nr - 1) / nr;
  const int64_t padded_m = static_cast<int64_t>(m_strips) * mr;
  const int64_t padded_n = static_cast<int64_t>(n_strips) * nr;

  // C's strips [i0, i1) x [j0, j1), on the calling thread: each B strip is swept over an MC
  // block of A's strips.
  auto run = [&](int i0, int i1, int j0, int j1) {
    const int rows = std::min(m, i1 * mr) - i0 * mr;
    const int cols = std::min(n, j1 * nr) - j0 * nr;
    float* corner = c + i0 * mr * ldc + j0 * nr;
    // As in Sgemm, beta 0 makes the first KC block overwrite C.
    if (k <= 0 || (beta != 0.0f && beta != 1.0f)) ScaleRows(rows, cols, beta, corner, ldc);
    for (int pc = 0; pc < k; pc += kKc) {
      const int kc = std::min(kKc, k - pc);
      const float* a_block = a_packed + pc * padded_m;
      const float* b_block = b_packed + pc * padded_n;
      const bool accumulate = pc > 0 || beta != 0.0f;
      const PackedPanels panels{kernel, kc, a_block, b_block, m, n, c, ldc, accumulate};
      panels.Multiply(i0, i1, j0, j1, 0);
    }
    if (epilogue) epilogue->Apply(i0 * mr, i0 * mr + rows, j0 * nr, j0 * nr + cols, c, ldc);
  };
  if (!split_columns && m_strips >= ThreadCount()) {
    ParallelFor(m_strips, 1, [&](int64_t i0, int64_t i1) {
      run(static_cast<int>(i0), static_cast<int>(i1), 0, n_strips);
    });
  } else {
    ParallelFor(n_strips, 1, [&](int64_t j0, int64_t j1) {
      run(0, m_strips, static_cast<int>(j0), static_cast<int>(j1));
    });
  }
}

void SgemmPackedAInPlaceB(const PackedA& a_layout, const float* a_packed, const float* b,
                          int64_t ldb, int n, float* c, int64_t ldc) {
  const int m = a_layout.m();
  const int k = a_layout.k();
  if (m <= 0 || n <= 0) return;
  const GemmKernel& kernel = Kernel();
  const int mr = kernel.mr;
  const int nr = kernel.nr;
  const int m_strips = (m + mr - 1) / mr;
  const int64_t padded_m = static_cast<int64_t>(m_strips) * mr;
  if (k <= 0) return ScaleRows(m, n, 0.0f, c, ldc);
  float* const edge = b_buffer.Reserve(static_cast<size_t>(nr) * std::min(k, kKc));
  for (int pc = 0; pc < k; pc += kKc) {
    const int kc = std::min(kKc, k - pc);
    const MatrixView block{b + pc * ldb, ldb, 1};
    // Each strip of B, from L1, against all of A's strips (this KC block of A is in L2).
    for (int j0 = 0; j0 < n; j0 += nr) {
      const int n_eff = std::min(nr, n - j0);
      const float* strip = block.x + j0;
      int64_t stride = ldb;
      if (n_eff < nr) {
        PackBStrip(block, kc, j0, n, nr, edge);
        strip = edge;
        stride = nr;
      }
      const MicroKernelFn micro = MicroFor(kernel, n_eff);
      // While this strip runs against A, the next one is asked for into L2, a few of its rows
      // per tile: its kc rows are as many streams, more than the hardware prefetchers follow, and
      // B read from memory (a batch's dy) stalled each strip's first tiles on them: conv1's
      // backward-data at batch 16 took 7% less CPU time with it (bench/RESULTS.md).
      const int rows_per_tile = (kc + m_strips - 1) / m_strips;
      for (int ir = 0; ir < m_strips; ++ir) {
        if (j0 + nr < n) {
          const int p1 = std::min(kc, (ir + 1) * rows_per_tile);
          for (int p = ir * rows_per_tile; p < p1; ++p) {
            // A row's NR floats, unaligned, span up to three cache lines.
            const float* next = block.x + p * ldb + j0 + nr;
            __builtin_prefetch(next, 0, 2);
            __builtin_prefetch(next + nr / 2, 0, 2);
            __builtin_prefetch(next + nr - 1, 0, 2);
          }
        }
        micro(kc, a_packed + pc * padded_m + static_cast<int64_t>(ir) * mr * kc, strip, stride,
              c + ir * mr * ldc + j0, ldc, std::min(mr, m - ir * mr), n_eff, pc > 0);
      }
    }
  }
}

static_assert(PackedWeights::kDotRows == kDotMaxRows, "PackedWeights leaves these rows to Sgemm");

void PackedWeights::Pack(const float* w, int n, int k) {
  Clear();
  const PackedB layout(k, n);
  const size_t bytes = (static_cast<size_t>(layout.size()) * sizeof(float) + 63) / 64 * 64;
  packed_ = static_cast<float*>(std::aligned_alloc(64, bytes == 0 ? 64 : bytes));
  if (packed_ == nullptr) return;
  n_ = n;
  k_ = k;
  const int nr = Kernel().nr;
  const int64_t padded_n = layout.size() / std::max(k, 1);
  const int strips = (n + nr - 1) / nr;
  // Block by block of KC rows of B (columns of W), strip by strip of NR columns (rows of W): as
  // PackedB lays them out, and as Sgemm's GemmColumns packs Bᵀ on every call.
  for (int pc = 0; pc < k; pc += kKc) {
    const int kc = std::min(kKc, k - pc);
    ParallelFor(strips, 4, [&](int64_t s0, int64_t s1) {
      for (int64_t s = s0; s < s1; ++s) {
        PackBStrip(MatrixView{w + pc, 1, k}, kc, static_cast<int>(s) * nr, n, nr,
                   packed_ + pc * padded_n + s * nr * kc);
      }
    });
  }
}

void PackedWeights::Multiply(int m, const float* a, int64_t lda, float* c, int64_t ldc,
                             const GemmEpilogue* epilogue) const {
  const PackedA a_layout(m, k_);
  float* a_packed = a_buffer.Reserve(static_cast<size_t>(a_layout.size()));
  a_layout.Pack(a, lda, 1.0f, a_packed);
  SgemmPacked(a_layout, a_packed, PackedB(k_, n_), packed_, 0.0f, c, ldc, epilogue, true);
}

void PackedWeights::Clear() {
  std::free(packed_);
  packed_ = nullptr;
  n_ = k_ = 0;
}

}  // namespace alexnet::cpu
