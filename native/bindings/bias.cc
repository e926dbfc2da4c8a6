// biasForward(y, b) and biasBackward(dy, db) over tensors of shape (n, c, ...): the sizes come
// from the tensors' shapes, which lib/ops/bias.ts checks against b and db.
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
  Tensor& y = UnwrapTensor(info.Env(), info[0], "y");
  Rows r = RowsOf(y);
#if defined(ALEXNET_WITH_CUDA)
  if (OnCuda(y)) {
    return cuda::BiasForward(y.device().index, r.n, r.c, r.spatial, y.data(),
                             TensorData(info, 1, "b"));
  }
#endif
  cpu::BiasForward(r.n, r.c, r.spatial, y.data(), TensorData(info, 1, "b"));
}

void BiasBackward(const Napi::CallbackInfo& info) {
  Tensor& dy = UnwrapTensor(info.Env(), info[0], "dy");
  Rows r = RowsOf(dy);
#if defined(ALEXNET_WITH_CUDA)
  if (OnCuda(dy)) {
    return cuda::BiasBackward(dy.device().index, r.n, r.c, r.spatial, dy.data(),
                              TensorData(info, 1, "db"));
  }
#endif
  cpu::BiasBackward(r.n, r.c, r.spatial, dy.data(), TensorData(info, 1, "db"));
}

}  // namespace

void RegisterBias(Napi::Env env, Napi::Object exports) {
  exports.Set("biasForward", Napi::Function::New<BiasForward>(env, "biasForward"));
  exports.Set("biasBackward", Napi::Function::New<BiasBackward>(env, "biasBackward"));
}

}  // namespace alexnet
