// gemm(a, b, c, transA, transB, m, n, k, alpha, beta): C = alpha * op(A) op(B) + beta * C over
// the tensors' flat row-major storage. Shapes are checked by lib/ops/gemm.ts.
#include "cpu/gemm.h"

#include "bindings/bindings.h"
#include "core/args.h"
#if defined(ALEXNET_WITH_CUDA)
#include "cuda/ops.h"
#endif

namespace alexnet {

namespace {

void Gemm(const Napi::CallbackInfo& info) {
  const float* a = TensorData(info, 0, "a");
  const float* b = TensorData(info, 1, "b");
  Tensor& c_tensor = UnwrapTensor(info.Env(), info[2], "c");
  float* c = c_tensor.data();
  bool trans_a = BoolArg(info, 3);
  bool trans_b = BoolArg(info, 4);
  int m = IntArg(info, 5);
  int n = IntArg(info, 6);
  int k = IntArg(info, 7);
#if defined(ALEXNET_WITH_CUDA)
  if (OnCuda(c_tensor)) {
    cuda::Sgemm(c_tensor.device().index, trans_a, trans_b, m, n, k, FloatArg(info, 8), a,
                trans_a ? m : k, b, trans_b ? k : n, FloatArg(info, 9), c, n);
    return;
  }
#endif
  cpu::Sgemm(trans_a, trans_b, m, n, k, FloatArg(info, 8), a, trans_a ? m : k, b, trans_b ? k : n,
             FloatArg(info, 9), c, n);
}

}  // namespace

void RegisterGemm(Napi::Env env, Napi::Object exports) {
  exports.Set("gemm", Napi::Function::New<Gemm>(env, "gemm"));
  exports.Set("gemmIsa", Napi::String::New(env, cpu::GemmIsa()));
}

}  // namespace alexnet
