// Executor: the queue that runs a JavaScript environment's ops off its thread, in order.
//
// Every native op call from JavaScript parses its arguments on the calling thread, then submits
// the work here and returns at once, like a kernel launch on a CUDA stream. One worker thread per
// environment (the main thread and each worker_thread have their own) runs the queue in FIFO
// order, so ops see each other's results without any locking in the kernels. JavaScript waits in
// one of two ways: `flush()` returns a Promise that settles on the event loop once everything
// queued before it has finished (the non-blocking path), and Tensor.read waits on the calling
// thread (the *Sync path).
//
// Errors: the first op that throws records its message; later ops are skipped (their inputs may
// be garbage) until the error is reported by the next flush or read, which rejects or throws it.
// Releases (freeing memory a tensor or plan no longer needs) always run, and run after every op
// queued before them: that is what makes dispose() safe while work is in flight.
//
// CUDA: the runtime's contexts, cuDNN and cuBLAS handles are process-wide and not safe to use
// from two threads at once, so work on a CUDA device runs holding DeviceLock, which the main
// thread also takes for its own CUDA calls (allocation, queueing a readback). Waiting for the
// device (flush, Tensor.read) happens on an event, outside the lock.
//
// Shutdown: Stop waits for the worker thread to finish the op in flight and the releases left, so
// no op of a dead environment runs. When the process exits, BeginDeviceShutdown (registered with
// atexit by cuda/context.cc once the runtime has started, so it runs before the runtime's own
// teardown) waits for the CUDA work in flight in every environment and keeps the lock for good:
// no CUDA call happens after it, and releases of device memory (finalisers of tensors never
// disposed) do nothing, since the process's memory goes with it.
#pragma once

#include <napi.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "core/device.h"

namespace alexnet {

// Held while using CUDA state; an empty lock for the CPU.
std::unique_lock<std::mutex> LockDevice(const Device& device);

// The process is exiting: waits for the CUDA work in flight (up to a bound, in case the exiting
// thread holds the lock itself), then keeps every thread off CUDA.
void BeginDeviceShutdown();
bool DeviceShutdownBegun();

class Executor : public std::enable_shared_from_this<Executor> {
 public:
  Executor() = default;
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // Queues an op. Skipped when an earlier op failed and the error was not reported yet.
  void Submit(const Device& device, std::function<void()> op);
  // Queues a release, which always runs; after Stop it runs at once on the calling thread. After
  // BeginDeviceShutdown a release on a CUDA device does nothing.
  void Release(const Device& device, std::function<void()> release) noexcept;
  // Blocks until the queue is empty, then throws the pending error if there is one.
  void Wait();
  // A Promise that resolves once everything queued before it has finished (on a CUDA device:
  // completed on the device, not only queued), or rejects with the pending error.
  Napi::Promise Flush(Napi::Env env);
  // Drops queued ops, then waits for the worker to finish the op in flight and the releases still
  // queued, and to exit: the environment is going away.
  void Stop();

 private:
  enum class Kind { kOp, kRelease };
  struct Item {
    Kind kind;
    Device device;
    std::function<void()> run;
  };

  // Queues `item`, starting the worker on first use. Called with mutex_ held.
  void Push(Item item);
  void Loop();
  void RunItem(Item& item);
  // The pending error, cleared; empty when there is none. Called with mutex_ held.
  std::string TakeError();
  // Waits for the CUDA streams used since the last flush, outside the device lock; returns an
  // error message or "".
  std::string SynchroniseDevices();

  std::mutex mutex_;
  std::condition_variable work_;
  std::condition_variable idle_;
  std::deque<Item> queue_;
  bool running_ = false;
  bool started_ = false;
  bool stopping_ = false;
  bool exited_ = false;
  std::string error_;
  std::set<int> cuda_devices_used_;
};

// Queues `op` on the executor of the environment `info` comes from, to run on `device`.
void Submit(const Napi::CallbackInfo& info, const Device& device, std::function<void()> op);

}  // namespace alexnet
