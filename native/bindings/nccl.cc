// When the CUDA backend is built (absent from the exports otherwise; native/cuda/nccl.h):
//   ncclUniqueId(): Uint8Array of the 128 bytes rank 0 sends to the others
//   ncclInit(id, rank, size, device): joins the communicator; returns its index here
//   ncclAllreduceTensors(comm, tensors): queued; sums each CUDA tensor over the ranks in place,
//     on the device's communication stream after the ops queued before it, beside those after
//   ncclWait(comm): queued; the ops queued after it wait for every sum queued before it
//   ncclDescription(): "NCCL 2.x.y from /path"; ncclDestroy(comm): after the queued ops and sums
#include "cuda/nccl.h"

#include <cstring>
#include <vector>

#include "bindings/bindings.h"
#include "core/args.h"

namespace alexnet {

namespace {

// A communicator and the CUDA device it was joined on.
struct Communicator {
  nccl::Comm comm;
  int device;
};

// Communicators by index (a process joins one per device; they live until ncclDestroy).
std::vector<Communicator> communicators;

const Communicator& CommArg(const Napi::CallbackInfo& info) {
  const uint32_t index = Uint32Arg(info, 0);
  if (index >= communicators.size() || communicators[index].comm == nullptr) {
    throw Napi::Error::New(info.Env(), "NCCL communicator " + std::to_string(index) +
                                           " does not exist or was destroyed");
  }
  return communicators[index];
}

// Runs `body` holding the CUDA lock (core/executor.h), its error a JS Error.
template <typename F>
auto Guarded(Napi::Env env, int device, F body) {
  try {
    auto lock = LockDevice(Device{DeviceKind::kCuda, device});
    return body();
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  }
}

Napi::Value UniqueId(const Napi::CallbackInfo& info) {
  nccl::UniqueId id = Guarded(info.Env(), 0, [] { return cuda::NcclUniqueId(); });
  Napi::Uint8Array bytes = Napi::Uint8Array::New(info.Env(), nccl::kUniqueIdBytes);
  std::memcpy(bytes.Data(), id.internal, nccl::kUniqueIdBytes);
  return bytes;
}

Napi::Value Init(const Napi::CallbackInfo& info) {
  auto bytes = info[0].As<Napi::Uint8Array>();
  // Backstop of lib/distributed/nccl-communicator.ts: a shorter id would be read past its end.
  if (bytes.ByteLength() != static_cast<size_t>(nccl::kUniqueIdBytes)) {
    throw Napi::Error::New(info.Env(),
                           "Expected an NCCL unique id of " + std::to_string(nccl::kUniqueIdBytes) +
                               " bytes but received " + std::to_string(bytes.ByteLength()));
  }
  nccl::UniqueId id{};
  std::memcpy(id.internal, bytes.Data(), nccl::kUniqueIdBytes);
  const int rank = IntArg(info, 1);
  const int size = IntArg(info, 2);
  const int device = IntArg(info, 3);
  // Waits for the other ranks without the CUDA lock, which this process's queue may need.
  nccl::Comm comm;
  try {
    comm = cuda::NcclInit(id, rank, size, device);
  } catch (const std::exception& e) {
    throw Napi::Error::New(info.Env(), e.what());
  }
  communicators.push_back(Communicator{comm, device});
  return Napi::Number::New(info.Env(), static_cast<double>(communicators.size() - 1));
}

// The tensors are on the communicator's device (lib/distributed/nccl-communicator.ts checks).
void AllreduceTensors(const Napi::CallbackInfo& info) {
  const Communicator c = CommArg(info);
  Napi::Array list = info[1].As<Napi::Array>();
  std::vector<cuda::DeviceSpan> spans;
  for (uint32_t i = 0; i < list.Length(); ++i) {
    Tensor& t = UnwrapTensor(info.Env(), list.Get(i), "tensors[i]");
    spans.push_back(cuda::DeviceSpan{t.data(), t.numel()});
  }
  Submit(info, Device{DeviceKind::kCuda, c.device},
         [c, spans = std::move(spans)] { cuda::NcclAllReduce(c.comm, c.device, spans); });
}

void Wait(const Napi::CallbackInfo& info) {
  const int device = CommArg(info).device;
  Submit(info, Device{DeviceKind::kCuda, device}, [device] { cuda::NcclJoin(device); });
}

Napi::Value Description(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(),
                           Guarded(info.Env(), 0, [] { return cuda::NcclDescription(); }));
}

void Destroy(const Napi::CallbackInfo& info) {
  const Communicator c = CommArg(info);
  WaitForQueue(info.Env(), *EnvironmentOf(info.Env()).executor);
  communicators[Uint32Arg(info, 0)].comm = nullptr;
  Guarded(info.Env(), c.device, [&c] { cuda::NcclDestroy(c.comm, c.device); });
}

}  // namespace

void RegisterNccl(Napi::Env env, Napi::Object exports) {
  exports.Set("ncclUniqueId", Napi::Function::New<UniqueId>(env, "ncclUniqueId"));
  exports.Set("ncclInit", Napi::Function::New<Init>(env, "ncclInit"));
  exports.Set("ncclAllreduceTensors",
              Napi::Function::New<AllreduceTensors>(env, "ncclAllreduceTensors"));
  exports.Set("ncclWait", Napi::Function::New<Wait>(env, "ncclWait"));
  exports.Set("ncclDescription", Napi::Function::New<Description>(env, "ncclDescription"));
  exports.Set("ncclDestroy", Napi::Function::New<Destroy>(env, "ncclDestroy"));
}

}  // namespace alexnet
