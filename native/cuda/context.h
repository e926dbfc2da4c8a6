// The per-device state of the CUDA backend: one compute stream, the cuDNN and cuBLAS handles bound
// to it, one workspace shared by every convolution (grown on demand, as darknet does), a staging
// buffer for uploads from host arrays, the cache of chosen convolution algorithms, and a second
// stream for NCCL's allreduces, so that the sums of one layer's gradients run while the backward
// pass of the layers below goes on (nccl.cc).
//
// Everything is queued on the streams; reading a tensor back (or a loss) is the only
// synchronisation. Contexts live until the process exits and are never destroyed (a thread may
// still be finishing an op while it exits; core/executor.h's device shutdown keeps it off CUDA
// from then on). No CUDA headers here, so that host code can hold a Context.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "cuda/cublas_api.h"
#include "cuda/cudnn_api.h"

struct CUstream_st;
struct CUevent_st;

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
    int math_type;       // cudnnMathType_t the search reported for it
    bool deterministic;  // whether the search reported it CUDNN_DETERMINISTIC
  };
  // The stream NCCL's allreduces run on (created on first use), and what orders them: Fork()
  // makes it wait for the work queued so far on the compute stream; AddPending(event) records an
  // allreduce's end, which JoinCommunication() makes the compute stream wait for (before the
  // optimiser's update, a read or a flush).
  CUstream_st* CommunicationStream();
  void Fork();
  void AddPending(CUevent_st* event) { pending_.push_back(event); }
  void JoinCommunication();
  // Waits until both streams are idle (before a communicator is destroyed).
  void SynchronizeAll();

  // Chosen algorithms by pass, shape and batch bucket (conv.cc), shared by plans of the same
  // shape; the workspace is the one at the batch size searched.
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
  CUstream_st* communication_ = nullptr;
  std::vector<CUevent_st*> pending_;
};

// The context of `device`, made current on this thread (cudaSetDevice).
Context& GetContext(int device);

}  // namespace alexnet::cuda
