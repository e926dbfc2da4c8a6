#include "cpu/thread_pool.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

namespace alexnet::cpu {

namespace {

thread_local bool inside_parallel_region = false;

// Pause iterations a thread polls for the next region, or for the end of its own, before it
// sleeps on a condition variable: about 50 us on the development VM's Zen 4. There a round trip
// through condition variables (wake a sleeping thread, wait for its answer) took about 50 us, and
// a forward pass at batch 1 runs dozens of regions microseconds apart; polling took the whole
// pass from 45.1/48.4 to 53.2/53.2 images/s (ops bench, alternating binaries, load ~1.8).
constexpr int kSpinIterations = 2000;

// Polls `ready` up to kSpinIterations times; true once it holds.
template <typename Ready>
bool SpinUntil(const Ready& ready) {
  for (int i = 0; i < kSpinIterations; ++i) {
    if (ready()) return true;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  }
  return ready();
}

class ThreadPool {
 public:
  ThreadPool() {
    unsigned hw = std::thread::hardware_concurrency();
    threads_ = hw == 0 ? 1 : static_cast<int>(hw);
    if (const char* env = std::getenv("ALEXNET_NUM_THREADS")) {
      threads_ = std::max(1, std::atoi(env));
    }
    for (int i = 1; i < threads_; ++i) workers_.emplace_back([this, i] { WorkerLoop(i); });
  }

  int threads() const { return threads_; }

  void Run(int64_t n, int64_t min_chunk, const std::function<void(int64_t, int64_t)>& body) {
    int64_t max_parts = std::max<int64_t>(1, n / std::max<int64_t>(1, min_chunk));
    int parts = static_cast<int>(std::min<int64_t>(threads_, max_parts));
    if (parts <= 1 || inside_parallel_region) {
      if (n > 0) body(0, n);
      return;
    }
    std::unique_lock<std::mutex> run_lock(run_mutex_);  // one parallel region at a time
    {
      // Under the mutex, so that a worker deciding to sleep sees either the new generation or
      // the notification.
      std::lock_guard<std::mutex> lock(mutex_);
      body_ = &body;
      n_ = n;
      parts_.store(parts, std::memory_order_relaxed);
      pending_.store(parts - 1, std::memory_order_relaxed);
      generation_.fetch_add(1, std::memory_order_release);
    }
    wake_.notify_all();
    inside_parallel_region = true;
    RunPart(0, parts);
    inside_parallel_region = false;
    const auto done = [this] { return pending_.load(std::memory_order_acquire) == 0; };
    if (!SpinUntil(done)) {
      std::unique_lock<std::mutex> lock(mutex_);
      done_.wait(lock, done);
    }
    body_ = nullptr;
  }

 private:
  void RunPart(int part, int parts) {
    int64_t begin = n_ * part / parts;
    int64_t end = n_ * (part + 1) / parts;
    if (begin < end) (*body_)(begin, end);
  }

  void WorkerLoop(int index) {
    inside_parallel_region = true;
    uint64_t seen = 0;
    const auto next = [&] { return generation_.load(std::memory_order_acquire) != seen; };
    for (;;) {
      if (!SpinUntil(next)) {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, next);
      }
      seen = generation_.load(std::memory_order_acquire);
      // A worker without a part must not touch body_ or n_: the caller may already be setting
      // up the next region.
      const int parts = parts_.load(std::memory_order_relaxed);
      if (index >= parts) continue;
      RunPart(index, parts);
      if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        std::lock_guard<std::mutex> lock(mutex_);
        done_.notify_one();
      }
    }
  }

  int threads_ = 1;
  std::vector<std::thread> workers_;
  std::mutex run_mutex_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  const std::function<void(int64_t, int64_t)>* body_ = nullptr;
  int64_t n_ = 0;
  std::atomic<int> parts_{0};
  std::atomic<int> pending_{0};
  std::atomic<uint64_t> generation_{0};
};

// Never destroyed: at process exit an environment's executor thread (core/executor.h) may be
// inside a parallel region, and joining the workers or destroying the condition variables it
// waits on would hang exit(). The operating system reclaims the threads.
ThreadPool& Pool() {
  static ThreadPool& pool = *new ThreadPool();
  return pool;
}

}  // namespace

int ThreadCount() { return Pool().threads(); }

void ParallelFor(int64_t n, int64_t min_chunk, const std::function<void(int64_t, int64_t)>& body) {
  Pool().Run(n, min_chunk, body);
}

namespace {

// One thread's share, [front, back), packed in one word so that its owner taking from the front
// and a thief taking from the back agree on who gets the last items (a compare-and-swap of both).
class alignas(64) Share {
 public:
  void Reset(int64_t front, int64_t back) { range_.store(Pack(front, back)); }

  // Up to `grain` items from the front (owner) or the back (thief); false once none are left.
  bool Take(bool from_front, int64_t grain, int64_t& begin, int64_t& end) {
    uint64_t seen = range_.load(std::memory_order_relaxed);
    for (;;) {
      const int64_t front = static_cast<int64_t>(seen >> 32);
      const int64_t back = static_cast<int64_t>(seen & 0xffffffffu);
      if (front >= back) return false;
      const int64_t count = std::min(grain, back - front);
      begin = from_front ? front : back - count;
      end = begin + count;
      const uint64_t next = from_front ? Pack(end, back) : Pack(front, begin);
      if (range_.compare_exchange_weak(seen, next, std::memory_order_relaxed)) return true;
    }
  }

 private:
  static uint64_t Pack(int64_t front, int64_t back) {
    return static_cast<uint64_t>(front) << 32 | static_cast<uint64_t>(back);
  }
  std::atomic<uint64_t> range_{0};
};

}  // namespace

void ParallelForBalanced(int64_t n, int64_t grain,
                         const std::function<void(int64_t, int64_t)>& body) {
  const int threads = ThreadCount();
  // Packed in 32 bits each; larger loops keep ParallelFor's fixed shares.
  if (threads == 1 || n <= grain || n >= (int64_t{1} << 31)) return ParallelFor(n, grain, body);
  std::vector<Share> shares(static_cast<size_t>(threads));
  for (int t = 0; t < threads; ++t) shares[t].Reset(n * t / threads, n * (t + 1) / threads);
  ParallelFor(threads, 1, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      int64_t begin, end;
      while (shares[t].Take(true, grain, begin, end)) body(begin, end);
      for (int other = 1; other < threads; ++other) {
        Share& victim = shares[(t + other) % threads];
        while (victim.Take(false, grain, begin, end)) body(begin, end);
      }
    }
  });
}

}  // namespace alexnet::cpu
