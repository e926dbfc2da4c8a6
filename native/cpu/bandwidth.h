// The memory bandwidth the CPU backend's threads reach on a streaming read: what bounds a fully
// connected layer at batch 1, whose weights are each read once per image (fc6-fc8 of the bvlc
// AlexNet: 234 MB). The benches print it beside those layers' times (scripts/bench/ops.ts).
#pragma once

namespace alexnet::cpu {

// GB/s (1e9 bytes) of a read of a 256 MiB buffer, far larger than any cache, split between
// ThreadCount() threads as ParallelFor splits a GEMM's work: the best of 3 runs. Blocks for about
// a second; allocates and frees the buffer.
double MeasureReadBandwidth();

}  // namespace alexnet::cpu
