// The first 64-byte boundary (a cache line, and an AVX-512 vector) of a buffer: where packed
// weights and scratch matrices start, so that no vector load of them straddles two cache lines. A
// buffer reserves kAlignmentFloats more floats than it fills for the move. The direct
// convolution's weights, from a std::vector's 16-byte boundary, had every other AVX2 weight
// vector straddle two lines, which cost conv3-conv5's AVX2 forward 2-3% on one core
// (bench/RESULTS.md).
#pragma once

#include <cstdint>

namespace alexnet::cpu {

constexpr int64_t kAlignmentFloats = 64 / sizeof(float);

// floats rounded up to whole cache lines: the size of a block that the next one follows aligned.
constexpr int64_t AlignedSize(int64_t floats) {
  return (floats + kAlignmentFloats - 1) / kAlignmentFloats * kAlignmentFloats;
}

template <typename T>
T* Aligned(T* buffer) {
  const auto address = reinterpret_cast<uintptr_t>(buffer);
  return reinterpret_cast<T*>((address + 63) / 64 * 64);
}

}  // namespace alexnet::cpu
