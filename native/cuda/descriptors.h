// RAII cuDNN descriptors: created in the constructor, destroyed in the destructor, never leaked
// on an error path (as in PyTorch's aten/src/ATen/cudnn/Descriptors.h).
#pragma once

#include "cuda/check.h"
#include "cuda/cudnn_api.h"
#include "cuda/library.h"

namespace alexnet::cuda {

template <typename T>
class Descriptor {
 public:
  using CreateFn = cudnn::Status (*)(T*);
  using DestroyFn = cudnn::Status (*)(T);

  Descriptor(CreateFn create, DestroyFn destroy, const char* op) : destroy_(destroy) {
    CUDNN_CHECK(op, create(&desc_));
  }
  ~Descriptor() {
    if (desc_ != nullptr) destroy_(desc_);
  }
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;

  T get() const { return desc_; }

 private:
  T desc_ = nullptr;
  DestroyFn destroy_;
};

// A float32 NCHW tensor descriptor of the given shape.
class TensorDesc : public Descriptor<cudnn::TensorDescriptor> {
 public:
  TensorDesc(const cudnn::Api& api, const char* op, int n, int c, int h, int w)
      : Descriptor(api.CreateTensorDescriptor, api.DestroyTensorDescriptor, op) {
    CUDNN_CHECK(
        op, api.SetTensor4dDescriptor(get(), cudnn::kTensorNchw, cudnn::kDataFloat, n, c, h, w));
  }
};

}  // namespace alexnet::cuda
