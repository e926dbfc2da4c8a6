#include "cuda/context.h"

#include <cuda_runtime_api.h>

#include <cstdlib>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/executor.h"
#include "cuda/check.h"
#include "cuda/library.h"
#include "cuda/memory.h"

namespace alexnet::cuda {

namespace {

// "cudnnConvolutionForward" from "api.ConvolutionForward(handle, ...)": the call up to '('.
std::string CallName(const char* call) {
  std::string text = call;
  size_t paren = text.find('(');
  return paren == std::string::npos ? text : text.substr(0, paren);
}

std::string Where(const char* op, const char* call, const char* file, int line) {
  return std::string(op) + ": " + CallName(call) + " failed (" + file + ":" + std::to_string(line) +
         "): ";
}

}  // namespace

void ThrowCudaError(int status, const char* op, const char* call, const char* file, int line) {
  auto error = static_cast<cudaError_t>(status);
  std::string message =
      Where(op, call, file, line) + cudaGetErrorName(error) + ": " + cudaGetErrorString(error);
  // Clear a sticky launch error so that the next call reports its own status.
  cudaGetLastError();
  throw std::runtime_error(message);
}

void ThrowCudnnError(int status, const char* op, const char* call, const char* file, int line) {
  const char* text = Cudnn().GetErrorString(static_cast<cudnn::Status>(status));
  throw std::runtime_error(Where(op, call, file, line) + "cuDNN status " + std::to_string(status) +
                           ": " + text);
}

void ThrowCublasError(int status, const char* op, const char* call, const char* file, int line) {
  const char* text = Cublas().GetStatusString(static_cast<cublas::Status>(status));
  throw std::runtime_error(Where(op, call, file, line) + "cuBLAS status " + std::to_string(status) +
                           ": " + text);
}

Context::Context(int device) : device_(device) {
  CUDA_CHECK("context", cudaSetDevice(device));
  cudaStream_t stream;
  CUDA_CHECK("context", cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  stream_ = stream;
}

cudnn::Handle Context::CudnnHandle() {
  if (cudnn_ == nullptr) {
    const cudnn::Api& api = Cudnn();
    cudnn::Handle handle;
    CUDNN_CHECK("cuDNN setup", api.Create(&handle));
    CUDNN_CHECK("cuDNN setup", api.SetStream(handle, stream_));
    cudnn_ = handle;
  }
  return cudnn_;
}

cublas::Handle Context::CublasHandle() {
  if (cublas_ == nullptr) {
    const cublas::Api& api = Cublas();
    cublas::Handle handle;
    CUBLAS_CHECK("cuBLAS setup", api.Create(&handle));
    CUBLAS_CHECK("cuBLAS setup", api.SetStream(handle, stream_));
    // float32 stays float32: no TF32 tensor cores (cublas_api.h).
    CUBLAS_CHECK("cuBLAS setup", api.SetMathMode(handle, cublas::kDefaultMath));
    cublas_ = handle;
  }
  return cublas_;
}

namespace {

// Waits for the stream, then replaces `*buffer` by one of at least `bytes`.
void Grow(int device, CUstream_st* stream, void** buffer, size_t* size, size_t bytes) {
  if (bytes <= *size) return;
  CUDA_CHECK("workspace", cudaStreamSynchronize(stream));
  if (*buffer != nullptr) DeviceFree(device, *buffer, *size);
  *buffer = nullptr;
  *size = 0;
  *buffer = DeviceAlloc(device, bytes, /*zeroed=*/false);
  *size = bytes;
}

}  // namespace

CUstream_st* Context::CommunicationStream() {
  if (communication_ == nullptr) {
    cudaStream_t stream;
    CUDA_CHECK("allreduce", cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
    communication_ = stream;
  }
  return communication_;
}

namespace {

// `waiter` waits (on the device) for the work queued on `stream` so far.
void Order(cudaStream_t stream, cudaStream_t waiter) {
  cudaEvent_t event;
  CUDA_CHECK("allreduce", cudaEventCreateWithFlags(&event, cudaEventDisableTiming));
  cudaError_t status = cudaEventRecord(event, stream);
  if (status == cudaSuccess) status = cudaStreamWaitEvent(waiter, event, 0);
  // Destroying an event still pending is allowed: its resources go once it completes.
  cudaEventDestroy(event);
  CUDA_CHECK("allreduce", status);
}

}  // namespace

void Context::Fork() { Order(stream_, CommunicationStream()); }

void Context::JoinCommunication() {
  std::vector<CUevent_st*> pending;
  pending.swap(pending_);
  cudaError_t status = cudaSuccess;
  for (CUevent_st* event : pending) {
    if (status == cudaSuccess) status = cudaStreamWaitEvent(stream_, event, 0);
    cudaEventDestroy(event);
  }
  CUDA_CHECK("allreduce", status);
}

void Context::SynchronizeAll() {
  JoinCommunication();
  if (communication_ != nullptr) {
    CUDA_CHECK("synchronize", cudaStreamSynchronize(communication_));
  }
  CUDA_CHECK("synchronize", cudaStreamSynchronize(stream_));
}

void* Context::Workspace(size_t bytes) {
  Grow(device_, stream_, &workspace_, &workspace_bytes_, bytes);
  return workspace_;
}

void* Context::Staging(size_t bytes) {
  Grow(device_, stream_, &staging_, &staging_bytes_, bytes);
  return staging_;
}

Context& GetContext(int device) {
  // Never destroyed (context.h).
  static auto* contexts = new std::vector<std::unique_ptr<Context>>();
  if (device < 0) throw std::runtime_error("CUDA device index " + std::to_string(device));
  if (static_cast<size_t>(device) >= contexts->size()) contexts->resize(device + 1);
  if (!(*contexts)[device]) {
    (*contexts)[device] = std::make_unique<Context>(device);
    // Registered after the CUDA runtime has started, so it runs before the runtime's own exit
    // handlers: from then on no thread calls CUDA (core/executor.h).
    static std::once_flag registered;
    std::call_once(registered, [] { std::atexit(BeginDeviceShutdown); });
  }
  CUDA_CHECK("context", cudaSetDevice(device));
  return *(*contexts)[device];
}

}  // namespace alexnet::cuda
