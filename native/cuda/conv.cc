// Convolution forward, backward-data and backward-filter through cuDNN, with groups as one call
// (cudnnSetConvolutionGroupCount), never a loop over groups.
//
// Algorithms: on the first call of each pass, cudnnFind*AlgorithmEx times every algorithm on the
// caller's buffers with a temporary workspace of at most the limit (ALEXNET_CUDNN_WORKSPACE_MB,
// default 512, and never more than half the free memory). The fastest is kept among those that
// succeeded, fit, compute in float32 (FMA or default math, never tensor-op math) and, unless
// ALEXNET_CUDNN_DETERMINISTIC=0, are deterministic (determinism.h): the backward-filter
// algorithms 0 and 3 and backward-data algorithm 0 sum with atomics, so two runs would differ in
// the last bits. The choice is cached in the device context by pass, shape and batch bucket (the
// power of two at or above the batch), so later plans of the same shape reuse it without timing
// again (PyTorch's benchmark cache, aten/src/ATen/native/cudnn/Conv_v7.cpp), and a server that
// sees many batch sizes searches once per bucket, not once per size; a plan whose batch differs
// from the one searched asks cudnnGetConvolution*WorkspaceSize for its own workspace. The shared
// workspace then grows to what the chosen algorithm needs.
//
// Math type CUDNN_FMA_MATH: float32 stays float32, no TF32 tensor cores (cudnn_api.h).
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include "cuda/check.h"
#include "cuda/context.h"
#include "cuda/descriptors.h"
#include "cuda/determinism.h"
#include "cuda/memory.h"
#include "cuda/ops.h"

namespace alexnet::cuda {

// The power of two at or above n: plans whose batches fall in one bucket share a search.
int BatchBucket(int n) {
  int bucket = 1;
  while (bucket < n) bucket <<= 1;
  return bucket;
}

class ConvState {
 public:
  ConvState(int device, const ConvShape& s)
      : device_(device),
        shape_(s),
        api_(Cudnn()),
        x_(api_, "ConvPlan", s.n, s.c, s.h, s.w),
        y_(api_, "ConvPlan", s.n, s.k, s.out_h(), s.out_w()),
        w_(api_.CreateFilterDescriptor, api_.DestroyFilterDescriptor, "ConvPlan"),
        conv_(api_.CreateConvolutionDescriptor, api_.DestroyConvolutionDescriptor, "ConvPlan") {
    CUDNN_CHECK("ConvPlan",
                api_.SetFilter4dDescriptor(w_.get(), cudnn::kDataFloat, cudnn::kTensorNchw, s.k,
                                           s.c / s.groups, s.kh, s.kw));
    CUDNN_CHECK("ConvPlan", api_.SetConvolution2dDescriptor(
                                conv_.get(), s.pad_h, s.pad_w, s.stride_h, s.stride_w, 1, 1,
                                cudnn::kCrossCorrelation, cudnn::kDataFloat));
    CUDNN_CHECK("ConvPlan", api_.SetConvolutionGroupCount(conv_.get(), s.groups));
    CUDNN_CHECK("ConvPlan", api_.SetConvolutionMathType(conv_.get(), cudnn::kFmaMath));
    key_ = std::to_string(BatchBucket(s.n)) + "," + std::to_string(s.c) + "," +
           std::to_string(s.h) + "," + std::to_string(s.w) + "," + std::to_string(s.k) + "," +
           std::to_string(s.kh) + "," + std::to_string(s.kw) + "," + std::to_string(s.stride_h) +
           "," + std::to_string(s.stride_w) + "," + std::to_string(s.pad_h) + "," +
           std::to_string(s.pad_w) + "," + std::to_string(s.groups) + ",float32";
  }

