#include "cuda/nccl.h"

#include <cuda_runtime_api.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
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

// The CUDA version NCCL was built for, "12.9", from the string NCCL's src/init.cc embeds in the
// library so that `strings` shows it ("NCCL version 2.27.3+cuda12.9"); "" when absent.
std::string BuiltForCuda(void* symbol) {
  Dl_info info{};
  if (dladdr(symbol, &info) == 0 || info.dli_fname == nullptr) return "";
  const int fd = open(info.dli_fname, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  struct stat st {};
  std::string cuda;
  if (fstat(fd, &st) == 0 && st.st_size > 0) {
    const size_t size = static_cast<size_t>(st.st_size);
    void* map = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map != MAP_FAILED) {
      const char* bytes = static_cast<const char*>(map);
      const char kTag[] = "NCCL version ";
      const void* at = memmem(bytes, size, kTag, sizeof kTag - 1);
      if (at != nullptr) {
        const char* line = static_cast<const char*>(at);
        const size_t left = size - static_cast<size_t>(line - bytes);
        const std::string text(line, strnlen(line, std::min<size_t>(left, 64)));
        const size_t plus = text.find("+cuda");
        if (plus != std::string::npos) cuda = text.substr(plus + 5);
      }
      munmap(map, size);
    }
  }
  close(fd);
  return cuda;
}

}  // namespace

const nccl::Api& Nccl() {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_loaded) return g_api;
  std::string where;
  void* handle =
      OpenRuntimeLibrary("libnccl.so.2", "pip install nvidia-nccl-cu13 or -cu12", &where);
  auto get_version = reinterpret_cast<nccl::GetVersionFn>(dlsym(handle, "ncclGetVersion"));
  if (get_version == nullptr) {
    throw std::runtime_error("NCCL from " + where + " lacks ncclGetVersion: it is not NCCL 2");
  }
  int version = 0;
  get_version(&version);
  // NCCL 2.9 and later encode their version as 10000 * major + 100 * minor + patch.
  const std::string name = "NCCL " + std::to_string(version / 10000) + "." +
                           std::to_string(version / 100 % 100) + "." +
                           std::to_string(version % 100) + " from " + where;
  const std::string cuda = BuiltForCuda(reinterpret_cast<void*>(get_version));
  const int cudnn_major = CudnnCudaMajor();
  if (!cuda.empty() && cudnn_major != 0 && std::atoi(cuda.c_str()) != cudnn_major) {
    throw std::runtime_error(name + " is built for CUDA " + cuda +
                             ", but cuDNN is built for CUDA " + std::to_string(cudnn_major) +
                             ": one process takes one CUDA major. Install nvidia-nccl-cu" +
                             std::to_string(cudnn_major) +
                             " and put the other out of the search (ALEXNET_CUDA_LIBS, "
                             "LD_LIBRARY_PATH).");
  }
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
  g_description = name + (cuda.empty() ? "" : " (CUDA " + cuda + ")");
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
  Context& ctx = GetContext(device);
  // The sums start once the backward ops queued so far (which wrote these gradients) are done,
  // and run beside the ones queued next; the compute stream waits for them at Join.
  ctx.Fork();
  nccl::Stream stream = ctx.CommunicationStream();
  NCCL_CHECK(api.GroupStart());
  for (const DeviceSpan& s : spans) {
    NCCL_CHECK(api.AllReduce(s.data, s.data, static_cast<size_t>(s.count), nccl::kFloat32,
                             nccl::kSum, comm, stream));
  }
  NCCL_CHECK(api.GroupEnd());
  cudaEvent_t done;
  CUDA_CHECK("ncclAllreduce", cudaEventCreateWithFlags(&done, cudaEventDisableTiming));
  cudaError_t status = cudaEventRecord(done, stream);
  if (status != cudaSuccess) cudaEventDestroy(done);
  CUDA_CHECK("ncclAllreduce", status);
  ctx.AddPending(done);
}

void NcclJoin(int device) { GetContext(device).JoinCommunication(); }

void NcclDestroy(nccl::Comm comm, int device) {
  // ncclCommDestroy must not run while an allreduce of the communicator is queued or running.
  GetContext(device).SynchronizeAll();
  NCCL_CHECK(Nccl().CommDestroy(comm));
}

}  // namespace alexnet::cuda
