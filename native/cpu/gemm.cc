#include "cpu/gemm.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
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
// Up to this many rows of A, A B reads B in place (SgemmInPlaceB) instead of packing it.
constexpr int kInPlaceMaxRows = 32;

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

// A B (or Aᵀ B) with few rows of A, B not transposed: a fully connected layer's backward-data at
// small batch, dy W. Each element of B (the weights) is used only m times, so packing it cost
// as much as the multiply: fc6's at batch 16 took 46 ms, 26 GFLOP/s. The micro-kernel reads
// B's rows in place instead; only a last strip narrower than NR is packed, so that no load runs
// past B's row. Threads split the columns and each packs all of A (m rows, few).
void SgemmInPlaceB(const GemmKernel& kernel, bool trans_a, int m, int n, int k, float alpha,
                   const float* a, int64_t lda, const float* b, int64_t ldb, bool accumulate,
                   float* c, int64_t ldc) {
  const int mr = kernel.mr;
  const int nr = kernel.nr;
  const int m_strips = (m + mr - 1) / mr;
  const int kc_max = std::min(k, kKc);
  ParallelFor((n + nr - 1) / nr, 4, [&](int64_t s0, int64_t s1) {
    float* a_packed = a_buffer.Reserve(static_cast<size_t>(m_strips) * mr * kc_max);
    float* edge = b_buffer.Reserve(static_cast<size_t>(nr) * kc_max);
    for (int pc = 0; pc < k; pc += kKc) {
      const int kc = std::min(kKc, k - pc);
      PackA(trans_a ? MatrixView{a + pc * lda, 1, lda} : MatrixView{a + pc, lda, 1}, m, kc, alpha,
            mr, a_packed);
      const MatrixView block{b + pc * ldb, ldb, 1};
      for (int64_t s = s0; s < s1; ++s) {
        const int j0 = static_cast<int>(s) * nr;
        const int n_eff = std::min(nr, n - j0);
        const float* strip = block.x + j0;
        int64_t stride = ldb;
        if (n_eff < nr) {
          PackBStrip(block, kc, j0, n, nr, edge);
          strip = edge;
          stride = nr;
        }
        for (int ir = 0; ir < m_strips; ++ir) {
          MicroFor(kernel, n_eff)(kc, a_packed + static_cast<int64_t>(ir) * mr * kc, strip, stride,
                                  c + ir * mr * ldc + j0, ldc, std::min(mr, m - ir * mr), n_eff,
                                  accumulate || pc > 0);
        }
      }
    }
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

void Sgemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a,
           int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0 || alpha == 0.0f) return ScaleC(m, n, beta, c, ldc);

  const GemmKernel& kernel = Kernel();
  // A B^T with few rows of A (a fully connected layer at small batch): every element of B is
  // used only m times, so packing it would cost as much as the multiply. Dot products of rows
  // read B once instead.
  if (!trans_a && trans_b && m <= kDotMaxRows) {
    ScaleC(m, n, beta, c, ldc);
    ParallelFor((n + 3) / 4, 16, [&](int64_t j0, int64_t j1) {
      const int begin = static_cast<int>(j0) * 4;
      const int end = std::min(n, static_cast<int>(j1) * 4);
      kernel.dot(m, end - begin, k, alpha, a, lda, b + begin * ldb, ldb, c + begin, ldc);
    });
    return;
  }
  // Where beta is 0 the first KC block overwrites C instead of adding to zeros: C is then neither
  // zeroed first nor read (fc6's weight gradient is 151 MB). Other betas scale C once up front.
  if (beta != 0.0f) ScaleC(m, n, beta, c, ldc);
  if (!trans_b && m <= kInPlaceMaxRows) {
    return SgemmInPlaceB(kernel, trans_a, m, n, k, alpha, a, lda, b, ldb, beta != 0.0f, c, ldc);
  }
  const int mr = kernel.mr;
  const int nr = kernel.nr;
  const int m_strips = (m + mr - 1) / mr;
  const int kc_max = std::min(k, kKc);
  const int nc_max = std::min((n + nr - 1) / nr * nr, kNc);
  float* const a_packed = a_buffer.Reserve(static_cast<size_t>(m_strips) * mr * kc_max);
  float* const b_packed = b_buffer.Reserve(static_cast<size_t>(nc_max) * kc_max);

  for (int jc = 0; jc < n; jc += kNc) {
    const int nc = std::min(kNc, n - jc);
    const int n_strips = (nc + nr - 1) / nr;
    for (int pc = 0; pc < k; pc += kKc) {
      const int kc = std::min(kKc, k - pc);
      MatrixView a_view = trans_a ? MatrixView{a + pc * lda, 1, lda} : MatrixView{a + pc, lda, 1};
      MatrixView b_view =
          trans_b ? MatrixView{b + jc * ldb + pc, 1, ldb} : MatrixView{b + pc * ldb + jc, ldb, 1};

      ParallelFor(n_strips, 4, [&](int64_t s0, int64_t s1) {
        for (int64_t s = s0; s < s1; ++s)
          PackBStrip(b_view, kc, static_cast<int>(s) * nr, nc, nr, b_packed + s * nr * kc);
      });
      ParallelFor(m_strips, 4, [&](int64_t s0, int64_t s1) {
        MatrixView rows = a_view;
        rows.x += s0 * mr * a_view.row_stride;
        int count = static_cast<int>(std::min<int64_t>(m, s1 * mr) - s0 * mr);
        PackA(rows, count, kc, alpha, mr, a_packed + s0 * mr * kc);
      });

      // Split the work between threads along whichever dimension has more strips; each thread
      // then walks MC-row blocks of A, reusing each B strip across the block from L1.
      auto tile = [&](int64_t ir, int64_t jr) {
        const int i0 = static_cast<int>(ir) * mr;
        const int j0 = static_cast<int>(jr) * nr;
        const int n_eff = std::min(nr, nc - j0);
        MicroFor(kernel, n_eff)(
            kc, a_packed + static_cast<int64_t>(i0) * kc, b_packed + static_cast<int64_t>(j0) * kc,
            nr, c + i0 * ldc + jc + j0, ldc, std::min(mr, m - i0), n_eff, pc > 0 || beta != 0.0f);
      };
      const int strips_per_block = kMc / mr;
      if (n_strips >= m_strips) {
        ParallelFor(n_strips, 1, [&](int64_t j0, int64_t j1) {
          for (int ib = 0; ib < m_strips; ib += strips_per_block) {
            const int ie = std::min(m_strips, ib + strips_per_block);
            for (int64_t jr = j0; jr < j1; ++jr)
              for (int ir = ib; ir < ie; ++ir) tile(ir, jr);
          }
        });
      } else {
        ParallelFor(m_strips, 1, [&](int64_t i0, int64_t i1) {
          for (int64_t ib = i0; ib < i1; ib += strips_per_block) {
            const int64_t ie = std::min(i1, ib + strips_per_block);
            for (int jr = 0; jr < n_strips; ++jr)
              for (int64_t ir = ib; ir < ie; ++ir) tile(ir, jr);
          }
        });
      }
    }
  }
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

void SgemmPackedB(int m, float alpha, const float* a, int64_t lda, const PackedB& layout,
                  const float* b_packed, float beta, float* c, int64_t ldc) {
  const int n = layout.n();
  const int k = layout.k();
  if (m <= 0 || n <= 0) return;
  const GemmKernel& kernel = Kernel();
  const int mr = kernel.mr;
  const int nr = kernel.nr;
  const int m_strips = (m + mr - 1) / mr;
  const int n_strips = (n + nr - 1) / nr;
  const int64_t padded_n = static_cast<int64_t>(n_strips) * nr;

  // C's strips [i0, i1) x [j0, j1), on the calling thread: its rows of A are packed into its
  // own buffer, one KC block at a time, and each B strip is swept over an MC block of them.
  auto run = [&](int i0, int i1, int j0, int j1) {
    const int row0 = i0 * mr;
    const int rows = std::min(m, i1 * mr) - row0;
    const int col0 = j0 * nr;
    if (k <= 0 || alpha == 0.0f) {
      return ScaleRows(rows, std::min(n, j1 * nr) - col0, beta, c + row0 * ldc + col0, ldc);
    }
    // As in Sgemm, beta 0 makes the first KC block overwrite C.
    if (beta != 0.0f && beta != 1.0f) {
      ScaleRows(rows, std::min(n, j1 * nr) - col0, beta, c + row0 * ldc + col0, ldc);
    }
    float* a_packed = a_buffer.Reserve(static_cast<size_t>(i1 - i0) * mr * std::min(k, kKc));
    for (int pc = 0; pc < k; pc += kKc) {
      const int kc = std::min(kKc, k - pc);
      PackA(MatrixView{a + row0 * lda + pc, lda, 1}, rows, kc, alpha, mr, a_packed);
      const float* block = b_packed + pc * padded_n;
      for (int ib = 0; ib < i1 - i0; ib += kMc / mr) {
        const int ie = std::min(i1 - i0, ib + kMc / mr);
        for (int jr = j0; jr < j1; ++jr) {
          for (int ir = ib; ir < ie; ++ir) {
            const int n_eff = std::min(nr, n - jr * nr);
            MicroFor(kernel, n_eff)(kc, a_packed + static_cast<int64_t>(ir) * mr * kc,
                                    block + static_cast<int64_t>(jr) * nr * kc, nr,
                                    c + (row0 + ir * mr) * ldc + jr * nr, ldc,
                                    std::min(mr, rows - ir * mr), n_eff, pc > 0 || beta != 0.0f);
          }
        }
      }
    }
  };
  // Split the rows where there are enough for every thread; otherwise the columns, each thread
  // then packing all of A (few rows).
  if (m_strips >= ThreadCount()) {
    ParallelFor(m_strips, 1, [&](int64_t i0, int64_t i1) {
      run(static_cast<int>(i0), static_cast<int>(i1), 0, n_strips);
    });
  } else {
    ParallelFor(n_strips, 1, [&](int64_t j0, int64_t j1) {
      run(0, m_strips, static_cast<int>(j0), static_cast<int>(j1));
    });
  }
}

}  // namespace alexnet::cpu
