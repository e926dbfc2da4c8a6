// The CPU time of each pass of AlexNet's fully connected layers (bvlc fc6-fc8, batches 1, 16 and
// 128) on the calling thread, as lib/nn/linear.ts calls the GEMM: the training forward
// (x Wᵀ through Sgemm, bias + ReLU epilogue), the inference forward (cpu::PackedWeights, packed
// once), backward-data (dy W) and backward-filter (dyᵀ x). The median of 5 calls after a warm-up
// one, in CLOCK_THREAD_CPUTIME_ID time, which other tenants of a shared machine inflate far less
// than wall-clock time; the share of the one-thread peak (cpu::MeasurePeakGflops) from the
// layer's FLOP; and the weights' bytes over the time, against the streaming-read floor. One JSON
// object a line. Not part of the addon: built by hand, from the root, as conv_cpu_time.cc is
// (replace conv_cpu_time.cc by this file in its final g++ line), then run with
// ALEXNET_NUM_THREADS=1 (and ALEXNET_GEMM_ISA=avx2 for that kernel).
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "cpu/gemm.h"
#include "cpu_time.h"

namespace {

// A 64-byte-aligned buffer of deterministic values in [-scale, scale], as a tensor's (tensor.cc).
struct Buffer {
  float* data;
  Buffer(size_t count, size_t seed, float scale) {
    data = static_cast<float*>(std::aligned_alloc(64, (count * sizeof(float) + 63) / 64 * 64));
    for (size_t i = 0; i < count; ++i) data[i] = scale * ((i * seed % 1000) / 500.0f - 1.0f);
  }
  ~Buffer() { std::free(data); }
};

void TimeLayer(const char* name, int batch, int in, int out, double peak) {
  using namespace alexnet::cpu;
  const Buffer x(static_cast<size_t>(batch) * in, 7919, 1.0f);
  const Buffer w(static_cast<size_t>(out) * in, 104729, 0.01f);
  const Buffer dy(static_cast<size_t>(batch) * out, 31, 1.0f);
  const Buffer bias(out, 13, 0.1f);
  Buffer y(static_cast<size_t>(batch) * out, 1, 0.0f);
  Buffer dx(static_cast<size_t>(batch) * in, 1, 0.0f);
  Buffer dw(static_cast<size_t>(out) * in, 1, 0.0f);
  const GemmEpilogue epilogue{nullptr, bias.data, true};
  PackedWeights packed;
  if (batch > PackedWeights::kDotRows) packed.Pack(w.data, out, in);
  const double ms[4] = {
      MedianMilliseconds([&] {
        Sgemm(false, true, batch, out, in, 1.0f, x.data, in, w.data, in, 0.0f, y.data, out,
              &epilogue);
      }),
      MedianMilliseconds([&] {
        if (batch > PackedWeights::kDotRows) {
          packed.Multiply(batch, x.data, in, y.data, out, &epilogue);
        } else {
          Sgemm(false, true, batch, out, in, 1.0f, x.data, in, w.data, in, 0.0f, y.data, out,
                &epilogue);
        }
      }),
      MedianMilliseconds([&] {
        Sgemm(false, false, batch, in, out, 1.0f, dy.data, out, w.data, in, 0.0f, dx.data, in);
      }),
      MedianMilliseconds([&] {
        Sgemm(true, false, out, in, batch, 1.0f, dy.data, out, x.data, in, 0.0f, dw.data, in);
      })};
  const char* passes[4] = {"forward", "inference", "backwardData", "backwardFilter"};
  const double flop = 2.0 * batch * in * out;
  for (int p = 0; p < 4; ++p) {
    const double gflops = flop / ms[p] / 1e6;
    const double gbs = 4.0 * in * out / ms[p] / 1e6;
    std::printf(
        "{\"layer\":\"%s\",\"batch\":%d,\"pass\":\"%s\",\"ms\":%.3f,\"gflops\":%.1f,"
        "\"share\":%.3f,\"weightGBs\":%.1f}\n",
        name, batch, passes[p], ms[p], gflops, gflops / peak, gbs);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const double peak = alexnet::cpu::MeasurePeakGflops();
  std::printf("{\"isa\":\"%s\",\"peak\":%.1f}\n", alexnet::cpu::GemmIsa(), peak);
  // bvlc's fc6-fc8 (DESIGN.md): in, out.
  const int shapes[3][2] = {{9216, 4096}, {4096, 4096}, {4096, 1000}};
  const char* names[3] = {"fc6", "fc7", "fc8"};
  std::vector<int> batches = {1, 16, 128};
  if (argc > 1) batches = {std::atoi(argv[1])};
  for (int batch : batches) {
    for (int i = 0; i < 3; ++i) TimeLayer(names[i], batch, shapes[i][0], shapes[i][1], peak);
  }
}
