// The two separable passes of the antialiased resize of lib/data/resize.ts (Pillow's triangle
// filter; the taps and weights are computed there). Each output sample is a weighted sum of
// `count` consecutive input samples from `start`, in float64 and in the same order as the
// TypeScript it replaced, rounded once at the end: the pixels are bit for bit the same.
#pragma once

#include <cstdint>

namespace alexnet::cpu {

// The taps of one axis: output i reads count[i] inputs from start[i], weights at i * taps.
struct AxisTaps {
  const int32_t* start;
  const int32_t* count;
  const double* weights;
  int taps;
};

// src: height x width x 3 (HWC, RGB). out: out_height x out_width x 3, where output (y, x) is
// the vertical taps of y over rows of the horizontal taps of x.
void ResampleRgb(const uint8_t* src, int width, const AxisTaps& h, int out_width, const AxisTaps& v,
                 int out_height, uint8_t* out);

}  // namespace alexnet::cpu
