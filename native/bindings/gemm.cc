// gemm(a, b, c, transA, transB, m, n, k, alpha, beta, bias | null, relu): C = alpha * op(A) op(B)
// + beta * C over the tensors' flat row-major storage, then the epilogue: bias[j] added to column
// j, and max(., 0) with relu (cpu::GemmEpilogue). Shapes are checked by lib/ops/gemm.ts.
// PackedWeights(device), gemmPackedWeights and packedWeightsRelease: a fully connected layer's
// forward from weights packed once per change (cpu::PackedWeights; lib/ops/packed-weights.ts).
#include "cpu/gemm.h"

#include <cstdint>
#include <memory>
#include <new>
#include <string>

#include "bindings/bindings.h"
#include "bindings/plan.h"
#include "core/args.h"
#include "cpu/bandwidth.h"
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
  const float* bias = info[10].IsNull() ? nullptr : TensorData(info, 10, "bias");
  const bool relu = BoolArg(info, 11);
  const Device device = c_tensor.device();
  Submit(info, device, [=] {
#if defined(ALEXNET_WITH_CUDA)
    if (device.kind == DeviceKind::kCuda) {
      cuda::Sgemm(device.index, trans_a, trans_b, m, n, k, alpha, a, trans_a ? m : k, b,
                  trans_b ? k : n, beta, c, n);
      // Rows of C are the n of cuda::BiasForward's (n, c) and its columns the c.
      if (bias) cuda::BiasForward(device.index, m, n, 1, c, bias);
      if (relu) cuda::ReluForward(device.index, c, c, static_cast<int64_t>(m) * n);
      return;
    }
#endif
    const cpu::GemmEpilogue epilogue{nullptr, bias, relu};
    cpu::Sgemm(trans_a, trans_b, m, n, k, alpha, a, trans_a ? m : k, b, trans_b ? k : n, beta, c, n,
               bias || relu ? &epilogue : nullptr);
  });
}

// A fully connected layer's packed weights (cpu::PackedWeights) and what they were packed from:
// the weights tensor's buffer and its version (core/tensor.h); executor thread only. Each call
// carries the buffer and version its weights had when it was queued, which identify their
// contents when it runs (ops run in the order they are queued, and every op queued to write them
// counted a version), and packs them again first where those differ.
struct PackedWeightsState {
  cpu::PackedWeights packed;
  const void* storage = nullptr;
  uint64_t version = 0;
};

class PackedWeightsHandle : public PlanHandle<PackedWeightsHandle, PackedWeightsState> {
 public:
  static constexpr const char* kName = "PackedWeights";
  static constexpr const char* kExpected = "a PackedWeights";
  static constexpr Napi::FunctionReference Environment::*kConstructor =
      &Environment::packed_weights;

  // new PackedWeights(device)
  explicit PackedWeightsHandle(const Napi::CallbackInfo& info) : PlanHandle(info) {
    device_ = ParseDevice(info.Env(), info[0].As<Napi::String>().Utf8Value(), kName);
    state_ = std::make_shared<PackedWeightsState>();
  }
};

// gemmPackedWeights(packed, x, w, y, m, n, k, bias | null, relu): y = x wᵀ and the epilogue, as
// gemm with transB, from the packed copy of w where it is current (packed first where not). On
// a CUDA device, or with at most PackedWeights::kDotRows rows, it is gemm's call.
void GemmPackedWeights(const Napi::CallbackInfo& info) {
  auto state = PackedWeightsHandle::Arg(info, 0);
  const Tensor& x_tensor = UnwrapTensor(info.Env(), info[1], "x");
  const Tensor& w_tensor = UnwrapTensor(info.Env(), info[2], "w");
  // Read-only pointers: reading the weights must not count as changing them.
  const float* x = x_tensor.read_data();
  const float* w = w_tensor.read_data();
  float* y = TensorData(info, 3, "y");
  const int m = IntArg(info, 4);
  const int n = IntArg(info, 5);
  const int k = IntArg(info, 6);
  const float* bias = info[7].IsNull() ? nullptr : TensorData(info, 7, "bias");
  const bool relu = BoolArg(info, 8);
  const Device device = PackedWeightsHandle::DeviceOf(info, 0);
  const bool cached = device.kind == DeviceKind::kCpu && m > cpu::PackedWeights::kDotRows;
  Submit(info, device, [=, storage = w_tensor.storage_id(), version = w_tensor.version()] {
#if defined(ALEXNET_WITH_CUDA)
    if (device.kind == DeviceKind::kCuda) {
      cuda::Sgemm(device.index, false, true, m, n, k, 1.0f, x, k, w, k, 0.0f, y, n);
      if (bias) cuda::BiasForward(device.index, m, n, 1, y, bias);
      if (relu) cuda::ReluForward(device.index, y, y, static_cast<int64_t>(m) * n);
      return;
    }
#endif
    const cpu::GemmEpilogue epilogue{nullptr, bias, relu};
    const cpu::GemmEpilogue* fused = bias || relu ? &epilogue : nullptr;
    if (!cached) return cpu::Sgemm(false, true, m, n, k, 1.0f, x, k, w, k, 0.0f, y, n, fused);
    if (!state->packed.Holds(n, k) || state->storage != storage || state->version != version) {
      state->storage = nullptr;
      state->packed.Pack(w, n, k);
      if (!state->packed.Holds(n, k)) throw std::bad_alloc();
      state->storage = storage;
      state->version = version;
    }
    state->packed.Multiply(m, x, k, y, n, fused);
  });
}

// packedWeightsRelease(packed): frees the copy, after the ops queued before; the next call packs.
void PackedWeightsRelease(const Napi::CallbackInfo& info) {
  Submit(info, PackedWeightsHandle::DeviceOf(info, 0),
         [state = PackedWeightsHandle::Arg(info, 0)] { state->packed.Clear(); });
}

// Blocks for about a second: for the benches only, which call it once before timing anything.
Napi::Value MeasurePeakGflops(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), cpu::MeasurePeakGflops());
}

// Blocks for about a second, as measurePeakGflops: the memory floor of the fc layers at batch 1.
Napi::Value MeasureReadBandwidth(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), cpu::MeasureReadBandwidth());
}

}  // namespace

void RegisterGemm(Napi::Env env, Napi::Object exports) {
  exports.Set("gemm", Napi::Function::New<Gemm>(env, "gemm"));
  PackedWeightsHandle::Register(env, exports);
  exports.Set("gemmPackedWeights",
              Napi::Function::New<GemmPackedWeights>(env, "gemmPackedWeights"));
  exports.Set("packedWeightsRelease",
              Napi::Function::New<PackedWeightsRelease>(env, "packedWeightsRelease"));
  exports.Set("gemmIsa", Napi::String::New(env, cpu::GemmIsa()));
  exports.Set("measurePeakGflops",
              Napi::Function::New<MeasurePeakGflops>(env, "measurePeakGflops"));
  exports.Set("measureReadBandwidth",
              Napi::Function::New<MeasureReadBandwidth>(env, "measureReadBandwidth"));
}

}  // namespace alexnet
