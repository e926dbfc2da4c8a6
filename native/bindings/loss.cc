// softmaxCrossEntropy(logits, labels, dlogits, out, index, divisor): the summed loss over divisor
// (the batch size for the mean) into out[index], and its gradient into dlogits. topKCorrect(logits,
// labels, k, out, index): how many rows have their label among the k largest logits, into
// out[index]. Results land in a tensor rather than being returned so that they are queued like
// every op and read back with the rest of the step. logits is (n, classes); labels an Int32Array of
// n entries in [0, classes), as checked by lib/ops/loss.ts.
#include "bindings/bindings.h"
#include "core/args.h"
#include "cpu/softmax_xent.h"
#if defined(ALEXNET_WITH_CUDA)
#include "cuda/ops.h"
#endif

namespace alexnet {

namespace {

void SoftmaxCrossEntropy(const Napi::CallbackInfo& info) {
  const Tensor& logits_tensor = UnwrapTensor(info.Env(), info[0], "logits");
  const Tensor& out_tensor = UnwrapTensor(info.Env(), info[3], "out");
  const Device device = logits_tensor.device();
  const int64_t n = logits_tensor.shape()[0];
  Submit(info, device,
         [device, n, classes = logits_tensor.numel() / n, logits = logits_tensor.data(),
          labels = TypedArrayCopy<int32_t>(info, 1), dlogits = TensorData(info, 2, "dlogits"),
          out = out_tensor.data() + IntArg(info, 4), divisor = int64_t{IntArg(info, 5)}] {
#if defined(ALEXNET_WITH_CUDA)
           if (device.kind == DeviceKind::kCuda) {
             return cuda::SoftmaxCrossEntropy(device.index, logits, labels.data(), n, classes,
                                              divisor, dlogits, out);
           }
#endif
           *out = static_cast<float>(
               cpu::SoftmaxCrossEntropy(logits, labels.data(), n, classes, divisor, dlogits));
         });
}

void TopKCorrect(const Napi::CallbackInfo& info) {
  const Tensor& logits_tensor = UnwrapTensor(info.Env(), info[0], "logits");
  const Tensor& out_tensor = UnwrapTensor(info.Env(), info[3], "out");
  const Device device = logits_tensor.device();
  const int64_t n = logits_tensor.shape()[0];
  Submit(info, device,
         [device, n, classes = logits_tensor.numel() / n, logits = logits_tensor.data(),
          labels = TypedArrayCopy<int32_t>(info, 1), k = IntArg(info, 2),
          out = out_tensor.data() + IntArg(info, 4)] {
#if defined(ALEXNET_WITH_CUDA)
           if (device.kind == DeviceKind::kCuda) {
             return cuda::TopKCorrect(device.index, logits, labels.data(), n, classes, k, out);
           }
#endif
           // Exact in float: counts are at most the batch size, far below 2^24.
           *out = static_cast<float>(cpu::TopKCorrect(logits, labels.data(), n, classes, k));
         });
}

}  // namespace

void RegisterLoss(Napi::Env env, Napi::Object exports) {
  exports.Set("softmaxCrossEntropy",
              Napi::Function::New<SoftmaxCrossEntropy>(env, "softmaxCrossEntropy"));
  exports.Set("topKCorrect", Napi::Function::New<TopKCorrect>(env, "topKCorrect"));
}

}  // namespace alexnet
