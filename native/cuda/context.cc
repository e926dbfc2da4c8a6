#include "cuda/context.h"

#include <cuda_runtime_api.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

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
  *buffer = DeviceAlloc(device, bytes);
  *size = bytes;
}

}  // namespace

void* Context::Workspace(size_t bytes) {
  Grow(device_, stream_, &workspace_, &workspace_bytes_, bytes);
  return workspace_;
}

void* Context::Staging(size_t bytes) {
  Grow(device_, stream_, &staging_, &staging_bytes_, bytes);
  return staging_;
}

Context& GetContext(int device) {
  static std::vector<std::unique_ptr<Context>> contexts;
  if (device < 0) throw std::runtime_error("CUDA device index " + std::to_string(device));
  if (static_cast<size_t>(device) >= contexts.size()) contexts.resize(device + 1);
  if (!contexts[device]) contexts[device] = std::make_unique<Context>(device);
  CUDA_CHECK("context", cudaSetDevice(device));
  return *contexts[device];
}

}  // namespace alexnet::cuda
