// The per-device state of the CUDA backend: one stream, the cuDNN and cuBLAS handles bound to it,
// one workspace shared by every convolution (grown on demand, as darknet does), a staging buffer
// for uploads from host arrays, and the cache of chosen convolution algorithms.
//
// Everything is queued on the stream; reading a tensor back (or a loss) is the only
// synchronisation. Contexts live until the process exits. No CUDA headers here, so that host code
// can hold a Context.
#pragma once

#include <cstddef>
#include <map>
#include <string>

#include "cuda/cublas_api.h"
#include "cuda/cudnn_api.h"

struct CUstream_st;

namespace alexnet::cuda {

class Context {
 public:
  explicit Context(int device);
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  int device() const { return device_; }
  CUstream_st* stream() const { return stream_; }

  // The handles, created on first use (so the element-wise ops run without cuDNN or cuBLAS);
  // throws when the library cannot be loaded.
  cudnn::Handle CudnnHandle();
  cublas::Handle CublasHandle();

  // At least `bytes` of device scratch for the next call on the stream. Growing waits for the
  // stream, then frees and reallocates; plans ask for their size once, so the training step never
  // grows it.
  void* Workspace(size_t bytes);
  size_t workspace_bytes() const { return workspace_bytes_; }

  // At least `bytes` of device memory to upload host arrays into (labels, images); same policy.
  void* Staging(size_t bytes);

  // A convolution algorithm chosen by conv.cc, and the workspace it runs with.
  struct Algorithm {
    int algo;
    size_t workspace;
  };
  // Chosen algorithms by pass and shape key, shared by plans of the same shape.
  std::map<std::string, Algorithm>& algorithm_cache() { return algorithm_cache_; }

 private:
  int device_;
  CUstream_st* stream_ = nullptr;
  cudnn::Handle cudnn_ = nullptr;
  cublas::Handle cublas_ = nullptr;
  void* workspace_ = nullptr;
  size_t workspace_bytes_ = 0;
  void* staging_ = nullptr;
  size_t staging_bytes_ = 0;
  std::map<std::string, Algorithm> algorithm_cache_;
};

// The context of `device`, made current on this thread (cudaSetDevice).
Context& GetContext(int device);

}  // namespace alexnet::cuda
