// GEMM on a CUDA device through cublasSgemm. cuBLAS is column-major; a row-major C (m x n) is a
// column-major C^T (n x m), and C^T = op(B)^T op(A)^T, so the call swaps the operands and m, n
// and keeps the leading dimensions of the row-major view.
#include "cuda/check.h"
#include "cuda/context.h"
#include "cuda/library.h"
#include "cuda/ops.h"

namespace alexnet::cuda {

void Sgemm(int device, bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a,
           int lda, const float* b, int ldb, float beta, float* c, int ldc) {
  Context& ctx = GetContext(device);
  cublas::Handle handle = ctx.CublasHandle();
  CUBLAS_CHECK("gemm", Cublas().Sgemm(handle, trans_b ? cublas::kOpT : cublas::kOpN,
                                      trans_a ? cublas::kOpT : cublas::kOpN, n, m, k, &alpha, b,
                                      ldb, a, lda, &beta, c, ldc));
}

}  // namespace alexnet::cuda
