// The CPU time of each pass of AlexNet's convolutions (bvlc shapes, batches 1 and 16) on the
// calling thread, as the addon's bindings call them: the forward from weights packed once, with
// the bias + ReLU epilogue; backward-data; backward-filter. The median of 5 calls after a warm-up
// one, in CLOCK_THREAD_CPUTIME_ID time, which other tenants of a shared machine inflate far less
// than wall-clock time; and the share of the one-thread peak (cpu::MeasurePeakGflops) from the
// layer's FLOP. One JSON object a line. Not part of the addon: built by hand, from the root,
//
//   S="conv conv_direct conv_phases conv_winograd gemm thread_pool gemm_kernel_generic conv_kernel_generic"
//   for f in gemm_kernel conv_kernel; do
//     g++ -std=c++17 -O3 -ffp-contract=fast -DALEXNET_GEMM_X86 -Inative -mavx512f -mfma \
//       -c native/cpu/${f}_avx512.cc -o /tmp/${f}_avx512.o
//     g++ -std=c++17 -O3 -ffp-contract=fast -DALEXNET_GEMM_X86 -Inative -mavx2 -mfma \
//       -c native/cpu/${f}_avx2.cc -o /tmp/${f}_avx2.o
//   done
//   g++ -std=c++17 -O3 -ffp-contract=fast -fno-math-errno -DALEXNET_GEMM_X86 -Inative \
//     $(for f in $S; do echo native/cpu/$f.cc; done) scripts/bench/conv_cpu_time.cc \
//     /tmp/*_avx512.o /tmp/*_avx2.o -lpthread -o /tmp/conv_cpu_time
//
// then run with ALEXNET_NUM_THREADS=1 and ALEXNET_CONV_ALGO=direct, im2col or winograd (and
// ALEXNET_GEMM_ISA=avx2 for that kernel), alternating (bench/RESULTS.md).
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "cpu/conv.h"
#include "cpu/gemm.h"
#include "cpu_time.h"

namespace {

using alexnet::ConvShape;

void TimeLayer(const char* name, const ConvShape& s, double peak) {
  using namespace alexnet::cpu;
  const size_t x_size = static_cast<size_t>(s.n) * s.c * s.h * s.w;
  const size_t w_size = static_cast<size_t>(s.k) * (s.c / s.groups) * s.kh * s.kw;
  const size_t y_size = static_cast<size_t>(s.n) * s.k * s.out_h() * s.out_w();
  const std::vector<float> x = Values(x_size, 7919, 1.0f);
  const std::vector<float> w = Values(w_size, 104729, 0.01f);
  const std::vector<float> dy = Values(y_size, 31, 1.0f);
  const std::vector<float> bias = Values(s.k, 13, 0.1f);
  std::vector<float> y(y_size), dx(x_size), dw(w_size);
  std::vector<float> packed(ConvPackedWeightsSize(s));
  std::vector<float> scratch(ConvScratchSize(s));
  ConvPackWeights(s, w.data(), packed.data());
  const GemmEpilogue epilogue{bias.data(), nullptr, true};
  const double flop = 2.0 * s.n * s.k * s.out_h() * s.out_w() * (s.c / s.groups) * s.kh * s.kw;
  const double ms[3] = {
      MedianMilliseconds([&] {
        ConvForward(s, x.data(), w.data(), y.data(), scratch.data(), &epilogue, packed.data());
      }),
      MedianMilliseconds(
          [&] { ConvBackwardData(s, w.data(), dy.data(), dx.data(), scratch.data()); }),
      MedianMilliseconds(
          [&] { ConvBackwardFilter(s, x.data(), dy.data(), dw.data(), scratch.data()); })};
  const char* passes[3] = {"forward", "backwardData", "backwardFilter"};
  for (int p = 0; p < 3; ++p) {
    const double gflops = flop / ms[p] / 1e6;
    std::printf(
        "{\"layer\":\"%s\",\"batch\":%d,\"pass\":\"%s\",\"ms\":%.3f,\"gflops\":%.1f,"
        "\"share\":%.3f}\n",
        name, s.n, passes[p], ms[p], gflops, gflops / peak);
  }
}

}  // namespace

int main() {
  const char* algorithm = std::getenv("ALEXNET_CONV_ALGO");
  const double peak = alexnet::cpu::MeasurePeakGflops();
  std::printf("{\"algorithm\":\"%s\",\"isa\":\"%s\",\"peak\":%.1f}\n",
              algorithm ? algorithm : "measured", alexnet::cpu::GemmIsa(), peak);
  // bvlc's conv1-conv5 (DESIGN.md): n, c, h, w, k, kh, kw, stride, stride, pad, pad, groups.
  const ConvShape layers[5] = {{1, 3, 227, 227, 96, 11, 11, 4, 4, 0, 0, 1},
                               {1, 96, 27, 27, 256, 5, 5, 1, 1, 2, 2, 2},
                               {1, 256, 13, 13, 384, 3, 3, 1, 1, 1, 1, 1},
                               {1, 384, 13, 13, 384, 3, 3, 1, 1, 1, 1, 2},
                               {1, 384, 13, 13, 256, 3, 3, 1, 1, 1, 1, 2}};
  const char* names[5] = {"conv1", "conv2", "conv3", "conv4", "conv5"};
  for (int batch : {1, 16}) {
    for (int i = 0; i < 5; ++i) {
      ConvShape s = layers[i];
      s.n = batch;
      TimeLayer(names[i], s, peak);
    }
  }
}
