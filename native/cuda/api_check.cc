// Compile-time check of our cuDNN and cuBLAS declarations (cudnn_api.h, cublas_api.h) against the
// real headers, built only when CMake finds cudnn.h and cublas_v2.h (the api_check target; the
// addon never links it). Every enum value we declare must equal the library's, every enum we
// declare must have the size of the library's, every perf struct must have the library's layout
// and field types, and every function type we load must be the library's once our enums are
// replaced by theirs. A mismatch fails the build with the name of what differs.
#include <cublas_v2.h>
#include <cudnn.h>

#include <cstddef>
#include <type_traits>

#include "cuda/cublas_api.h"
#include "cuda/cudnn_api.h"

namespace alexnet::cuda::api_check {

// Real<T>: our type T with our enums and structs replaced by the library's.
template <typename T>
struct Real {
  using type = T;
};
template <typename T>
struct Real<T*> {
  using type = typename Real<T>::type*;
};
template <typename T>
struct Real<const T> {
  using type = const typename Real<T>::type;
};
#define ALEXNET_REAL(ours, theirs) \
  template <>                      \
  struct Real<ours> {              \
    using type = theirs;           \
  };
ALEXNET_REAL(cudnn::Status, cudnnStatus_t)
ALEXNET_REAL(cudnn::DataType, cudnnDataType_t)
ALEXNET_REAL(cudnn::TensorFormat, cudnnTensorFormat_t)
ALEXNET_REAL(cudnn::ConvolutionMode, cudnnConvolutionMode_t)
ALEXNET_REAL(cudnn::MathType, cudnnMathType_t)
ALEXNET_REAL(cudnn::Determinism, cudnnDeterminism_t)
ALEXNET_REAL(cudnn::ConvolutionFwdAlgo, cudnnConvolutionFwdAlgo_t)
ALEXNET_REAL(cudnn::ConvolutionBwdDataAlgo, cudnnConvolutionBwdDataAlgo_t)
ALEXNET_REAL(cudnn::ConvolutionBwdFilterAlgo, cudnnConvolutionBwdFilterAlgo_t)
ALEXNET_REAL(cudnn::ConvolutionFwdAlgoPerf, cudnnConvolutionFwdAlgoPerf_t)
ALEXNET_REAL(cudnn::ConvolutionBwdDataAlgoPerf, cudnnConvolutionBwdDataAlgoPerf_t)
ALEXNET_REAL(cudnn::ConvolutionBwdFilterAlgoPerf, cudnnConvolutionBwdFilterAlgoPerf_t)
ALEXNET_REAL(cudnn::LrnMode, cudnnLRNMode_t)
ALEXNET_REAL(cudnn::PoolingMode, cudnnPoolingMode_t)
ALEXNET_REAL(cudnn::NanPropagation, cudnnNanPropagation_t)
ALEXNET_REAL(cublas::Status, cublasStatus_t)
ALEXNET_REAL(cublas::Operation, cublasOperation_t)
ALEXNET_REAL(cublas::Math, cublasMath_t)
ALEXNET_REAL(cublas::LibraryProperty, libraryPropertyType)
#undef ALEXNET_REAL

template <typename F>
struct RealFn;
template <typename R, typename... A>
struct RealFn<R (*)(A...)> {
  using type = typename Real<R>::type (*)(typename Real<A>::type...);
};

// Handles and descriptors: the same types by construction (the same struct tags).
static_assert(std::is_same_v<cudnn::Handle, cudnnHandle_t>);
static_assert(std::is_same_v<cudnn::TensorDescriptor, cudnnTensorDescriptor_t>);
static_assert(std::is_same_v<cudnn::FilterDescriptor, cudnnFilterDescriptor_t>);
static_assert(std::is_same_v<cudnn::ConvolutionDescriptor, cudnnConvolutionDescriptor_t>);
static_assert(std::is_same_v<cudnn::LrnDescriptor, cudnnLRNDescriptor_t>);
static_assert(std::is_same_v<cudnn::PoolingDescriptor, cudnnPoolingDescriptor_t>);
static_assert(std::is_same_v<cudnn::Stream, cudaStream_t>);
static_assert(std::is_same_v<cublas::Handle, cublasHandle_t>);
static_assert(std::is_same_v<cublas::Stream, cudaStream_t>);

// Enum values and sizes.
#define ALEXNET_SAME_VALUE(ours, theirs) \
  static_assert(static_cast<long>(ours) == static_cast<long>(theirs), #ours " != " #theirs);
ALEXNET_SAME_VALUE(cudnn::kStatusSuccess, CUDNN_STATUS_SUCCESS)
ALEXNET_SAME_VALUE(cudnn::kDataFloat, CUDNN_DATA_FLOAT)
ALEXNET_SAME_VALUE(cudnn::kTensorNchw, CUDNN_TENSOR_NCHW)
ALEXNET_SAME_VALUE(cudnn::kConvolution, CUDNN_CONVOLUTION)
ALEXNET_SAME_VALUE(cudnn::kCrossCorrelation, CUDNN_CROSS_CORRELATION)
ALEXNET_SAME_VALUE(cudnn::kDefaultMath, CUDNN_DEFAULT_MATH)
ALEXNET_SAME_VALUE(cudnn::kTensorOpMath, CUDNN_TENSOR_OP_MATH)
ALEXNET_SAME_VALUE(cudnn::kTensorOpMathAllowConversion, CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION)
ALEXNET_SAME_VALUE(cudnn::kFmaMath, CUDNN_FMA_MATH)
ALEXNET_SAME_VALUE(cudnn::kNonDeterministic, CUDNN_NON_DETERMINISTIC)
ALEXNET_SAME_VALUE(cudnn::kDeterministic, CUDNN_DETERMINISTIC)
ALEXNET_SAME_VALUE(cudnn::kConvolutionFwdAlgoCount, CUDNN_CONVOLUTION_FWD_ALGO_COUNT)
ALEXNET_SAME_VALUE(cudnn::kConvolutionBwdDataAlgoCount, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT)
ALEXNET_SAME_VALUE(cudnn::kConvolutionBwdFilterAlgoCount, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT)
ALEXNET_SAME_VALUE(cudnn::kLrnCrossChannelDim1, CUDNN_LRN_CROSS_CHANNEL_DIM1)
ALEXNET_SAME_VALUE(cudnn::kPoolingMax, CUDNN_POOLING_MAX)
ALEXNET_SAME_VALUE(cudnn::kPoolingMaxDeterministic, CUDNN_POOLING_MAX_DETERMINISTIC)
ALEXNET_SAME_VALUE(cudnn::kNotPropagateNan, CUDNN_NOT_PROPAGATE_NAN)
ALEXNET_SAME_VALUE(cudnn::kPropagateNan, CUDNN_PROPAGATE_NAN)
ALEXNET_SAME_VALUE(cublas::kStatusSuccess, CUBLAS_STATUS_SUCCESS)
ALEXNET_SAME_VALUE(cublas::kOpN, CUBLAS_OP_N)
ALEXNET_SAME_VALUE(cublas::kOpT, CUBLAS_OP_T)
ALEXNET_SAME_VALUE(cublas::kDefaultMath, CUBLAS_DEFAULT_MATH)
ALEXNET_SAME_VALUE(cublas::kPedanticMath, CUBLAS_PEDANTIC_MATH)
ALEXNET_SAME_VALUE(cublas::kTf32TensorOpMath, CUBLAS_TF32_TENSOR_OP_MATH)
ALEXNET_SAME_VALUE(cublas::kMajorVersion, MAJOR_VERSION)
ALEXNET_SAME_VALUE(cublas::kMinorVersion, MINOR_VERSION)
ALEXNET_SAME_VALUE(cublas::kPatchLevel, PATCH_LEVEL)
#undef ALEXNET_SAME_VALUE

// Our enums are passed where theirs are expected, and read in the library's structs: same size,
// every one of them.
#define ALEXNET_SAME_SIZE(ours)                                                    \
  static_assert(sizeof(ours) == sizeof(typename Real<ours>::type), #ours " size"); \
  static_assert(!std::is_same_v<ours, typename Real<ours>::type>, #ours " has no Real<>");
ALEXNET_SAME_SIZE(cudnn::Status)
ALEXNET_SAME_SIZE(cudnn::DataType)
ALEXNET_SAME_SIZE(cudnn::TensorFormat)
ALEXNET_SAME_SIZE(cudnn::ConvolutionMode)
ALEXNET_SAME_SIZE(cudnn::MathType)
ALEXNET_SAME_SIZE(cudnn::Determinism)
ALEXNET_SAME_SIZE(cudnn::ConvolutionFwdAlgo)
ALEXNET_SAME_SIZE(cudnn::ConvolutionBwdDataAlgo)
ALEXNET_SAME_SIZE(cudnn::ConvolutionBwdFilterAlgo)
ALEXNET_SAME_SIZE(cudnn::LrnMode)
ALEXNET_SAME_SIZE(cudnn::PoolingMode)
ALEXNET_SAME_SIZE(cudnn::NanPropagation)
ALEXNET_SAME_SIZE(cublas::Status)
ALEXNET_SAME_SIZE(cublas::Operation)
ALEXNET_SAME_SIZE(cublas::Math)
ALEXNET_SAME_SIZE(cublas::LibraryProperty)
#undef ALEXNET_SAME_SIZE

// The perf structs cudnnFind* fills, in full: size, and each field's offset and type.
#define ALEXNET_SAME_FIELD(ours, theirs, field, their_field)                                     \
  static_assert(offsetof(ours, field) == offsetof(theirs, their_field),                          \
                #theirs "." #their_field " offset");                                             \
  static_assert(                                                                                 \
      std::is_same_v<typename Real<decltype(ours::field)>::type, decltype(theirs::their_field)>, \
      #theirs "." #their_field " type");
#define ALEXNET_SAME_LAYOUT(ours, theirs)                         \
  static_assert(sizeof(ours) == sizeof(theirs), #theirs " size"); \
  ALEXNET_SAME_FIELD(ours, theirs, algo, algo)                    \
  ALEXNET_SAME_FIELD(ours, theirs, status, status)                \
  ALEXNET_SAME_FIELD(ours, theirs, time, time)                    \
  ALEXNET_SAME_FIELD(ours, theirs, memory, memory)                \
  ALEXNET_SAME_FIELD(ours, theirs, determinism, determinism)      \
  ALEXNET_SAME_FIELD(ours, theirs, math_type, mathType)           \
  ALEXNET_SAME_FIELD(ours, theirs, reserved, reserved)
ALEXNET_SAME_LAYOUT(cudnn::ConvolutionFwdAlgoPerf, cudnnConvolutionFwdAlgoPerf_t)
ALEXNET_SAME_LAYOUT(cudnn::ConvolutionBwdDataAlgoPerf, cudnnConvolutionBwdDataAlgoPerf_t)
ALEXNET_SAME_LAYOUT(cudnn::ConvolutionBwdFilterAlgoPerf, cudnnConvolutionBwdFilterAlgoPerf_t)
#undef ALEXNET_SAME_LAYOUT
#undef ALEXNET_SAME_FIELD

// Function types.
#define ALEXNET_CHECK_CUDNN_FN(name, symbol)                                        \
  static_assert(std::is_same_v<RealFn<cudnn::name##Fn>::type, decltype(&::symbol)>, \
                #symbol " does not match cudnn_api.h");
ALEXNET_CUDNN_FUNCTIONS(ALEXNET_CHECK_CUDNN_FN)
#undef ALEXNET_CHECK_CUDNN_FN

#define ALEXNET_CHECK_CUBLAS_FN(name, symbol)                                        \
  static_assert(std::is_same_v<RealFn<cublas::name##Fn>::type, decltype(&::symbol)>, \
                #symbol " does not match cublas_api.h");
ALEXNET_CUBLAS_FUNCTIONS(ALEXNET_CHECK_CUBLAS_FN)
#undef ALEXNET_CHECK_CUBLAS_FN

}  // namespace alexnet::cuda::api_check
