// Max pooling through cuDNN (cudnnPoolingForward / Backward). The output size is the CPU's
// (native/cpu/pool.h, floor rounding), which is also cuDNN's. NaN propagates, as in PyTorch's
// max_pool2d. The mode is CUDNN_POOLING_MAX_DETERMINISTIC: with AlexNet's overlapping 3x3 stride-2
// windows, CUDNN_POOLING_MAX's backward adds the windows' gradients in no fixed order, so two runs
// differ in the last bits; it is used only when ALEXNET_CUDNN_DETERMINISTIC=0 (determinism.h).
#include <memory>

#include "cuda/check.h"
#include "cuda/context.h"
#include "cuda/descriptors.h"
#include "cuda/determinism.h"
#include "cuda/ops.h"

namespace alexnet::cuda {

namespace {
cudnn::PoolingMode Mode() {
  return DeterministicOnly() ? cudnn::kPoolingMaxDeterministic : cudnn::kPoolingMax;
}
}  // namespace

class PoolState {
 public:
  PoolState(int device, const PoolShape& s)
      : device_(device),
        api_(Cudnn()),
        x_(api_, "PoolPlan", s.n, s.c, s.h, s.w),
        y_(api_, "PoolPlan", s.n, s.c, s.oh, s.ow),
        pool_(api_.CreatePoolingDescriptor, api_.DestroyPoolingDescriptor, "PoolPlan") {
    CUDNN_CHECK("PoolPlan",
                api_.SetPooling2dDescriptor(pool_.get(), Mode(), cudnn::kPropagateNan, s.kernel,
                                            s.kernel, s.pad, s.pad, s.stride, s.stride));
  }

  int device_;
  const cudnn::Api& api_;
  TensorDesc x_;
  TensorDesc y_;
  Descriptor<cudnn::PoolingDescriptor> pool_;
};

namespace {
constexpr float kOne = 1.0f;
constexpr float kZero = 0.0f;
}  // namespace

std::shared_ptr<PoolState> CreatePoolState(int device, const PoolShape& shape) {
  GetContext(device);
  return std::make_shared<PoolState>(device, shape);
}

void MaxPoolForward(PoolState& s, const float* x, float* y) {
  Context& ctx = GetContext(s.device_);
  CUDNN_CHECK("maxPoolForward", s.api_.PoolingForward(ctx.CudnnHandle(), s.pool_.get(), &kOne,
                                                      s.x_.get(), x, &kZero, s.y_.get(), y));
}

void MaxPoolBackward(PoolState& s, const float* x, const float* y, const float* dy, float* dx) {
  Context& ctx = GetContext(s.device_);
  CUDNN_CHECK("maxPoolBackward",
              s.api_.PoolingBackward(ctx.CudnnHandle(), s.pool_.get(), &kOne, s.y_.get(), y,
                                     s.y_.get(), dy, s.x_.get(), x, &kZero, s.x_.get(), dx));
}

}  // namespace alexnet::cuda
