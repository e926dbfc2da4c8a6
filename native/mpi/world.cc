#include "mpi/world.h"

#include <dlfcn.h>
#include <mpi.h>

#include <cstdlib>
#include <stdexcept>
#include <utility>

namespace alexnet::mpi {

void Check(int status, const char* call, const char* file, int line) {
  if (status == MPI_SUCCESS) return;
  char message[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(status, message, &length);
  throw std::runtime_error(std::string(call) + " failed at " + file + ":" + std::to_string(line) +
                           ": " + std::string(message, length));
}

namespace {

// Open MPI opens its transport plugins with dlopen, and they look up libmpi's symbols in the
// global namespace; Node opens addons (and so libmpi with them) RTLD_LOCAL, which hides those
// symbols. Re-opening libmpi RTLD_GLOBAL first is what mpi4py does for the same reason.
void PromoteLibraryToGlobal() {
  Dl_info info;
  if (dladdr(reinterpret_cast<void*>(&MPI_Init_thread), &info) != 0 && info.dli_fname) {
    dlopen(info.dli_fname, RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD);
  }
}

Placement InitOnThisThread() {
  PromoteLibraryToGlobal();
  int provided = 0;
  MPI_CHECK(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided));
  MPI_CHECK(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
  Placement p{};
  MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &p.rank));
  MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &p.size));
  MPI_Comm local;
  MPI_CHECK(
      MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, p.rank, MPI_INFO_NULL, &local));
  MPI_CHECK(MPI_Comm_rank(local, &p.local_rank));
  MPI_CHECK(MPI_Comm_size(local, &p.local_size));
  MPI_CHECK(MPI_Comm_free(&local));
  return p;
}

}  // namespace

World& World::Get() {
  // Never destroyed: the MPI thread may still be blocked in a collective at exit.
  static World* world = new World();
  return *world;
}

Placement World::Init() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (finalised_) throw std::runtime_error("MPI was finalised; it cannot be initialised again");
    if (initialised_) return placement_;
    thread_ = std::thread([this] { Loop(); });
    thread_.detach();
  }
  Placement p{};
  Run([&p] { p = InitOnThisThread(); });
  std::lock_guard<std::mutex> lock(mutex_);
  placement_ = p;
  initialised_ = true;
  return p;
}

std::shared_future<void> World::Post(std::function<void()> job) {
  std::packaged_task<void()> task(std::move(job));
  std::shared_future<void> done = task.get_future().share();
  std::lock_guard<std::mutex> lock(mutex_);
  jobs_.push_back(std::move(task));
  work_.notify_one();
  return done;
}

void World::Run(std::function<void()> job) { Post(std::move(job)).get(); }

void World::Loop() {
  for (;;) {
    std::packaged_task<void()> job;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      work_.wait(lock, [this] { return !jobs_.empty(); });
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    job();
  }
}

void World::Abort(int code) {
  MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);
}

void World::Finalize() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!initialised_ || finalised_) return;
    finalised_ = true;
  }
  Run([] { MPI_CHECK(MPI_Finalize()); });
}

}  // namespace alexnet::mpi
