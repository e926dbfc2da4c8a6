// NCCL, the collective library for GPUs, opened at run time like cuDNN (library.h: from
// ALEXNET_CUDA_LIBS, the loader path, then the NVIDIA wheels' folders, where nvidia-nccl-cu12 /
// -cu13 put libnccl.so.2). One communicator per process and device; its unique id is made by
// rank 0 and sent to the others over MPI (lib/distributed/nccl-communicator.ts).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cuda/nccl_api.h"

namespace alexnet::cuda {

// The loaded API; throws naming what was tried when libnccl.so.2 cannot be opened.
const nccl::Api& Nccl();
// "NCCL 2.21.5 from /path".
std::string NcclDescription();

nccl::UniqueId NcclUniqueId();
// Joins the communicator of `size` ranks with this id as `rank`, on CUDA device `device`.
// Blocks until every rank has joined.
nccl::Comm NcclInit(const nccl::UniqueId& id, int rank, int size, int device);
// Sums each span over the ranks in place (one NCCL group, so the spans go out together), on the
// device's communication stream (context.h) after the ops queued before it on the compute stream,
// so the sums overlap the ops queued after it. NcclJoin makes the compute stream wait for every
// sum queued so far (before the optimiser's update); reads and flushes join too.
struct DeviceSpan {
  float* data;
  int64_t count;
};
void NcclAllReduce(nccl::Comm comm, int device, const std::vector<DeviceSpan>& spans);
void NcclJoin(int device);
// Waits for the device's streams, then destroys the communicator.
void NcclDestroy(nccl::Comm comm, int device);

}  // namespace alexnet::cuda
