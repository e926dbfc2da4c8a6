// Philox4x32-10, the counter-based random number generator of Salmon, Moraes, Dror and Shaw,
// "Parallel random numbers: as easy as 1, 2, 3" (SC11), as specified by their Random123 library
// (philox.h: multipliers, Weyl key increments, 10 rounds).
//
// A counter-based generator has no state to carry: the bits for element i of a tensor are a pure
// function of (key, counter), so dropout can recompute its mask in backward instead of storing
// it, any thread can draw any element, and the CPU and CUDA backends produce the same masks.
// Header-only and free of library calls so that CUDA kernels can include it; <cstdint> provides
// only the fixed-width types.
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define ALEXNET_HOST_DEVICE __host__ __device__
#else
#define ALEXNET_HOST_DEVICE
#endif

namespace alexnet {

struct Philox4x32 {
  uint32_t v[4];
};

namespace philox_detail {

// Random123's constants: the round multipliers, and the key increments (the golden ratio and
// sqrt(3) - 1 as 32-bit fractions).
constexpr uint32_t kM0 = 0xD2511F53u;
constexpr uint32_t kM1 = 0xCD9E8D57u;
constexpr uint32_t kW0 = 0x9E3779B9u;
constexpr uint32_t kW1 = 0xBB67AE85u;

ALEXNET_HOST_DEVICE inline Philox4x32 Round(Philox4x32 c, uint32_t k0, uint32_t k1) {
  uint64_t p0 = static_cast<uint64_t>(kM0) * c.v[0];
  uint64_t p1 = static_cast<uint64_t>(kM1) * c.v[2];
  uint32_t hi0 = static_cast<uint32_t>(p0 >> 32);
  uint32_t hi1 = static_cast<uint32_t>(p1 >> 32);
  return Philox4x32{
      {hi1 ^ c.v[1] ^ k0, static_cast<uint32_t>(p1), hi0 ^ c.v[3] ^ k1, static_cast<uint32_t>(p0)}};
}

}  // namespace philox_detail

// The 128 random bits for `counter` under the key (k0, k1).
ALEXNET_HOST_DEVICE inline Philox4x32 Philox4x32_10(Philox4x32 counter, uint32_t k0, uint32_t k1) {
  counter = philox_detail::Round(counter, k0, k1);
  for (int round = 1; round < 10; ++round) {
    k0 += philox_detail::kW0;
    k1 += philox_detail::kW1;
    counter = philox_detail::Round(counter, k0, k1);
  }
  return counter;
}

// A uniform float in [0, 1) from the top 24 bits: every value is exactly representable, and 1.0f
// can never come out, which rounding all 32 bits to float would allow.
ALEXNET_HOST_DEVICE inline float UniformFromBits(uint32_t bits) {
  return static_cast<float>(bits >> 8) * (1.0f / 16777216.0f);
}

// The uniforms of elements 4 * group .. 4 * group + 3 of a stream keyed by (seed, layer) at
// training step `step`: counter (group low 32 bits, group high 32 bits, step, 0). Every op that
// draws per-element randomness uses this layout, so backends agree element for element.
ALEXNET_HOST_DEVICE inline void PhiloxUniform4(uint32_t seed, uint32_t layer, uint32_t step,
                                               uint64_t group, float out[4]) {
  Philox4x32 counter{{static_cast<uint32_t>(group), static_cast<uint32_t>(group >> 32), step, 0u}};
  Philox4x32 bits = Philox4x32_10(counter, seed, layer);
  for (int j = 0; j < 4; ++j) out[j] = UniformFromBits(bits.v[j]);
}

}  // namespace alexnet
