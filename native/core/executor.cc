#include "core/executor.h"

#include <exception>
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

std::unique_lock<std::mutex> LockDevice(const Device& device) {
  static std::mutex cuda_mutex;
  if (device.kind == DeviceKind::kCuda) return std::unique_lock<std::mutex>(cuda_mutex);
  return {};
}

void Executor::Submit(const Device& device, std::function<void()> op) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!stopping_) Push(Item{Kind::kOp, device, std::move(op)});
}

void Executor::Release(const Device& device, std::function<void()> release) noexcept {
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
    try {
      auto device_lock = LockDevice(Device{DeviceKind::kCuda, index});
      cuda::Synchronize(index);
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
  std::lock_guard<std::mutex> lock(mutex_);
  stopping_ = true;
  std::deque<Item> kept;
  for (Item& item : queue_) {
    if (item.kind == Kind::kRelease) kept.push_back(std::move(item));
  }
  queue_.swap(kept);
  work_.notify_one();
}

void Submit(const Napi::CallbackInfo& info, const Device& device, std::function<void()> op) {
  EnvironmentOf(info.Env()).executor->Submit(device, std::move(op));
}

}  // namespace alexnet