  int device_;
  ConvShape shape_;
  const cudnn::Api& api_;
  TensorDesc x_;
  TensorDesc y_;
  Descriptor<cudnn::FilterDescriptor> w_;
  Descriptor<cudnn::ConvolutionDescriptor> conv_;
  std::string key_;
  // The algorithm of each pass and the workspace it needs at this plan's batch size.
  std::optional<Context::Algorithm> fwd_;
  std::optional<Context::Algorithm> bwd_data_;
  std::optional<Context::Algorithm> bwd_filter_;
};

namespace {

constexpr float kOne = 1.0f;
constexpr float kZero = 0.0f;

size_t WorkspaceLimit() {
  size_t limit = size_t{512} << 20;
  if (const char* env = std::getenv("ALEXNET_CUDNN_WORKSPACE_MB")) {
    limit = static_cast<size_t>(std::strtoull(env, nullptr, 10)) << 20;
  }
  size_t free_bytes = 0, total_bytes = 0;
  if (cudaMemGetInfo(&free_bytes, &total_bytes) == cudaSuccess) {
    limit = std::min(limit, free_bytes / 2);
  }
  return limit;
}

// Whether a cudnnFind* result may be chosen: it ran, fits in `limit`, computes in float32 and,
// unless allowed otherwise, is deterministic.
template <typename Perf>
bool Acceptable(const Perf& r, size_t limit) {
  const bool float32 = r.math_type == cudnn::kFmaMath || r.math_type == cudnn::kDefaultMath;
  const bool repeatable = r.determinism == cudnn::kDeterministic || !DeterministicOnly();
  return r.status == cudnn::kStatusSuccess && r.memory <= limit && float32 && repeatable;
}

// The algorithm for `pass` of this shape and its workspace at the plan's batch: the cached choice
// of the batch bucket, sized by `workspace(algo, &bytes)`, or the result of `find(workspace,
// bytes, results, requested, &returned)` run now. Perf is the cuDNN perf struct of the pass.
template <typename Perf, typename Find, typename Workspace>
Context::Algorithm Choose(ConvState& s, const char* pass, int candidates, const char* op, Find find,
                          Workspace workspace) {
  Context& ctx = GetContext(s.device_);
  auto& cache = ctx.algorithm_cache();
  const std::string key = std::string(pass) + ":" + s.key_;
  const size_t limit = WorkspaceLimit();
  auto it = cache.find(key);
  if (it != cache.end()) {
    size_t bytes = 0;
    if (workspace(it->second.algo, &bytes) == cudnn::kStatusSuccess && bytes <= limit) {
      Context::Algorithm cached = it->second;
      cached.workspace = bytes;
      return cached;
    }
  }

  // The workspace is scratch that cuDNN writes before it reads: no fill.
  void* scratch = DeviceAlloc(s.device_, limit, /*zeroed=*/false);
  Perf results[16];
  int returned = 0;
  cudnn::Status status = find(scratch, limit, results, candidates, &returned);
  DeviceFree(s.device_, scratch, limit);
  CUDNN_CHECK(op, status);
  for (int i = 0; i < returned; ++i) {
    if (Acceptable(results[i], limit)) {
      const Context::Algorithm chosen{static_cast<int>(results[i].algo), results[i].memory,
                                      static_cast<int>(results[i].math_type),
                                      results[i].determinism == cudnn::kDeterministic};
      cache[key] = chosen;
      return chosen;
    }
  }
  throw std::runtime_error(
      std::string(op) + ": no cuDNN algorithm" +
      (DeterministicOnly() ? " that is deterministic" : "") +
      " and computes in float32 runs this convolution within " + std::to_string(limit >> 20) +
      " MiB of workspace; raise ALEXNET_CUDNN_WORKSPACE_MB" +
      (DeterministicOnly() ? ", or allow the others with ALEXNET_CUDNN_DETERMINISTIC=0" : ""));
}

}  // namespace

std::shared_ptr<ConvState> CreateConvState(int device, const ConvShape& shape) {
  GetContext(device);
  return std::make_shared<ConvState>(device, shape);
}

void ConvForward(ConvState& s, const float* x, const float* w, float* y) {
  constexpr const char* op = "conv2dForward";
  Context& ctx = GetContext(s.device_);
  cudnn::Handle handle = ctx.CudnnHandle();
  const cudnn::Api& api = s.api_;
  if (!s.fwd_) {
    s.fwd_ = Choose<cudnn::ConvolutionFwdAlgoPerf>(
        s, "fwd", cudnn::kConvolutionFwdAlgoCount, op,
        [&](void* ws, size_t bytes, cudnn::ConvolutionFwdAlgoPerf* r, int n, int* got) {
          return api.FindConvolutionForwardAlgorithmEx(handle, s.x_.get(), x, s.w_.get(), w,
                                                       s.conv_.get(), s.y_.get(), y, n, got, r, ws,
                                                       bytes);
        },
        [&](int algo, size_t* bytes) {
          return api.GetConvolutionForwardWorkspaceSize(
              handle, s.x_.get(), s.w_.get(), s.conv_.get(), s.y_.get(),
              static_cast<cudnn::ConvolutionFwdAlgo>(algo), bytes);
        });
  }
  void* ws = ctx.Workspace(s.fwd_->workspace);
  CUDNN_CHECK(op, api.ConvolutionForward(handle, &kOne, s.x_.get(), x, s.w_.get(), w, s.conv_.get(),
                                         static_cast<cudnn::ConvolutionFwdAlgo>(s.fwd_->algo), ws,
                                         s.fwd_->workspace, &kZero, s.y_.get(), y));
}

void ConvBackwardData(ConvState& s, const float* w, const float* dy, float* dx) {
  constexpr const char* op = "conv2dBackwardData";
  Context& ctx = GetContext(s.device_);
  cudnn::Handle handle = ctx.CudnnHandle();
  const cudnn::Api& api = s.api_;
  if (!s.bwd_data_) {
    s.bwd_data_ = Choose<cudnn::ConvolutionBwdDataAlgoPerf>(
        s, "bwd_data", cudnn::kConvolutionBwdDataAlgoCount, op,
        [&](void* ws, size_t bytes, cudnn::ConvolutionBwdDataAlgoPerf* r, int n, int* got) {
          return api.FindConvolutionBackwardDataAlgorithmEx(handle, s.w_.get(), w, s.y_.get(), dy,
                                                            s.conv_.get(), s.x_.get(), dx, n, got,
                                                            r, ws, bytes);
        },
        [&](int algo, size_t* bytes) {
          return api.GetConvolutionBackwardDataWorkspaceSize(
              handle, s.w_.get(), s.y_.get(), s.conv_.get(), s.x_.get(),
              static_cast<cudnn::ConvolutionBwdDataAlgo>(algo), bytes);
        });
  }
  void* ws = ctx.Workspace(s.bwd_data_->workspace);
  CUDNN_CHECK(
      op, api.ConvolutionBackwardData(handle, &kOne, s.w_.get(), w, s.y_.get(), dy, s.conv_.get(),
                                      static_cast<cudnn::ConvolutionBwdDataAlgo>(s.bwd_data_->algo),
                                      ws, s.bwd_data_->workspace, &kZero, s.x_.get(), dx));
}

void ConvBackwardFilter(ConvState& s, const float* x, const float* dy, float* dw) {
  constexpr const char* op = "conv2dBackwardFilter";
  Context& ctx = GetContext(s.device_);
  cudnn::Handle handle = ctx.CudnnHandle();
  const cudnn::Api& api = s.api_;
  if (!s.bwd_filter_) {
    s.bwd_filter_ = Choose<cudnn::ConvolutionBwdFilterAlgoPerf>(
        s, "bwd_filter", cudnn::kConvolutionBwdFilterAlgoCount, op,
        [&](void* ws, size_t bytes, cudnn::ConvolutionBwdFilterAlgoPerf* r, int n, int* got) {
          return api.FindConvolutionBackwardFilterAlgorithmEx(handle, s.x_.get(), x, s.y_.get(), dy,
                                                              s.conv_.get(), s.w_.get(), dw, n, got,
                                                              r, ws, bytes);
        },
        [&](int algo, size_t* bytes) {
          return api.GetConvolutionBackwardFilterWorkspaceSize(
              handle, s.x_.get(), s.y_.get(), s.conv_.get(), s.w_.get(),
              static_cast<cudnn::ConvolutionBwdFilterAlgo>(algo), bytes);
        });
  }
  void* ws = ctx.Workspace(s.bwd_filter_->workspace);
  CUDNN_CHECK(op, api.ConvolutionBackwardFilter(
                      handle, &kOne, s.x_.get(), x, s.y_.get(), dy, s.conv_.get(),
                      static_cast<cudnn::ConvolutionBwdFilterAlgo>(s.bwd_filter_->algo), ws,
                      s.bwd_filter_->workspace, &kZero, s.w_.get(), dw));
}

}  // namespace alexnet::cuda
