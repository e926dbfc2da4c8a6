// Status checks for the CUDA backend: every CUDA runtime, cuDNN and cuBLAS call goes through one
// of these macros, which throws std::runtime_error with the file, line, op, the call and the
// library's own message. node-addon-api (NODE_ADDON_API_CPP_EXCEPTIONS_ALL) turns it into a JS
// Error at the call site. No CUDA headers here: the messages are looked up in context.cc and
// through the loaded libraries.
#pragma once

namespace alexnet::cuda {

[[noreturn]] void ThrowCudaError(int status, const char* op, const char* call, const char* file,
                                 int line);
[[noreturn]] void ThrowCudnnError(int status, const char* op, const char* call, const char* file,
                                  int line);
[[noreturn]] void ThrowCublasError(int status, const char* op, const char* call, const char* file,
                                   int line);

}  // namespace alexnet::cuda

// `op` names the operation for the user ("conv2dForward"); `call` is the checked expression.
#define ALEXNET_STATUS_CHECK(thrower, op, call)                                        \
  do {                                                                                 \
    const int alexnet_status_ = static_cast<int>(call);                                \
    if (alexnet_status_ != 0) thrower(alexnet_status_, op, #call, __FILE__, __LINE__); \
  } while (0)

#define CUDA_CHECK(op, call) ALEXNET_STATUS_CHECK(::alexnet::cuda::ThrowCudaError, op, call)
#define CUDNN_CHECK(op, call) ALEXNET_STATUS_CHECK(::alexnet::cuda::ThrowCudnnError, op, call)
#define CUBLAS_CHECK(op, call) ALEXNET_STATUS_CHECK(::alexnet::cuda::ThrowCublasError, op, call)
