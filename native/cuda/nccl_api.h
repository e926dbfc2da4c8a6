// The subset of NCCL's C API that data-parallel training calls, declared here so that the addon
// builds without NCCL's headers and opens libnccl.so.2 at run time (nccl.h in this folder).
//
// Source: NCCL 2 (nccl.h; https://docs.nvidia.com/deeplearning/nccl/user-guide/docs/api.html).
// When the real nccl.h is present at build time, native/cuda/nccl_api_check.cc asserts every
// value, the unique id's size and every function type below against it.
#pragma once

#include <cstddef>

struct ncclComm;
struct CUstream_st;

namespace alexnet::nccl {

using Comm = ncclComm*;
using Stream = CUstream_st*;

// ncclUniqueId: NCCL_UNIQUE_ID_BYTES opaque bytes, made by one rank and sent to the others.
constexpr int kUniqueIdBytes = 128;
struct UniqueId {
  char internal[kUniqueIdBytes];
};

// ncclResult_t: only success is tested; messages come from ncclGetErrorString.
enum Result : int { kSuccess = 0 };
// ncclDataType_t (ncclFloat32 = ncclFloat = 7)
enum DataType : int { kFloat32 = 7 };
// ncclRedOp_t
enum RedOp : int { kSum = 0 };

using GetVersionFn = Result (*)(int* version);
using GetUniqueIdFn = Result (*)(UniqueId* id);
using CommInitRankFn = Result (*)(Comm* comm, int nranks, UniqueId id, int rank);
using CommDestroyFn = Result (*)(Comm comm);
using GetErrorStringFn = const char* (*)(Result);
using AllReduceFn = Result (*)(const void* sendbuff, void* recvbuff, size_t count,
                               DataType datatype, RedOp op, Comm comm, Stream stream);
using GroupStartFn = Result (*)();
using GroupEndFn = Result (*)();

// (member, exported symbol) of every function we load.
#define ALEXNET_NCCL_FUNCTIONS(X)       \
  X(GetVersion, ncclGetVersion)         \
  X(GetUniqueId, ncclGetUniqueId)       \
  X(CommInitRank, ncclCommInitRank)     \
  X(CommDestroy, ncclCommDestroy)       \
  X(GetErrorString, ncclGetErrorString) \
  X(AllReduce, ncclAllReduce)           \
  X(GroupStart, ncclGroupStart)         \
  X(GroupEnd, ncclGroupEnd)

struct Api {
#define ALEXNET_NCCL_MEMBER(name, symbol) name##Fn name = nullptr;
  ALEXNET_NCCL_FUNCTIONS(ALEXNET_NCCL_MEMBER)
#undef ALEXNET_NCCL_MEMBER
};

}  // namespace alexnet::nccl
