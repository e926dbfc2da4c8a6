// When the MPI backend is built (native/mpi/world.h; absent from the exports otherwise):
//   mpiInit(): { rank, size, localRank, localSize }, initialising MPI on its thread once
//   mpiAllreduceTensors(tensors, overlap): queued; sums each CPU tensor over the ranks in place.
//     With overlap the reduction is handed to the MPI thread and the queue moves on (the layers
//     below keep computing); mpiWaitReductions() queues the wait for every reduction handed off
//     so far. Without, the queue waits for the sum (the baseline the bench compares against).
//   mpiAllreduceHost(values: Float64Array, max: boolean): sums (or takes the maximum of) values
//     over the ranks in place, blocking; only between steps (no reduction in flight).
//   mpiBroadcast(bytes: Uint8Array, root): rank root's bytes into every rank's, blocking
//   mpiAbort(code): ends every rank of the job; mpiFinalize(): MPI_Finalize, once
#include <mpi.h>

#include <algorithm>
#include <exception>
#include <future>
#include <mutex>
#include <utility>
#include <vector>

#include "bindings/bindings.h"
#include "core/args.h"
#include "mpi/world.h"

namespace alexnet {

namespace {

struct Span {
  float* data;
  int64_t count;
};

// Reductions handed to the MPI thread and not waited for yet (one world per process).
std::mutex pending_mutex;
std::vector<std::shared_future<void>> pending;

void ReduceSpans(const std::vector<Span>& spans) {
  for (const Span& s : spans) {
    // MPI counts are int: a tensor above 2^31 elements goes in pieces.
    for (int64_t done = 0; done < s.count;) {
      const int count = static_cast<int>(std::min<int64_t>(s.count - done, 1 << 30));
      MPI_CHECK(
          MPI_Allreduce(MPI_IN_PLACE, s.data + done, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD));
      done += count;
    }
  }
}

Napi::Value Init(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  mpi::Placement p{};
  try {
    p = mpi::World::Get().Init();
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("rank", p.rank);
  out.Set("size", p.size);
  out.Set("localRank", p.local_rank);
  out.Set("localSize", p.local_size);
  return out;
}

void AllreduceTensors(const Napi::CallbackInfo& info) {
  Napi::Array list = info[0].As<Napi::Array>();
  std::vector<Span> spans;
  for (uint32_t i = 0; i < list.Length(); ++i) {
    Tensor& t = UnwrapTensor(info.Env(), list.Get(i), "tensors[i]");
    spans.push_back(Span{t.data(), t.numel()});
  }
  const bool overlap = BoolArg(info, 1);
  Submit(info, Device{}, [spans = std::move(spans), overlap] {
    if (!overlap) return mpi::World::Get().Run([&spans] { ReduceSpans(spans); });
    std::shared_future<void> done = mpi::World::Get().Post([spans] { ReduceSpans(spans); });
    std::lock_guard<std::mutex> lock(pending_mutex);
    pending.push_back(std::move(done));
  });
}

void WaitReductions(const Napi::CallbackInfo& info) {
  Submit(info, Device{}, [] {
    std::vector<std::shared_future<void>> waiting;
    {
      std::lock_guard<std::mutex> lock(pending_mutex);
      waiting.swap(pending);
    }
    // Every one is waited for before the first error is rethrown: none may outlive the step.
    std::exception_ptr error;
    for (auto& done : waiting) {
      try {
        done.get();
      } catch (...) {
        if (!error) error = std::current_exception();
      }
    }
    if (error) std::rethrow_exception(error);
  });
}

// Runs `job` on the MPI thread and waits, turning its error into a JS Error.
void RunBlocking(Napi::Env env, std::function<void()> job) {
  try {
    mpi::World::Get().Run(std::move(job));
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  }
}

void AllreduceHost(const Napi::CallbackInfo& info) {
  auto array = info[0].As<Napi::Float64Array>();
  std::vector<double> values(array.Data(), array.Data() + array.ElementLength());
  const MPI_Op op = BoolArg(info, 1) ? MPI_MAX : MPI_SUM;
  RunBlocking(info.Env(), [&values, op] {
    MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, values.data(), static_cast<int>(values.size()),
                            MPI_DOUBLE, op, MPI_COMM_WORLD));
  });
  std::copy(values.begin(), values.end(), array.Data());
}

void Broadcast(const Napi::CallbackInfo& info) {
  auto array = info[0].As<Napi::Uint8Array>();
  std::vector<uint8_t> bytes(array.Data(), array.Data() + array.ElementLength());
  const int root = IntArg(info, 1);
  RunBlocking(info.Env(), [&bytes, root] {
    MPI_CHECK(
        MPI_Bcast(bytes.data(), static_cast<int>(bytes.size()), MPI_BYTE, root, MPI_COMM_WORLD));
  });
  std::copy(bytes.begin(), bytes.end(), array.Data());
}

void Abort(const Napi::CallbackInfo& info) { mpi::World::Get().Abort(IntArg(info, 0)); }

void Finalize(const Napi::CallbackInfo& info) {
  // Queued reductions reach the MPI thread first (it runs its jobs in order, so MPI_Finalize
  // comes after them): finalising with a collective still to post would hang the other ranks.
  WaitForQueue(info.Env(), *EnvironmentOf(info.Env()).executor);
  try {
    mpi::World::Get().Finalize();
  } catch (const std::exception& e) {
    throw Napi::Error::New(info.Env(), e.what());
  }
}

}  // namespace

void RegisterMpi(Napi::Env env, Napi::Object exports) {
  exports.Set("mpiInit", Napi::Function::New<Init>(env, "mpiInit"));
  exports.Set("mpiAllreduceTensors",
              Napi::Function::New<AllreduceTensors>(env, "mpiAllreduceTensors"));
  exports.Set("mpiWaitReductions", Napi::Function::New<WaitReductions>(env, "mpiWaitReductions"));
  exports.Set("mpiAllreduceHost", Napi::Function::New<AllreduceHost>(env, "mpiAllreduceHost"));
  exports.Set("mpiBroadcast", Napi::Function::New<Broadcast>(env, "mpiBroadcast"));
  exports.Set("mpiAbort", Napi::Function::New<Abort>(env, "mpiAbort"));
  exports.Set("mpiFinalize", Napi::Function::New<Finalize>(env, "mpiFinalize"));
}

}  // namespace alexnet
