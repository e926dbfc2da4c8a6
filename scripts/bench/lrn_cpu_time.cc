// The CPU time of LRN's forward and backward passes at AlexNet's norm1 and norm2 (bvlc shapes
// and constants: size 5, alpha 1e-4, beta 0.75, k 1; DESIGN.md) at batches 1 and 16, on the calling
// thread: the median of 5 calls after a warm-up one, in CLOCK_THREAD_CPUTIME_ID time, which
// other tenants of a shared machine inflate far less than wall-clock time (the twin of
// conv_cpu_time.cc). One JSON object a line. Not part of the addon: built by hand, from the root,
//
//   S="lrn lrn_kernel_generic pool pool_kernel_generic gemm gemm_kernel_generic thread_pool"
//   O=/tmp/lrn_cpu_time.o.d
//   mkdir -p $O
//   for f in gemm_kernel lrn_kernel pool_kernel; do
//     g++ -std=c++17 -O3 -ffp-contract=fast -fno-math-errno -DALEXNET_GEMM_X86 -Inative \
//       -mavx512f -mfma -c native/cpu/${f}_avx512.cc -o $O/${f}_avx512.o
//     g++ -std=c++17 -O3 -ffp-contract=fast -fno-math-errno -DALEXNET_GEMM_X86 -Inative \
//       -mavx2 -mfma -c native/cpu/${f}_avx2.cc -o $O/${f}_avx2.o
//   done
//   g++ -std=c++17 -O3 -ffp-contract=fast -fno-math-errno -DALEXNET_GEMM_X86 -Inative \
//     $(for f in $S; do echo native/cpu/$f.cc; done) scripts/bench/lrn_cpu_time.cc \
//     $O/*.o -lpthread -o /tmp/lrn_cpu_time
//
// then run with ALEXNET_NUM_THREADS=1 (and ALEXNET_GEMM_ISA=avx2 or generic for the lesser LRN
// kernels, which follow the GEMM's).
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <vector>

#include "cpu/lrn.h"
#include "cpu_time.h"

namespace {

using alexnet::LrnShape;

void TimeLayer(const char* name, const LrnShape& s) {
  using namespace alexnet::cpu;
  const size_t size = static_cast<size_t>(s.n) * s.c * s.h * s.w;
  // Inputs up to 100, the size of conv1 / conv2 outputs on 0-255 images (test/lrn.test.ts).
  const std::vector<float> x = Values(size, 7919, 100.0f);
  const std::vector<float> dy = Values(size, 31, 1.0f);
  std::vector<float> y(size), dx(size);
  const double forward = MedianMilliseconds([&] { LrnForward(s, x.data(), y.data()); });
  const double backward =
      MedianMilliseconds([&] { LrnBackward(s, x.data(), y.data(), dy.data(), dx.data()); });
  std::printf("{\"layer\":\"%s\",\"batch\":%d,\"pass\":\"forward\",\"ms\":%.3f}\n", name, s.n,
              forward);
  std::printf("{\"layer\":\"%s\",\"batch\":%d,\"pass\":\"backward\",\"ms\":%.3f}\n", name, s.n,
              backward);
}

}  // namespace

int main() {
  for (int batch : {1, 16}) {
    // n, c, h, w, size, alpha, beta, k.
    TimeLayer("norm1", {batch, 96, 55, 55, 5, 1e-4f, 0.75f, 1.0f});
    TimeLayer("norm2", {batch, 256, 27, 27, 5, 1e-4f, 0.75f, 1.0f});
  }
}
