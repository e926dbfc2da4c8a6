// The process's MPI world, driven from one thread of its own.
//
// Every MPI call of the process runs on that thread (MPI_THREAD_FUNNELED, the level every MPI
// library provides), in the order it was posted. Gradient reductions are posted by the executor
// thread as soon as a bucket's backward is queued before them (bindings/mpi.cc), so they run
// while the executor computes the layers below: the overlap Horovod gets from its background
// thread (Sergeev & Del Balso, "Horovod", arXiv:1802.05799, §4). Collectives must be posted in
// the same order on every rank; the training loop guarantees it by posting host collectives
// (stop flags, throughput) only between steps, when no reduction is in flight.
//
// Errors: MPI_ERRORS_RETURN on MPI_COMM_WORLD, and every status is checked by MPI_CHECK, which
// throws with file, line, the call and MPI's own message (MPI_Error_string).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <string>
#include <thread>

namespace alexnet::mpi {

// Throws std::runtime_error naming the call, file, line and MPI's message when status fails.
void Check(int status, const char* call, const char* file, int line);
#define MPI_CHECK(call) ::alexnet::mpi::Check((call), #call, __FILE__, __LINE__)

struct Placement {
  int rank;
  int size;
  int local_rank;  // rank among the processes of this machine (MPI_COMM_TYPE_SHARED)
  int local_size;
};

class World {
 public:
  // The process-wide world (MPI can be initialised once per process).
  static World& Get();

  // Initialises MPI on the MPI thread (once; later calls return the same placement).
  Placement Init();
  // Queues `job` on the MPI thread; the future settles when it ran (or threw).
  std::shared_future<void> Post(std::function<void()> job);
  // Runs `job` on the MPI thread and waits for it, rethrowing its error.
  void Run(std::function<void()> job);
  // MPI_Abort(MPI_COMM_WORLD, code) from the calling thread: ends every rank of the job, even
  // when the MPI thread is blocked in a collective a dead peer will never join.
  [[noreturn]] void Abort(int code);
  // MPI_Finalize on the MPI thread, then stops it; further calls do nothing.
  void Finalize();
  bool initialised() const { return initialised_; }

 private:
  World() = default;
  void Loop();

  std::mutex mutex_;
  std::condition_variable work_;
  std::deque<std::packaged_task<void()>> jobs_;
  std::thread thread_;
  bool initialised_ = false;
  bool finalised_ = false;
  Placement placement_{0, 1, 0, 1};
};

}  // namespace alexnet::mpi
