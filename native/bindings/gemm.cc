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
  const bool trans_a = BoolArg(info, 3);
  const bool trans_b = BoolArg(info, 4);
  const int m = IntArg(info, 5);
  const int n = IntArg(info, 6);
  const int k = IntArg(info, 7);
  const float alpha = FloatArg(info, 8);
  const float beta = FloatArg(info, 9);
  const Device device = c_tensor.device();
  Submit(info, device, [=] {
#if defined(ALEXNET_WITH_CUDA)
    if (device.kind == DeviceKind::kCuda) {
      return cuda::Sgemm(device.index, trans_a, trans_b, m, n, k, alpha, a, trans_a ? m : k, b,
                         trans_b ? k : n, beta, c, n);
    }
#endif
    cpu::Sgemm(trans_a, trans_b, m, n, k, alpha, a, trans_a ? m : k, b, trans_b ? k : n, beta, c,
               n);
  });
}

// Blocks for about a second: for the benches only, which call it once before timing anything.
Napi::Value MeasurePeakGflops(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), cpu::MeasurePeakGflops());
}

}  // namespace

void RegisterGemm(Napi::Env env, Napi::Object exports) {
  exports.Set("gemm", Napi::Function::New<Gemm>(env, "gemm"));
  exports.Set("gemmIsa", Napi::String::New(env, cpu::GemmIsa()));
  exports.Set("measurePeakGflops",
              Napi::Function::New<MeasurePeakGflops>(env, "measurePeakGflops"));
}

}  // namespace alexnet
