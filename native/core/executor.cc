#include "core/executor.h"

#include <atomic>
#include <chrono>
#include <exception>
#include <thread>
#include <utility>

#include "core/environment.h"

#if defined(ALEXNET_WITH_CUDA)
#include "cuda/memory.h"
#endif

namespace alexnet {

namespace {

// What a flush reports back to the event loop: "" for success, else the error message.
struct FlushOutcome {
  std::string error;
};

void SettleFlush(Napi::Env env, Napi::Function, Napi::Promise::Deferred* deferred,
                 FlushOutcome* outcome) {
  // env is null when the environment is torn down before the call is delivered.
  if (env != nullptr) {
    if (outcome->error.empty()) {
      deferred->Resolve(env.Undefined());
    } else {
      deferred->Reject(Napi::Error::New(env, outcome->error).Value());
    }
  }
  delete outcome;
  delete deferred;
}

using FlushCall = Napi::TypedThreadSafeFunction<Napi::Promise::Deferred, FlushOutcome, SettleFlush>;

}  // namespace

namespace {

// Never destroyed: BeginDeviceShutdown keeps it locked while the process exits.
std::mutex& CudaMutex() {
  static auto* mutex = new std::mutex();
  return *mutex;
}

std::atomic<bool> device_shutdown{false};

// How long the exiting thread waits for the CUDA op in flight. An op takes milliseconds (a
// convolution search about a second); past this the lock is held by a thread that will not let
// go (the exiting thread itself), and waiting longer would hang the exit.
constexpr auto kShutdownWait = std::chrono::seconds(30);

}  // namespace

std::unique_lock<std::mutex> LockDevice(const Device& device) {
  if (device.kind == DeviceKind::kCuda) return std::unique_lock<std::mutex>(CudaMutex());
  return {};
}

void BeginDeviceShutdown() {
  const auto deadline = std::chrono::steady_clock::now() + kShutdownWait;
  while (!CudaMutex().try_lock()) {
    if (std::chrono::steady_clock::now() > deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  device_shutdown = true;
}

bool DeviceShutdownBegun() { return device_shutdown; }

void Executor::Submit(const Device& device, std::function<void()> op) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!stopping_) Push(Item{Kind::kOp, device, std::move(op)});
}

void Executor::Release(const Device& device, std::function<void()> release) noexcept {
  if (device.kind == DeviceKind::kCuda && DeviceShutdownBegun()) return;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    // Queued behind the ops that may still use the memory, unless no worker will run again.
    if (!exited_ && (started_ || !stopping_)) {
      Push(Item{Kind::kRelease, device, std::move(release)});
      return;
    }
  }
  auto device_lock = LockDevice(device);
  release();
}

// Called with mutex_ held.
void Executor::Push(Item item) {
  if (!started_) {
    started_ = true;
    // The worker owns a reference, so the executor outlives the environment until it exits.
    std::thread([self = shared_from_this()] { self->Loop(); }).detach();
  }
  queue_.push_back(std::move(item));
  work_.notify_one();
}

void Executor::Loop() {
  for (;;) {
    Item item;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      work_.wait(lock, [this] { return !queue_.empty() || stopping_; });
      if (queue_.empty()) {
        exited_ = true;
        idle_.notify_all();
        return;
      }
      item = std::move(queue_.front());
      queue_.pop_front();
      running_ = true;
    }
    RunItem(item);
    std::lock_guard<std::mutex> lock(mutex_);
    running_ = false;
    if (queue_.empty()) idle_.notify_all();
  }
}

void Executor::RunItem(Item& item) {
  if (item.kind == Kind::kOp) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!error_.empty()) return;
    if (item.device.kind == DeviceKind::kCuda) cuda_devices_used_.insert(item.device.index);
  }
  // The process is exiting: the lock will not be released, and the memory goes with the process.
  if (item.device.kind == DeviceKind::kCuda && DeviceShutdownBegun()) return;
  try {
    auto device_lock = LockDevice(item.device);
    item.run();
    // What the op captured (a plan's cuDNN state, say) is destroyed here, under the lock.
    item.run = nullptr;
  } catch (const std::exception& e) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (error_.empty()) error_ = e.what();
  } catch (...) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (error_.empty()) error_ = "unknown native error";
  }
}

std::string Executor::TakeError() { return std::exchange(error_, std::string()); }

void Executor::Wait() {
  std::string error;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    idle_.wait(lock, [this] { return queue_.empty() && !running_; });
    error = TakeError();
  }
  if (!error.empty()) throw std::runtime_error(error);
}

std::string Executor::SynchroniseDevices() {
  std::set<int> devices;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    devices.swap(cuda_devices_used_);
  }
#if defined(ALEXNET_WITH_CUDA)
  for (int index : devices) {
    if (DeviceShutdownBegun()) return "the process is exiting";
    try {
      cuda::Completion done;
      {
        auto device_lock = LockDevice(Device{DeviceKind::kCuda, index});
        done = cuda::RecordCompletion(index);
      }
      cuda::WaitCompletion(done);
    } catch (const std::exception& e) {
      return e.what();
    }
  }
#endif
  return "";
}

Napi::Promise Executor::Flush(Napi::Env env) {
  auto* deferred = new Napi::Promise::Deferred(env);
  Napi::Promise promise = deferred->Promise();
  // A pending call keeps the event loop alive until the work is done, as a timer would.
  FlushCall call = FlushCall::New(env, "alexnet.flush", 0, 1, deferred);
  Release(Device{}, [this, call]() mutable {
    std::string error = SynchroniseDevices();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      std::string pending = TakeError();
      if (!pending.empty()) error = pending;
    }
    call.BlockingCall(new FlushOutcome{error});
    call.Release();
  });
  return promise;
}

void Executor::Stop() {
  std::unique_lock<std::mutex> lock(mutex_);
  stopping_ = true;
  std::deque<Item> kept;
  for (Item& item : queue_) {
    if (item.kind == Kind::kRelease) kept.push_back(std::move(item));
  }
  queue_.swap(kept);
  work_.notify_one();
  idle_.wait(lock, [this] { return exited_ || !started_; });
}

void Submit(const Napi::CallbackInfo& info, const Device& device, std::function<void()> op) {
  EnvironmentOf(info.Env()).executor->Submit(device, std::move(op));
}

}  // namespace alexnet
