// Compile-time check of our NCCL declarations (nccl_api.h) against the real nccl.h, built only
// when CMake finds it (the nccl_api_check target; the addon never links it): the communicator and
// stream types, the unique id's length, size and field, every enum value and size, and every
// function type. A mismatch fails the build naming what differs.
#include <nccl.h>

#include <cstddef>
#include <type_traits>

#include "cuda/nccl_api.h"

namespace alexnet::cuda::nccl_api_check {

template <typename T>
struct Real {
  using type = T;
};
template <typename T>
struct Real<T*> {
  using type = typename Real<T>::type*;
};
template <>
struct Real<nccl::Result> {
  using type = ncclResult_t;
};
template <>
struct Real<nccl::DataType> {
  using type = ncclDataType_t;
};
template <>
struct Real<nccl::RedOp> {
  using type = ncclRedOp_t;
};
template <>
struct Real<nccl::UniqueId> {
  using type = ncclUniqueId;
};

template <typename F>
struct RealFn;
template <typename R, typename... A>
struct RealFn<R (*)(A...)> {
  using type = typename Real<R>::type (*)(typename Real<A>::type...);
};

static_assert(std::is_same_v<nccl::Comm, ncclComm_t>, "ncclComm_t");
static_assert(std::is_same_v<nccl::Stream, cudaStream_t>, "cudaStream_t");
static_assert(nccl::kUniqueIdBytes == NCCL_UNIQUE_ID_BYTES, "NCCL_UNIQUE_ID_BYTES");
static_assert(sizeof(nccl::UniqueId) == sizeof(ncclUniqueId), "ncclUniqueId size");
static_assert(offsetof(nccl::UniqueId, internal) == offsetof(ncclUniqueId, internal),
              "ncclUniqueId.internal offset");
static_assert(std::is_same_v<decltype(nccl::UniqueId::internal), decltype(ncclUniqueId::internal)>,
              "ncclUniqueId.internal type");
static_assert(sizeof(nccl::Result) == sizeof(ncclResult_t), "ncclResult_t size");
static_assert(sizeof(nccl::DataType) == sizeof(ncclDataType_t), "ncclDataType_t size");
static_assert(sizeof(nccl::RedOp) == sizeof(ncclRedOp_t), "ncclRedOp_t size");
static_assert(nccl::kSuccess == static_cast<int>(ncclSuccess), "ncclSuccess");
static_assert(nccl::kFloat32 == static_cast<int>(ncclFloat32), "ncclFloat32");
static_assert(nccl::kSum == static_cast<int>(ncclSum), "ncclSum");

#define ALEXNET_NCCL_CHECK_TYPE(name, symbol)                                    \
  static_assert(std::is_same_v<RealFn<nccl::name##Fn>::type, decltype(&symbol)>, \
                #symbol " differs from nccl_api.h");
ALEXNET_NCCL_FUNCTIONS(ALEXNET_NCCL_CHECK_TYPE)
#undef ALEXNET_NCCL_CHECK_TYPE

}  // namespace alexnet::cuda::nccl_api_check
