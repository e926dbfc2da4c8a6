#include "cpu/conv_phases.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "cpu/aligned.h"
#include "cpu/conv_algorithm.h"
#include "cpu/conv_kernel.h"
#include "cpu/thread_pool.h"

namespace alexnet::cpu {

namespace {

constexpr int kChannels = ConvKernel::kPhaseChannels;

// Phase rows per band: 16, so that a band's pixels (16 rows of any length) are whole vectors of
// every instruction set's width. conv1's band of dy is then 96 channels x 19 rows of 57 floats
// (0.4 MB) and its planes 16 phases x 3 channels x 912 floats (0.2 MB): together in a Zen 4
// core's L2 while the kernels sweep the band once per phase.
constexpr int kBandRows = 16;

// The threads' slots share at most 8 MiB, as the backward-filter pass's images do
// (conv_direct.cc): conv1's slot is 0.6 MB, so up to 14 threads run the pass, and on more this
// scratch stays below conv3's, the network's largest.
constexpr int64_t kMaxSlotFloats = int64_t{1} << 21;

int CeilDiv(int a, int b) { return (a + b - 1) / b; }

// The filter rows of phase row p, ceil((kh - p) / stride_h); the same for columns.
int Taps(int kernel, int p, int stride) { return CeilDiv(kernel - p, stride); }

struct PhaseGeometry {
  explicit PhaseGeometry(const ConvShape& s)
      : taps_h(CeilDiv(s.kh, s.stride_h)),
        taps_w(CeilDiv(s.kw, s.stride_w)),
        row(s.out_w() + taps_w - 1),
        bands(CeilDiv(s.out_h() + taps_h - 1, kBandRows)),
        phases(s.stride_h * s.stride_w),
        band_pixels(static_cast<int64_t>(kBandRows) * row),
        // The band's rows, and a row's first taps_w - 1 zeros more: the pixels past the band's
        // last row read no further for tap (0, 0).
        dy_channel(AlignedSize(static_cast<int64_t>(kBandRows + taps_h - 1) * row + taps_w - 1)),
        slot(s.k * dy_channel + phases * kChannels * band_pixels) {}

