// biasForward(y, b), biasBackward(dy, db) and reluBiasBackward(y, dy, db | null) over tensors of
// shape (n, c, ...): the sizes come from the tensors' shapes, which lib/ops/bias.ts checks.
#include "cpu/bias.h"

#include "bindings/bindings.h"
#include "core/args.h"
#if defined(ALEXNET_WITH_CUDA)
#include "cuda/ops.h"
#endif

namespace alexnet {

namespace {

struct Rows {
  int64_t n, c, spatial;
};

Rows RowsOf(const Tensor& t) {
  const int64_t n = t.shape()[0];
  const int64_t c = t.shape()[1];
  return {n, c, t.numel() / (n * c)};
}

void BiasForward(const Napi::CallbackInfo& info) {
  const Tensor& y_tensor = UnwrapTensor(info.Env(), info[0], "y");
  const Device device = y_tensor.device();
  Submit(info, device,
         [device, r = RowsOf(y_tensor), y = y_tensor.data(), b = TensorData(info, 1, "b")] {
#if defined(ALEXNET_WITH_CUDA)
           if (device.kind == DeviceKind::kCuda) {
             return cuda::BiasForward(device.index, r.n, r.c, r.spatial, y, b);
           }
#endif
           cpu::BiasForward(r.n, r.c, r.spatial, y, b);
         });
}

void BiasBackward(const Napi::CallbackInfo& info) {
  const Tensor& dy_tensor = UnwrapTensor(info.Env(), info[0], "dy");
  const Device device = dy_tensor.device();
  Submit(info, device,
         [device, r = RowsOf(dy_tensor), dy = dy_tensor.data(), db = TensorData(info, 1, "db")] {
#if defined(ALEXNET_WITH_CUDA)
           if (device.kind == DeviceKind::kCuda) {
             return cuda::BiasBackward(device.index, r.n, r.c, r.spatial, dy, db);
           }
#endif
           cpu::BiasBackward(r.n, r.c, r.spatial, dy, db);
         });
}

// reluBiasBackward(y, dy, db | null): cpu::ReluBiasBackward; on a CUDA device the two ops it
// fuses, one after the other.
void ReluBiasBackward(const Napi::CallbackInfo& info) {
  const Tensor& y_tensor = UnwrapTensor(info.Env(), info[0], "y");
  const Device device = y_tensor.device();
  float* db = info[2].IsNull() ? nullptr : TensorData(info, 2, "db");
  Submit(info, device,
         [device, r = RowsOf(y_tensor), y = y_tensor.data(), dy = TensorData(info, 1, "dy"), db] {
#if defined(ALEXNET_WITH_CUDA)
           if (device.kind == DeviceKind::kCuda) {
             cuda::ReluBackward(device.index, y, dy, dy, r.n * r.c * r.spatial);
             if (db) cuda::BiasBackward(device.index, r.n, r.c, r.spatial, dy, db);
             return;
           }
#endif
           cpu::ReluBiasBackward(r.n, r.c, r.spatial, y, dy, db);
         });
}

}  // namespace

void RegisterBias(Napi::Env env, Napi::Object exports) {
  exports.Set("biasForward", Napi::Function::New<BiasForward>(env, "biasForward"));
  exports.Set("biasBackward", Napi::Function::New<BiasBackward>(env, "biasBackward"));
  exports.Set("reluBiasBackward", Napi::Function::New<ReluBiasBackward>(env, "reluBiasBackward"));
}

}  // namespace alexnet
