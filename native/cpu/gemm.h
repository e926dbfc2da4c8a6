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

void Sgemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a,
           int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

// The instruction set whose micro-kernel Sgemm uses: "avx512", "avx2" or "generic".
const char* GemmIsa();

}  // namespace alexnet::cpu
