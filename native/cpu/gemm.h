// Single-precision GEMM for the CPU backend: C = alpha * op(A) * op(B) + beta * C, row-major.
//
// Why our own and not a BLAS: the addon must build from npm with no system dependency, and
// Debian's OpenBLAS mis-detects AVX-512 on the machines we run on and falls back to slow
// kernels. The design is the usual one (Goto / BLIS): B packed into KC x NR strips, A into
// MR x KC strips, and a register-blocked micro-kernel per instruction set (gemm_kernel.inc),
// chosen at run time from what the CPU reports.
#pragma once

#include <cstdint>

namespace alexnet::cpu {

// What a GEMM does to each element of C after the product, by the thread that computed it while
// its block is still in cache: add a bias per row (a convolution's output channel) or per column
// (a fully connected layer's output feature), then, with relu, max(., 0). The same float
// operations as the separate bias and ReLU passes (bias.cc, relu.cc), so the result is
// bit-identical to them; it saves their two trips through memory over the layer's output.
struct GemmEpilogue {
  const float* row_bias = nullptr;  // indexed by C's row
  const float* col_bias = nullptr;  // indexed by C's column
  bool relu = false;

  // Applies it to rows [i0, i1) and columns [j0, j1) of C.
  void Apply(int i0, int i1, int j0, int j1, float* c, int64_t ldc) const;
};

// With an epilogue, it is applied to C after the product (and beta). Calls of A Bᵀ with at most
// 32 rows of A read B in place, as row dot products (under 8 rows) or by broadcasting B's elements
// against A's rows (8 to 32), and do not pack it (PackedWeights relies on it).
void Sgemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a,
           int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc,
           const GemmEpilogue* epilogue = nullptr);

// A k x n B operand stored in the order the micro-kernel reads it: blocks of KC rows, each cut
// into strips of NR columns (KC x NR floats, row by row), the last strip zero-padded. A caller
// that builds B itself (the convolution's im2col) writes it here directly, which saves Sgemm's
// own copy of B, and SgemmPacked then runs as one parallel region instead of three per block.
class PackedB {
 public:
  PackedB(int k, int n);

  // Writes one row of the packed matrix from left to right, a run of columns at a time.
  class RowWriter {
   public:
    RowWriter(float* strip, int64_t strip_floats, int nr, int lane)
        : strip_(strip), strip_floats_(strip_floats), nr_(nr), lane_(lane) {}

    // Appends value(0), ..., value(count - 1) to the row.
    template <typename Value>
    void Append(int count, const Value& value) {
      for (int q = 0; q < count;) {
        const int len = count - q < nr_ - lane_ ? count - q : nr_ - lane_;
        for (int t = 0; t < len; ++t) strip_[lane_ + t] = value(q + t);
        q += len;
        lane_ += len;
        if (lane_ == nr_) {
          lane_ = 0;
          strip_ += strip_floats_;
        }
      }
    }

   private:
    float* strip_;
    int64_t strip_floats_;
    int nr_;
    int lane_;
  };

  // Floats the packed matrix occupies.
  int64_t size() const { return static_cast<int64_t>(k_) * padded_n_; }

  // A writer of row p from column j onwards.
  RowWriter Row(float* packed, int p, int j) const;

  // Zeroes the columns after the last (the padding of the last strip), which the micro-kernel
  // multiplies too.
  void ZeroPadding(float* packed) const;

  int k() const { return k_; }
  int n() const { return n_; }

 private:
  int k_, n_, nr_, padded_n_;
};

// An m x k A operand packed once for several GEMMs (a convolution's weights, shared by all the
// chunks of a batch): for each block of KC columns, strips of MR rows stored column by column, the
// last strip zero-padded.
class PackedA {
 public:
  PackedA(int m, int k);

  // Floats the packed matrix occupies.
  int64_t size() const { return static_cast<int64_t>(padded_m_) * k_; }

  // Packs alpha * a (row-major, rows lda floats apart), or with trans alpha * aᵀ (a k x m, rows
  // lda apart), into `packed`, in parallel over strips.
  void Pack(const float* a, int64_t lda, float alpha, float* packed, bool trans = false) const;

  int m() const { return m_; }
  int k() const { return k_; }

 private:
  int m_, k_, mr_, padded_m_;
};

// C = A B + beta C with both operands packed (the layouts describe them; B best at a 64-byte
// boundary, where no vector load straddles two cache lines), C row-major (m x n). Threads split the
// rows of C, or its columns where there are too few rows; nothing is packed here, so the call is
// one parallel region. An epilogue is applied by each thread to its block of C. With
// split_columns the threads split C's columns whatever its rows: each then reads only its share
// of a B far larger than A (a fully connected layer's weights), not all of it.
void SgemmPacked(const PackedA& a_layout, const float* a_packed, const PackedB& b_layout,
                 const float* b_packed, float beta, float* c, int64_t ldc,
                 const GemmEpilogue* epilogue = nullptr, bool split_columns = false);

// C = A B on the calling thread alone, for A packed (a_layout: m x k) and B (k x n, rows ldb
// floats apart) read in place, C (m x n) overwritten, rows ldc apart: a convolution's
// backward-data, whose B (dy) is read straight from the layer's gradient, a block of output rows
// at a time. Only a last strip narrower than NR is packed, so that no load runs past B's rows.
// Each element of C is the same sum as Sgemm's (the inner dimension in KC blocks, each added to
// the sum of those before), so the result is bit-identical to Sgemm(aᵀ or a, b) into C.
void SgemmPackedAInPlaceB(const PackedA& a_layout, const float* a_packed, const float* b,
                          int64_t ldb, int n, float* c, int64_t ldc);

// A fully connected layer's weights W (n x k, row-major: PyTorch's (out, in)) packed once as the
// B = Wᵀ of C = A Wᵀ and kept: Sgemm packs B again on every call, 151 MB for fc6, which made
// fc6's forward at batch 128 slower than OpenBLAS's (bench/RESULTS.md). Calls of at most
// kDotRows rows go to Sgemm, which reads W in place and does not pack it.
class PackedWeights {
 public:
  static constexpr int kDotRows = 32;

  PackedWeights() = default;
  PackedWeights(const PackedWeights&) = delete;
  PackedWeights& operator=(const PackedWeights&) = delete;
  ~PackedWeights() { Clear(); }

  // Packs w (n x k); on failure (out of memory) the copy is left empty.
  void Pack(const float* w, int n, int k);
  // Whether a copy of an n x k W is held.
  bool Holds(int n, int k) const { return packed_ != nullptr && n_ == n && k_ == k; }
  // C = A Wᵀ (m x n, rows ldc apart) with A m x k (rows lda apart), from the copy (Holds(n, k)),
  // then the epilogue; bit-identical to Sgemm(false, true, ...) with the same operands.
  void Multiply(int m, const float* a, int64_t lda, float* c, int64_t ldc,
                const GemmEpilogue* epilogue) const;
  // Frees the copy.
  void Clear();

 private:
  float* packed_ = nullptr;
  int n_ = 0, k_ = 0;
};

// The instruction set whose micro-kernel Sgemm uses: "avx512", "avx2" or "generic".
const char* GemmIsa();

// The peak GFLOP/s of the CPU backend's threads with Sgemm's instruction set: every thread runs
// the kernel's registers through fused multiply-adds alone, as fast as the cores issue them (the
// best of a few runs of about 0.1 s). What a GEMM's speed is measured against.
double MeasurePeakGflops();

}  // namespace alexnet::cpu