  int taps_h, taps_w;   // the most filter rows and columns in a phase
  int row;              // floats per row of dy's copy and of a phase plane: out_w + taps_w - 1
  int bands;            // bands per image, over the out_h + taps_h - 1 rows of a phase plane
  int phases;           // stride_h x stride_w
  int64_t band_pixels;  // kBandRows rows of a phase plane
  int64_t dy_channel;   // floats of one output channel's band of dy
  int64_t slot;         // floats of a thread's band of dy and band of phase planes
};

// Threads that run the pass, each with its slot.
int Workers(const PhaseGeometry& g) {
  return static_cast<int>(std::clamp<int64_t>(kMaxSlotFloats / g.slot, 1, ThreadCount()));
}

int64_t WeightsSize(const ConvShape& s) {
  int64_t taps = 0;
  for (int py = 0; py < s.stride_h; ++py) {
    for (int px = 0; px < s.stride_w; ++px) {
      taps += static_cast<int64_t>(Taps(s.kh, py, s.stride_h)) * Taps(s.kw, px, s.stride_w);
    }
  }
  return AlignedSize(taps * s.k * kChannels);
}

// w reordered phase by phase (row-major), each as (k, a, b, kChannels): filter row py + a *
// stride_h and column px + b * stride_w, zeros for the channels past s.c.
void PackWeights(const ConvShape& s, const float* w, float* packed) {
  for (int py = 0; py < s.stride_h; ++py) {
    const int rows = Taps(s.kh, py, s.stride_h);
    for (int px = 0; px < s.stride_w; ++px) {
      const int columns = Taps(s.kw, px, s.stride_w);
      for (int k = 0; k < s.k; ++k) {
        for (int a = 0; a < rows; ++a) {
          for (int b = 0; b < columns; ++b) {
            for (int c = 0; c < kChannels; ++c) {
              *packed++ =
                  c < s.c ? w[((static_cast<int64_t>(k) * s.c + c) * s.kh + py + a * s.stride_h) *
                                  s.kw +
                              px + b * s.stride_w]
                          : 0.0f;
            }
          }
        }
      }
    }
  }
}

// The band of dy that phase rows [i0, i0 + kBandRows) read, for every output channel: row l is
// dy's row i0 + l - (taps_h - 1) after taps_w - 1 zeros, zeros where dy has no such row.
void CopyBand(const ConvShape& s, const PhaseGeometry& g, const float* dy, int i0, float* band) {
  const int oh = s.out_h();
  const int ow = s.out_w();
  const int left = g.taps_w - 1;
  const int filled = kBandRows + g.taps_h - 1;
  for (int k = 0; k < s.k; ++k) {
    float* channel = band + k * g.dy_channel;
    for (int l = 0; l < filled; ++l) {
      float* row = channel + static_cast<int64_t>(l) * g.row;
      const int i = i0 + l - (g.taps_h - 1);
      std::fill(row, row + left, 0.0f);
      if (i >= 0 && i < oh) {
        std::memcpy(row + left, dy + (static_cast<int64_t>(k) * oh + i) * ow, ow * sizeof(float));
      } else {
        std::fill(row + left, row + g.row, 0.0f);
      }
    }
    std::fill(channel + static_cast<int64_t>(filled) * g.row, channel + g.dy_channel, 0.0f);
  }
}

// Phase rows [i0, i0 + rows) of one image's dx, written into its rows.
void InterleaveBand(const ConvShape& s, const PhaseGeometry& g, const ConvKernel& kernel,
                    const float* planes, int i0, int rows, float* dx) {
  const int sw = s.stride_w;
  const int groups = s.w / sw;  // a row's whole groups of sw pixels, one from each phase
  const int64_t plane = kChannels * g.band_pixels;
  for (int c = 0; c < s.c; ++c) {
    for (int r = 0; r < rows; ++r) {
      for (int py = 0; py < s.stride_h; ++py) {
        const int y = (i0 + r) * s.stride_h + py;
        if (y >= s.h) continue;
        const float* first =
            planes + (py * sw * kChannels + c) * g.band_pixels + static_cast<int64_t>(r) * g.row;
        float* row = dx + (static_cast<int64_t>(c) * s.h + y) * s.w;
        if (groups > 0) kernel.interleave({first, plane, sw, sw, groups, groups, row, 0});
        for (int x = groups * sw; x < s.w; ++x) row[x] = first[x % sw * plane + x / sw];
      }
    }
  }
}

// One band of one image: its phase planes from dy's band, a run of phase_vectors vectors at a
// time, then one vector at a time; then into dx.
void RunBand(const ConvShape& s, const PhaseGeometry& g, const float* weights, const float* dy,
             int band, float* slot, float* dx) {
  const ConvKernel& kernel = SelectedConvKernel();
  const int i0 = band * kBandRows;
  const int rows = std::min(kBandRows, s.out_h() + g.taps_h - 1 - i0);
  float* dy_band = slot;
  float* planes = slot + s.k * g.dy_channel;
  CopyBand(s, g, dy, i0, dy_band);
  const int vectors = static_cast<int>(CeilDiv(rows * g.row, kernel.vw));
  ConvPhaseArgs args;
  args.dy_channel = g.dy_channel;
  args.row = g.row;
  args.channels = s.k;
  args.dx_channel = g.band_pixels;
  args.w = weights;
  const float* tap0 = dy_band + static_cast<int64_t>(g.taps_h - 1) * g.row + g.taps_w - 1;
  for (int py = 0; py < s.stride_h; ++py) {
    const int a = Taps(s.kh, py, s.stride_h);
    for (int px = 0; px < s.stride_w; ++px) {
      const int b = Taps(s.kw, px, s.stride_w);
      float* plane = planes + (py * s.stride_w + px) * kChannels * g.band_pixels;
      for (int v = 0; v < vectors;) {
        const bool run = v + kernel.phase_vectors <= vectors;
        args.dy = tap0 + static_cast<int64_t>(v) * kernel.vw;
        args.dx = plane + static_cast<int64_t>(v) * kernel.vw;
        kernel.phase[a - 1][b - 1][run ? 0 : 1](args);
        v += run ? kernel.phase_vectors : 1;
      }
      args.w += static_cast<int64_t>(s.k) * a * b * kChannels;
    }
  }
  InterleaveBand(s, g, kernel, planes, i0, rows, dx);
}

}  // namespace

bool ConvPhasesBackwardDataFits(const ConvShape& s) {
  if (RequestedConvAlgorithm() == ConvAlgorithm::kIm2col) return false;
  if (SelectedConvKernel().phase_vectors == 0) return false;
  return s.groups == 1 && s.pad_h == 0 && s.pad_w == 0 && s.stride_h > 1 && s.stride_w > 1 &&
         s.c <= kChannels && s.kh >= s.stride_h && s.kw >= s.stride_w && s.h >= s.kh &&
         s.w >= s.kw && (s.h - s.kh) % s.stride_h == 0 && (s.w - s.kw) % s.stride_w == 0 &&
         CeilDiv(s.kh, s.stride_h) <= ConvKernel::kMaxPhaseTaps &&
         CeilDiv(s.kw, s.stride_w) <= ConvKernel::kMaxPhaseTaps;
}

int64_t ConvPhasesScratchSize(const ConvShape& s) {
  const PhaseGeometry g(s);
  return kAlignmentFloats + WeightsSize(s) + Workers(g) * g.slot;
}

void ConvPhasesBackwardData(const ConvShape& s, const float* w, const float* dy, float* dx,
                            float* scratch) {
  const PhaseGeometry g(s);
  float* weights = Aligned(scratch);
  PackWeights(s, w, weights);
  float* slots = weights + WeightsSize(s);
  const int64_t image_in = static_cast<int64_t>(s.c) * s.h * s.w;
  const int64_t image_out = static_cast<int64_t>(s.k) * s.out_h() * s.out_w();
  // One slot per worker; the images' bands split evenly between them.
  const int threads = Workers(g);
  const int64_t bands = static_cast<int64_t>(s.n) * g.bands;
  ParallelFor(threads, 1, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      for (int64_t u = bands * t / threads; u < bands * (t + 1) / threads; ++u) {
        const int64_t b = u / g.bands;
        RunBand(s, g, weights, dy + b * image_out, static_cast<int>(u % g.bands),
                slots + t * g.slot, dx + b * image_in);
      }
    }
  });
}

}  // namespace alexnet::cpu
