// Local response normalisation across channels through cuDNN (cudnnLRNCrossChannelForward /
// Backward). cuDNN divides alpha by the window size, as Caffe and our CPU backend do
// (native/cpu/lrn.h), so the plan's constants pass through unchanged.
#include <memory>

#include "cuda/check.h"
#include "cuda/context.h"
#include "cuda/descriptors.h"
#include "cuda/ops.h"

namespace alexnet::cuda {

class LrnState {
 public:
  LrnState(int device, const LrnShape& s)
      : device_(device),
        api_(Cudnn()),
        x_(api_, "LrnPlan", s.n, s.c, s.h, s.w),
        lrn_(api_.CreateLrnDescriptor, api_.DestroyLrnDescriptor, "LrnPlan") {
    CUDNN_CHECK("LrnPlan", api_.SetLrnDescriptor(lrn_.get(), static_cast<unsigned>(s.size), s.alpha,
                                                 s.beta, s.k));
  }

  int device_;
  const cudnn::Api& api_;
  TensorDesc x_;  // x, y, dy and dx share the shape
  Descriptor<cudnn::LrnDescriptor> lrn_;
};

namespace {
constexpr float kOne = 1.0f;
constexpr float kZero = 0.0f;
}  // namespace

std::shared_ptr<LrnState> CreateLrnState(int device, const LrnShape& shape) {
  GetContext(device);
  return std::make_shared<LrnState>(device, shape);
}

void LrnForward(LrnState& s, const float* x, float* y) {
  Context& ctx = GetContext(s.device_);
  CUDNN_CHECK("lrnForward", s.api_.LrnCrossChannelForward(ctx.CudnnHandle(), s.lrn_.get(),
                                                          cudnn::kLrnCrossChannelDim1, &kOne,
                                                          s.x_.get(), x, &kZero, s.x_.get(), y));
}

void LrnBackward(LrnState& s, const float* x, const float* y, const float* dy, float* dx) {
  Context& ctx = GetContext(s.device_);
  CUDNN_CHECK("lrnBackward", s.api_.LrnCrossChannelBackward(ctx.CudnnHandle(), s.lrn_.get(),
                                                            cudnn::kLrnCrossChannelDim1, &kOne,
                                                            s.x_.get(), y, s.x_.get(), dy,
                                                            s.x_.get(), x, &kZero, s.x_.get(), dx));
}

}  // namespace alexnet::cuda
