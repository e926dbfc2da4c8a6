// The subset of cuBLAS's C API that the CUDA backend calls, declared here so that the addon
// builds without cuBLAS's headers and opens the library at run time (library.h).
//
// Source: cuBLAS 12 / 13 (cublas_api.h and cublas_v2.h; https://docs.nvidia.com/cuda/cublas/).
// cublas_v2.h maps cublasCreate, cublasSgemm, ... to the exported symbols cublasCreate_v2,
// cublasSgemm_v2, ..., which are the names we resolve. When the real headers are present at build
// time, native/cuda/api_check.cc asserts every value and function type below against them.
#pragma once

struct cublasContext;
struct CUstream_st;

namespace alexnet::cublas {

using Handle = cublasContext*;
using Stream = CUstream_st*;

// cublasStatus_t: only success is tested; messages come from cublasGetStatusString.
enum Status : int { kStatusSuccess = 0 };

// cublasOperation_t
enum Operation : int { kOpN = 0, kOpT = 1 };

// cublasMath_t. kDefaultMath keeps float32 GEMMs in float32 (TF32 needs kTf32TensorOpMath or the
// NVIDIA_TF32_OVERRIDE environment variable); kPedanticMath also forbids reduced-precision
// reductions, which float32 never uses anyway.
enum Math : int { kDefaultMath = 0, kPedanticMath = 2, kTf32TensorOpMath = 3 };

// libraryPropertyType (library_types.h), for cublasGetProperty.
enum LibraryProperty : int { kMajorVersion = 0, kMinorVersion = 1, kPatchLevel = 2 };

using GetPropertyFn = Status (*)(LibraryProperty, int* value);
// The CUDA runtime version cuBLAS was built against (e.g. 13000).
using GetCudartVersionFn = size_t (*)();
using CreateFn = Status (*)(Handle*);
using DestroyFn = Status (*)(Handle);
using GetStatusStringFn = const char* (*)(Status);
using SetStreamFn = Status (*)(Handle, Stream);
using SetMathModeFn = Status (*)(Handle, Math);
using SgemmFn = Status (*)(Handle, Operation transa, Operation transb, int m, int n, int k,
                           const float* alpha, const float* a, int lda, const float* b, int ldb,
                           const float* beta, float* c, int ldc);

// (member, exported symbol) of every function we load.
#define ALEXNET_CUBLAS_FUNCTIONS(X)           \
  X(GetProperty, cublasGetProperty)           \
  X(GetCudartVersion, cublasGetCudartVersion) \
  X(Create, cublasCreate_v2)                  \
  X(Destroy, cublasDestroy_v2)                \
  X(GetStatusString, cublasGetStatusString)   \
  X(SetStream, cublasSetStream_v2)            \
  X(SetMathMode, cublasSetMathMode)           \
  X(Sgemm, cublasSgemm_v2)

struct Api {
#define ALEXNET_CUBLAS_MEMBER(name, symbol) name##Fn name = nullptr;
  ALEXNET_CUBLAS_FUNCTIONS(ALEXNET_CUBLAS_MEMBER)
#undef ALEXNET_CUBLAS_MEMBER
};

}  // namespace alexnet::cublas
