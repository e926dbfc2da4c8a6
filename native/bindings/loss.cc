// softmaxCrossEntropy(logits, labels, dlogits) -> mean loss, and topKCorrect(logits, labels, k)
// -> count. logits is (n, classes); labels an Int32Array of n entries in [0, classes), as checked
// by lib/ops/loss.ts.
#include "bindings/bindings.h"
#include "core/args.h"
#include "cpu/softmax_xent.h"
#if defined(ALEXNET_WITH_CUDA)
#include "cuda/ops.h"
#endif

namespace alexnet {

namespace {

Napi::Value SoftmaxCrossEntropy(const Napi::CallbackInfo& info) {
  Tensor& logits = UnwrapTensor(info.Env(), info[0], "logits");
  const int32_t* labels = TypedArrayData<int32_t>(info, 1);
  float* dlogits = TensorData(info, 2, "dlogits");
  int64_t n = logits.shape()[0];
#if defined(ALEXNET_WITH_CUDA)
  if (OnCuda(logits)) {
    return Napi::Number::New(
        info.Env(), cuda::SoftmaxCrossEntropy(logits.device().index, logits.data(), labels, n,
                                              logits.numel() / n, dlogits));
  }
#endif
  double loss = cpu::SoftmaxCrossEntropy(logits.data(), labels, n, logits.numel() / n, dlogits);
  return Napi::Number::New(info.Env(), loss);
}

Napi::Value TopKCorrect(const Napi::CallbackInfo& info) {
  Tensor& logits = UnwrapTensor(info.Env(), info[0], "logits");
  const int32_t* labels = TypedArrayData<int32_t>(info, 1);
  int64_t n = logits.shape()[0];
#if defined(ALEXNET_WITH_CUDA)
  if (OnCuda(logits)) {
    return Napi::Number::New(info.Env(), static_cast<double>(cuda::TopKCorrect(
                                             logits.device().index, logits.data(), labels, n,
                                             logits.numel() / n, IntArg(info, 2))));
  }
#endif
  int64_t correct = cpu::TopKCorrect(logits.data(), labels, n, logits.numel() / n, IntArg(info, 2));
  return Napi::Number::New(info.Env(), static_cast<double>(correct));
}

}  // namespace

void RegisterLoss(Napi::Env env, Napi::Object exports) {
  exports.Set("softmaxCrossEntropy",
              Napi::Function::New<SoftmaxCrossEntropy>(env, "softmaxCrossEntropy"));
  exports.Set("topKCorrect", Napi::Function::New<TopKCorrect>(env, "topKCorrect"));
}

}  // namespace alexnet
