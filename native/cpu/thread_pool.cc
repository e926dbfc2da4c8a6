#include "cpu/thread_pool.h"

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

namespace alexnet::cpu {

namespace {

thread_local bool inside_parallel_region = false;

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
      std::lock_guard<std::mutex> lock(mutex_);
      body_ = &body;
      n_ = n;
      parts_ = parts;
      pending_ = parts - 1;
      ++generation_;
    }
    wake_.notify_all();
    inside_parallel_region = true;
    RunPart(0);
    inside_parallel_region = false;
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [this] { return pending_ == 0; });
    body_ = nullptr;
  }

 private:
  void RunPart(int part) {
    int64_t begin = n_ * part / parts_;
    int64_t end = n_ * (part + 1) / parts_;
    if (begin < end) (*body_)(begin, end);
  }

  void WorkerLoop(int index) {
    inside_parallel_region = true;
    uint64_t seen = 0;
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return generation_ != seen; });
        seen = generation_;
        if (index >= parts_) continue;
      }
      RunPart(index);
      std::lock_guard<std::mutex> lock(mutex_);
      if (--pending_ == 0) done_.notify_one();
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
  int parts_ = 0;
  int pending_ = 0;
  uint64_t generation_ = 0;
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

}  // namespace alexnet::cpu
