// The subset of cuDNN's C API that the CUDA backend calls, declared here so that the addon
// builds without cuDNN's headers and opens the library at run time (library.h).
//
// Source of the values and signatures: cuDNN 9 headers (cudnn_graph.h for the handle, status,
// data types and math types; cudnn_ops.h for tensors, filters, LRN and pooling; cudnn_cnn.h for
// convolution), as documented at https://docs.nvidia.com/deeplearning/cudnn/latest/api/. The
// values below have been stable since cuDNN 7. When the real headers are present at build time,
// native/cuda/api_check.cc asserts every enum value and every function type against them.
//
// The handle and descriptor types are pointers to the same global struct tags the real headers
// use, so they are the same types; enums are our own, with the library's values.
#pragma once

#include <cstddef>

struct cudnnContext;
struct cudnnTensorStruct;
struct cudnnFilterStruct;
struct cudnnConvolutionStruct;
struct cudnnLRNStruct;
struct cudnnPoolingStruct;
struct CUstream_st;

namespace alexnet::cudnn {

using Handle = cudnnContext*;
using TensorDescriptor = cudnnTensorStruct*;
using FilterDescriptor = cudnnFilterStruct*;
using ConvolutionDescriptor = cudnnConvolutionStruct*;
using LrnDescriptor = cudnnLRNStruct*;
using PoolingDescriptor = cudnnPoolingStruct*;
using Stream = CUstream_st*;

// cudnnStatus_t: only success is tested; messages come from cudnnGetErrorString.
enum Status : int { kStatusSuccess = 0 };

// cudnnDataType_t
enum DataType : int { kDataFloat = 0 };

// cudnnTensorFormat_t
enum TensorFormat : int { kTensorNchw = 0 };

// cudnnConvolutionMode_t: Caffe's and PyTorch's "convolution" is a cross-correlation.
enum ConvolutionMode : int { kConvolution = 0, kCrossCorrelation = 1 };

// cudnnMathType_t. kFmaMath restricts cuDNN to FMA kernels: no TF32 tensor cores, which
// kDefaultMath allows on Ampere and newer for float32 data. As the math type a cudnnFind* result
// reports, kDefaultMath and kFmaMath are float32 arithmetic; the two tensor-op types are not.
enum MathType : int {
  kDefaultMath = 0,
  kTensorOpMath = 1,
  kTensorOpMathAllowConversion = 2,
  kFmaMath = 3
};

// cudnnDeterminism_t: whether an algorithm gives bitwise the same result on every run (the
// backward-filter algorithms 0 and 3 and backward-data algorithm 0 sum with atomics and do not).
enum Determinism : int { kNonDeterministic = 0, kDeterministic = 1 };

// cudnnConvolutionFwdAlgo_t, cudnnConvolutionBwdDataAlgo_t, cudnnConvolutionBwdFilterAlgo_t:
// chosen by cudnnFind*, never named, so no enumerators; the counts bound the Find calls.
enum ConvolutionFwdAlgo : int {};
enum ConvolutionBwdDataAlgo : int {};
enum ConvolutionBwdFilterAlgo : int {};
constexpr int kConvolutionFwdAlgoCount = 8;
constexpr int kConvolutionBwdDataAlgoCount = 6;
constexpr int kConvolutionBwdFilterAlgoCount = 7;

// cudnnLRNMode_t
enum LrnMode : int { kLrnCrossChannelDim1 = 0 };

// cudnnPoolingMode_t. The backward of kPoolingMax adds overlapping windows' gradients with
// atomics, in no fixed order; kPoolingMaxDeterministic does not (cudnn_ops.h).
enum PoolingMode : int { kPoolingMax = 0, kPoolingMaxDeterministic = 3 };

// cudnnNanPropagation_t
enum NanPropagation : int { kNotPropagateNan = 0, kPropagateNan = 1 };

// cudnnConvolutionFwdAlgoPerf_t and its backward twins: one layout, the algorithm first.
template <typename Algo>
struct AlgoPerf {
  Algo algo;
  Status status;
  float time;
  size_t memory;
  Determinism determinism;
  MathType math_type;
  int reserved[3];
};
using ConvolutionFwdAlgoPerf = AlgoPerf<ConvolutionFwdAlgo>;
using ConvolutionBwdDataAlgoPerf = AlgoPerf<ConvolutionBwdDataAlgo>;
using ConvolutionBwdFilterAlgoPerf = AlgoPerf<ConvolutionBwdFilterAlgo>;

// Function types, named after the cuDNN function without its prefix.
using GetVersionFn = size_t (*)();
// The CUDA runtime version cuDNN was built against (e.g. 12080): its cuBLAS must be that major.
using GetCudartVersionFn = size_t (*)();
using GetErrorStringFn = const char* (*)(Status);
using CreateFn = Status (*)(Handle*);
using DestroyFn = Status (*)(Handle);
using SetStreamFn = Status (*)(Handle, Stream);

using CreateTensorDescriptorFn = Status (*)(TensorDescriptor*);
using DestroyTensorDescriptorFn = Status (*)(TensorDescriptor);
using SetTensor4dDescriptorFn = Status (*)(TensorDescriptor, TensorFormat, DataType, int n, int c,
                                           int h, int w);
using CreateFilterDescriptorFn = Status (*)(FilterDescriptor*);
using DestroyFilterDescriptorFn = Status (*)(FilterDescriptor);
using SetFilter4dDescriptorFn = Status (*)(FilterDescriptor, DataType, TensorFormat, int k, int c,
                                           int h, int w);

using CreateConvolutionDescriptorFn = Status (*)(ConvolutionDescriptor*);
using DestroyConvolutionDescriptorFn = Status (*)(ConvolutionDescriptor);
using SetConvolution2dDescriptorFn = Status (*)(ConvolutionDescriptor, int pad_h, int pad_w, int u,
                                                int v, int dilation_h, int dilation_w,
                                                ConvolutionMode, DataType compute_type);
using SetConvolutionGroupCountFn = Status (*)(ConvolutionDescriptor, int group_count);
using SetConvolutionMathTypeFn = Status (*)(ConvolutionDescriptor, MathType);

using FindConvolutionForwardAlgorithmExFn = Status (*)(
    Handle, const TensorDescriptor, const void* x, const FilterDescriptor, const void* w,
    const ConvolutionDescriptor, const TensorDescriptor, void* y, const int requested,
    int* returned, ConvolutionFwdAlgoPerf* results, void* workspace, size_t workspace_bytes);
using FindConvolutionBackwardDataAlgorithmExFn = Status (*)(
    Handle, const FilterDescriptor, const void* w, const TensorDescriptor, const void* dy,
    const ConvolutionDescriptor, const TensorDescriptor, void* dx, const int requested,
    int* returned, ConvolutionBwdDataAlgoPerf* results, void* workspace, size_t workspace_bytes);
using FindConvolutionBackwardFilterAlgorithmExFn = Status (*)(
    Handle, const TensorDescriptor, const void* x, const TensorDescriptor, const void* dy,
    const ConvolutionDescriptor, const FilterDescriptor, void* dw, const int requested,
    int* returned, ConvolutionBwdFilterAlgoPerf* results, void* workspace, size_t workspace_bytes);

using GetConvolutionForwardWorkspaceSizeFn = Status (*)(Handle, const TensorDescriptor,
                                                        const FilterDescriptor,
                                                        const ConvolutionDescriptor,
                                                        const TensorDescriptor, ConvolutionFwdAlgo,
                                                        size_t* bytes);
using GetConvolutionBackwardDataWorkspaceSizeFn = Status (*)(Handle, const FilterDescriptor,
                                                             const TensorDescriptor,
                                                             const ConvolutionDescriptor,
                                                             const TensorDescriptor,
                                                             ConvolutionBwdDataAlgo, size_t* bytes);
using GetConvolutionBackwardFilterWorkspaceSizeFn =
    Status (*)(Handle, const TensorDescriptor, const TensorDescriptor, const ConvolutionDescriptor,
               const FilterDescriptor, ConvolutionBwdFilterAlgo, size_t* bytes);

using ConvolutionForwardFn = Status (*)(Handle, const void* alpha, const TensorDescriptor,
                                        const void* x, const FilterDescriptor, const void* w,
                                        const ConvolutionDescriptor, ConvolutionFwdAlgo,
                                        void* workspace, size_t workspace_bytes, const void* beta,
                                        const TensorDescriptor, void* y);
using ConvolutionBackwardDataFn = Status (*)(Handle, const void* alpha, const FilterDescriptor,
                                             const void* w, const TensorDescriptor, const void* dy,
                                             const ConvolutionDescriptor, ConvolutionBwdDataAlgo,
                                             void* workspace, size_t workspace_bytes,
                                             const void* beta, const TensorDescriptor, void* dx);
using ConvolutionBackwardFilterFn = Status (*)(Handle, const void* alpha, const TensorDescriptor,
                                               const void* x, const TensorDescriptor,
                                               const void* dy, const ConvolutionDescriptor,
                                               ConvolutionBwdFilterAlgo, void* workspace,
                                               size_t workspace_bytes, const void* beta,
                                               const FilterDescriptor, void* dw);

using CreateLrnDescriptorFn = Status (*)(LrnDescriptor*);
using DestroyLrnDescriptorFn = Status (*)(LrnDescriptor);
using SetLrnDescriptorFn = Status (*)(LrnDescriptor, unsigned n, double alpha, double beta,
                                      double k);
using LrnCrossChannelForwardFn = Status (*)(Handle, LrnDescriptor, LrnMode, const void* alpha,
                                            const TensorDescriptor, const void* x, const void* beta,
                                            const TensorDescriptor, void* y);
using LrnCrossChannelBackwardFn = Status (*)(Handle, LrnDescriptor, LrnMode, const void* alpha,
                                             const TensorDescriptor, const void* y,
                                             const TensorDescriptor, const void* dy,
                                             const TensorDescriptor, const void* x,
                                             const void* beta, const TensorDescriptor, void* dx);

using CreatePoolingDescriptorFn = Status (*)(PoolingDescriptor*);
using DestroyPoolingDescriptorFn = Status (*)(PoolingDescriptor);
using SetPooling2dDescriptorFn = Status (*)(PoolingDescriptor, PoolingMode, NanPropagation,
                                            int window_h, int window_w, int pad_v, int pad_h,
                                            int stride_v, int stride_h);
using PoolingForwardFn = Status (*)(Handle, const PoolingDescriptor, const void* alpha,
                                    const TensorDescriptor, const void* x, const void* beta,
                                    const TensorDescriptor, void* y);
using PoolingBackwardFn = Status (*)(Handle, const PoolingDescriptor, const void* alpha,
                                     const TensorDescriptor, const void* y, const TensorDescriptor,
                                     const void* dy, const TensorDescriptor, const void* x,
                                     const void* beta, const TensorDescriptor, void* dx);

// The X-macro list of every function we load: (member, exported symbol). library.cc resolves
// them, api_check.cc checks their types.
#define ALEXNET_CUDNN_FUNCTIONS(X)                                                             \
  X(GetVersion, cudnnGetVersion)                                                               \
  X(GetCudartVersion, cudnnGetCudartVersion)                                                   \
  X(GetErrorString, cudnnGetErrorString)                                                       \
  X(Create, cudnnCreate)                                                                       \
  X(Destroy, cudnnDestroy)                                                                     \
  X(SetStream, cudnnSetStream)                                                                 \
  X(CreateTensorDescriptor, cudnnCreateTensorDescriptor)                                       \
  X(DestroyTensorDescriptor, cudnnDestroyTensorDescriptor)                                     \
  X(SetTensor4dDescriptor, cudnnSetTensor4dDescriptor)                                         \
  X(CreateFilterDescriptor, cudnnCreateFilterDescriptor)                                       \
  X(DestroyFilterDescriptor, cudnnDestroyFilterDescriptor)                                     \
  X(SetFilter4dDescriptor, cudnnSetFilter4dDescriptor)                                         \
  X(CreateConvolutionDescriptor, cudnnCreateConvolutionDescriptor)                             \
  X(DestroyConvolutionDescriptor, cudnnDestroyConvolutionDescriptor)                           \
  X(SetConvolution2dDescriptor, cudnnSetConvolution2dDescriptor)                               \
  X(SetConvolutionGroupCount, cudnnSetConvolutionGroupCount)                                   \
  X(SetConvolutionMathType, cudnnSetConvolutionMathType)                                       \
  X(FindConvolutionForwardAlgorithmEx, cudnnFindConvolutionForwardAlgorithmEx)                 \
  X(FindConvolutionBackwardDataAlgorithmEx, cudnnFindConvolutionBackwardDataAlgorithmEx)       \
  X(FindConvolutionBackwardFilterAlgorithmEx, cudnnFindConvolutionBackwardFilterAlgorithmEx)   \
  X(GetConvolutionForwardWorkspaceSize, cudnnGetConvolutionForwardWorkspaceSize)               \
  X(GetConvolutionBackwardDataWorkspaceSize, cudnnGetConvolutionBackwardDataWorkspaceSize)     \
  X(GetConvolutionBackwardFilterWorkspaceSize, cudnnGetConvolutionBackwardFilterWorkspaceSize) \
  X(ConvolutionForward, cudnnConvolutionForward)                                               \
  X(ConvolutionBackwardData, cudnnConvolutionBackwardData)                                     \
  X(ConvolutionBackwardFilter, cudnnConvolutionBackwardFilter)                                 \
  X(CreateLrnDescriptor, cudnnCreateLRNDescriptor)                                             \
  X(DestroyLrnDescriptor, cudnnDestroyLRNDescriptor)                                           \
  X(SetLrnDescriptor, cudnnSetLRNDescriptor)                                                   \
  X(LrnCrossChannelForward, cudnnLRNCrossChannelForward)                                       \
  X(LrnCrossChannelBackward, cudnnLRNCrossChannelBackward)                                     \
  X(CreatePoolingDescriptor, cudnnCreatePoolingDescriptor)                                     \
  X(DestroyPoolingDescriptor, cudnnDestroyPoolingDescriptor)                                   \
  X(SetPooling2dDescriptor, cudnnSetPooling2dDescriptor)                                       \
  X(PoolingForward, cudnnPoolingForward)                                                       \
  X(PoolingBackward, cudnnPoolingBackward)

// The loaded entry points: one member per function, of the type above.
struct Api {
#define ALEXNET_CUDNN_MEMBER(name, symbol) name##Fn name = nullptr;
  ALEXNET_CUDNN_FUNCTIONS(ALEXNET_CUDNN_MEMBER)
#undef ALEXNET_CUDNN_MEMBER
};

}  // namespace alexnet::cudnn
