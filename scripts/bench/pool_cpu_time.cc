// The CPU time of max pooling at AlexNet's pool1, pool2 and pool5 (3x3 windows, stride 2) at
// batches 1 and 16, on the calling thread: the forward, the forward keeping each window's argmax
// (training's), the backward from that argmax; and norm1 + pool1, norm2 + pool2 (bvlc's LRN:
// size 5, alpha 1e-4, beta 0.75, k 1) as inference runs them, LRN then the pooling and the two
// in one pass (cpu::LrnMaxPoolForward). The median of 5 calls after a warm-up one, in
// CLOCK_THREAD_CPUTIME_ID time (cpu_time.h). One JSON object a line. Not part of the addon:
// built by hand, from the root,
//
//   S="pool pool_kernel_generic lrn lrn_kernel_generic gemm gemm_kernel_generic thread_pool"
//   O=/tmp/pool_cpu_time.o.d
//   mkdir -p $O
//   for f in gemm_kernel lrn_kernel pool_kernel; do
//     g++ -std=c++17 -O3 -ffp-contract=fast -fno-math-errno -DALEXNET_GEMM_X86 -Inative \
//       -mavx512f -mfma -c native/cpu/${f}_avx512.cc -o $O/${f}_avx512.o
//     g++ -std=c++17 -O3 -ffp-contract=fast -fno-math-errno -DALEXNET_GEMM_X86 -Inative \
//       -mavx2 -mfma -c native/cpu/${f}_avx2.cc -o $O/${f}_avx2.o
//   done
//   g++ -std=c++17 -O3 -ffp-contract=fast -fno-math-errno -DALEXNET_GEMM_X86 -Inative \
//     $(for f in $S; do echo native/cpu/$f.cc; done) scripts/bench/pool_cpu_time.cc \
//     $O/*.o -lpthread -o /tmp/pool_cpu_time
//
// then run with ALEXNET_NUM_THREADS=1 (and ALEXNET_GEMM_ISA=avx2 or generic for the lesser
// kernels, which follow the GEMM's).
#include <time.h>

#include <cstdint>
#include <cstdio>
#include <vector>

#include "cpu/lrn.h"
#include "cpu/pool.h"
#include "cpu_time.h"

namespace {

using alexnet::LrnShape;
using alexnet::PoolShape;

void Print(const char* layer, int batch, const char* pass, double ms) {
  std::printf("{\"layer\":\"%s\",\"batch\":%d,\"pass\":\"%s\",\"ms\":%.3f}\n", layer, batch, pass,
              ms);
}

void TimePool(const char* name, const PoolShape& s) {
  using namespace alexnet::cpu;
  const size_t in = static_cast<size_t>(s.n) * s.c * s.h * s.w;
  const size_t out = static_cast<size_t>(s.n) * s.c * s.oh * s.ow;
  const std::vector<float> x = Values(in, 7919, 1.0f);
  const std::vector<float> dy = Values(out, 31, 1.0f);
  std::vector<float> y(out), dx(in);
  std::vector<uint8_t> argmax(out);
  Print(name, s.n, "forward", MedianMilliseconds([&] { MaxPoolForward(s, x.data(), y.data()); }));
  Print(name, s.n, "forwardArgmax",
        MedianMilliseconds([&] { MaxPoolForwardArgmax(s, x.data(), y.data(), argmax.data()); }));
  Print(name, s.n, "backwardArgmax",
        MedianMilliseconds([&] { MaxPoolBackwardArgmax(s, argmax.data(), dy.data(), dx.data()); }));
}

void TimeLrnPool(const char* name, const LrnShape& lrn, const PoolShape& pool) {
  using namespace alexnet::cpu;
  const size_t in = static_cast<size_t>(lrn.n) * lrn.c * lrn.h * lrn.w;
  const size_t out = static_cast<size_t>(pool.n) * pool.c * pool.oh * pool.ow;
  // Inputs up to 100, the size of conv1 / conv2 outputs on 0-255 images (test/lrn.test.ts).
  const std::vector<float> x = Values(in, 7919, 100.0f);
  std::vector<float> normalised(in), y(out);
  Print(name, lrn.n, "lrnThenPool", MedianMilliseconds([&] {
          LrnForward(lrn, x.data(), normalised.data());
          MaxPoolForward(pool, normalised.data(), y.data());
        }));
  Print(name, lrn.n, "lrnPooled",
        MedianMilliseconds([&] { LrnMaxPoolForward(lrn, pool, x.data(), y.data()); }));
}

}  // namespace

int main() {
  using alexnet::cpu::MakePoolShape;
  for (int batch : {1, 16}) {
    TimePool("pool1", MakePoolShape(batch, 96, 55, 55, 3, 2, 0));
    TimePool("pool2", MakePoolShape(batch, 256, 27, 27, 3, 2, 0));
    TimePool("pool5", MakePoolShape(batch, 256, 13, 13, 3, 2, 0));
    // n, c, h, w, size, alpha, beta, k.
    TimeLrnPool("norm1+pool1", {batch, 96, 55, 55, 5, 1e-4f, 0.75f, 1.0f},
                MakePoolShape(batch, 96, 55, 55, 3, 2, 0));
    TimeLrnPool("norm2+pool2", {batch, 256, 27, 27, 5, 1e-4f, 0.75f, 1.0f},
                MakePoolShape(batch, 256, 27, 27, 3, 2, 0));
  }
}
