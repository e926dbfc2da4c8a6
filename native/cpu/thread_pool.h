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

}  // namespace alexnet::cpu
