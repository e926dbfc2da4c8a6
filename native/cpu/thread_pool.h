// A small fixed thread pool for the CPU kernels: one worker per core, the calling thread included.
//
// ParallelFor splits [0, n) into one contiguous chunk per thread, which suits the kernels here:
// their work items (images, channels, GEMM panels) are of equal cost. A ParallelFor called from
// inside a worker runs serially, so kernels may nest without running more threads than cores.
#pragma once

#include <cstdint>
#include <functional>

namespace alexnet::cpu {

// Number of threads ParallelFor uses (at least 1).
int ThreadCount();

// Calls body(begin, end) on disjoint chunks covering [0, n); returns when all are done.
// Chunks are at least min_chunk long, so small loops stay on the calling thread.
void ParallelFor(int64_t n, int64_t min_chunk, const std::function<void(int64_t, int64_t)>& body);

// ParallelFor for loops of independent items that are cheap to start: each thread takes its
// share's items `grain` at a time from the front, and a thread done with its share takes the
// items left in another's from the back. So each thread still sweeps a contiguous range (what the
// kernels' cache blocking expects), and a thread that another process delays (the event loop's
// thread queueing the next ops, a neighbour on a shared machine) hands the rest of its share to
// the others rather than holding the whole loop up. Which thread computes an item changes no
// result.
void ParallelForBalanced(int64_t n, int64_t grain,
                         const std::function<void(int64_t, int64_t)>& body);

}  // namespace alexnet::cpu
