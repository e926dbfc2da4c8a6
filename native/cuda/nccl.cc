#include "cuda/nccl.h"

#include <cuda_runtime_api.h>
#include <dlfcn.h>

#include <mutex>
#include <stdexcept>

#include "cuda/check.h"
#include "cuda/context.h"
#include "cuda/library.h"

namespace alexnet::cuda {

namespace {

std::mutex g_mutex;
bool g_loaded = false;
nccl::Api g_api;
std::string g_description;

// Throws with file, line, the call and NCCL's message when `result` is not success.
void Check(nccl::Result result, const char* call, const char* file, int line) {
  if (result == nccl::kSuccess) return;
  throw std::runtime_error(std::string(file) + ":" + std::to_string(line) + ": " + call +
                           ": NCCL error " + std::to_string(result) + ": " +
                           g_api.GetErrorString(result));
}
#define NCCL_CHECK(call) Check((call), #call, __FILE__, __LINE__)

}  // namespace

const nccl::Api& Nccl() {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_loaded) return g_api;
  std::string where;
  void* handle =
      OpenRuntimeLibrary("libnccl.so.2", "pip install nvidia-nccl-cu13 or -cu12", &where);
  nccl::Api api;
#define ALEXNET_NCCL_RESOLVE(name, symbol)                             \
  api.name = reinterpret_cast<nccl::name##Fn>(dlsym(handle, #symbol)); \
  if (api.name == nullptr) {                                           \
    throw std::runtime_error("NCCL from " + where +                    \
                             " lacks " #symbol                         \
                             ": it is too old or "                     \
                             "not the expected library");              \
  }
  ALEXNET_NCCL_FUNCTIONS(ALEXNET_NCCL_RESOLVE)
#undef ALEXNET_NCCL_RESOLVE
  int version = 0;
  api.GetVersion(&version);
  // NCCL 2.9 and later encode their version as 10000 * major + 100 * minor + patch.
  g_description = "NCCL " + std::to_string(version / 10000) + "." +
                  std::to_string(version / 100 % 100) + "." + std::to_string(version % 100) +
                  " from " + where;
  g_api = api;
  g_loaded = true;
  return g_api;
}

std::string NcclDescription() {
  Nccl();
  std::lock_guard<std::mutex> lock(g_mutex);
  return g_description;
}

nccl::UniqueId NcclUniqueId() {
  nccl::UniqueId id{};
  NCCL_CHECK(Nccl().GetUniqueId(&id));
  return id;
}

nccl::Comm NcclInit(const nccl::UniqueId& id, int rank, int size, int device) {
  const nccl::Api& api = Nccl();
  CUDA_CHECK("ncclInit", cudaSetDevice(device));
  nccl::Comm comm = nullptr;
  NCCL_CHECK(api.CommInitRank(&comm, size, id, rank));
  return comm;
}

void NcclAllReduce(nccl::Comm comm, int device, const std::vector<DeviceSpan>& spans) {
  const nccl::Api& api = Nccl();
  CUDA_CHECK("ncclAllreduce", cudaSetDevice(device));
  nccl::Stream stream = GetContext(device).stream();
  NCCL_CHECK(api.GroupStart());
  for (const DeviceSpan& s : spans) {
    NCCL_CHECK(api.AllReduce(s.data, s.data, static_cast<size_t>(s.count), nccl::kFloat32,
                             nccl::kSum, comm, stream));
  }
  NCCL_CHECK(api.GroupEnd());
}

void NcclDestroy(nccl::Comm comm) { NCCL_CHECK(Nccl().CommDestroy(comm)); }

}  // namespace alexnet::cuda
