#include "cpu/conv_winograd.h"

#include <algorithm>
#include <cstdint>
#include <vector>

#include "cpu/aligned.h"
#include "cpu/conv_algorithm.h"
#include "cpu/gemm.h"
#include "cpu/thread_pool.h"

namespace alexnet::cpu {

namespace {

constexpr int kTile = 4;                  // output tile side: F(4x4, 3x3)
constexpr int kInput = kTile + 3 - 1;     // input tile side
constexpr int kPoints = kInput * kInput;  // transformed points, one GEMM each per group

// Tiles transformed at once, one per lane of the transform loops, which the compiler vectorises.
constexpr int kLanes = 16;

// Tiles of a chunk of images, the GEMMs' columns: enough for the micro-kernel's rows to be long
// (the weights are packed once, so short GEMMs lose little), few enough that the chunk's
// transformed input and products stay near 12 MiB for conv3 (8 images of 16 tiles).
constexpr int64_t kTargetTiles = 128;

struct Geometry {
  int cg, kg;           // input and output channels per group
  int oh, ow, th, tw;   // output size, and tiles down and across
  int64_t image_tiles;  // th * tw
  int64_t chunk;        // images per pass
  PackedA a;            // one point's weights of one group: kg x cg

  explicit Geometry(const ConvShape& s)
      : cg(s.c / s.groups),
        kg(s.k / s.groups),
        oh(s.out_h()),
        ow(s.out_w()),
        th((oh + kTile - 1) / kTile),
        tw((ow + kTile - 1) / kTile),
        image_tiles(static_cast<int64_t>(th) * tw),
        chunk(std::clamp<int64_t>(kTargetTiles / image_tiles, 1, s.n)),
        a(kg, cg) {}

  // One point's transformed input of one group, for `count` images: cg x tiles.
  PackedB B(int64_t count) const { return PackedB(cg, static_cast<int>(count * image_tiles)); }
  int64_t BStride(int64_t count) const { return AlignedSize(B(count).size()); }
  int64_t AStride() const { return AlignedSize(a.size()); }
};

// The three transforms (Lavin and Gray 2016, section 4.2, F(4x4, 3x3) with the points 0, 1, -1,
// 2, -2 and infinity), each applied along one axis of kLanes tiles at once: in(r) and out(r) are
// the lanes of row r along that axis.

// Input: B^T d for a column of 6.
template <typename In, typename Out>
inline void InputAxis(const In& in, const Out& out) {
  for (int l = 0; l < kLanes; ++l) {
    const float d0 = in(0)[l], d1 = in(1)[l], d2 = in(2)[l];
    const float d3 = in(3)[l], d4 = in(4)[l], d5 = in(5)[l];
    out(0)[l] = 4.0f * d0 - 5.0f * d2 + d4;
    out(1)[l] = -4.0f * (d1 + d2) + (d3 + d4);
    out(2)[l] = 4.0f * (d1 - d2) + (d4 - d3);
    out(3)[l] = 2.0f * (d3 - d1) + (d4 - d2);
    out(4)[l] = 2.0f * (d1 - d3) + (d4 - d2);
    out(5)[l] = 4.0f * d1 - 5.0f * d3 + d5;
  }
}

// Output: A^T m for a column of 6, giving 4.
template <typename In, typename Out>
inline void OutputAxis(const In& in, const Out& out) {
  for (int l = 0; l < kLanes; ++l) {
    const float m0 = in(0)[l], m1 = in(1)[l], m2 = in(2)[l];
    const float m3 = in(3)[l], m4 = in(4)[l], m5 = in(5)[l];
    const float sum12 = m1 + m2, diff12 = m1 - m2;
    const float sum34 = m3 + m4, diff34 = m3 - m4;
    out(0)[l] = m0 + sum12 + sum34;
    out(1)[l] = diff12 + 2.0f * diff34;
    out(2)[l] = sum12 + 4.0f * sum34;
    out(3)[l] = diff12 + 8.0f * diff34 + m5;
  }
}

// Filter: G g for a column of 3, giving 6, in double.
void FilterAxis(const double g[3], double u[kInput]) {
  u[0] = g[0] / 4;
  u[1] = -(g[0] + g[1] + g[2]) / 6;
  u[2] = -(g[0] - g[1] + g[2]) / 6;
  u[3] = g[0] / 24 + g[1] / 12 + g[2] / 6;
  u[4] = g[0] / 24 - g[1] / 12 + g[2] / 6;
  u[5] = g[2];
}

// The 36 points G g G^T of one 3x3 filter.
void TransformFilter(const float* taps, double u[kPoints]) {
  double columns[3][kInput];  // G applied down each filter column
  for (int j = 0; j < 3; ++j) {
    const double g[3] = {taps[j], taps[3 + j], taps[6 + j]};
    FilterAxis(g, columns[j]);
  }
  for (int i = 0; i < kInput; ++i) {
    const double g[3] = {columns[0][i], columns[1][i], columns[2][i]};
    FilterAxis(g, u + i * kInput);
  }
}

// The 6x6 input tiles of tiles [t0, t0 + kLanes) of channel c (those past `tiles` zero), from
// images of count x c x h x w with the zero border read as zero.
void GatherTiles(const ConvShape& s, const Geometry& d, const float* x, int64_t c, int64_t t0,
                 int64_t tiles, float out[kInput][kInput][kLanes]) {
  const int64_t plane = static_cast<int64_t>(s.h) * s.w;
  for (int l = 0; l < kLanes; ++l) {
    const int64_t t = t0 + l;
    const int64_t image = t / d.image_tiles;
    const int y0 = static_cast<int>(t % d.image_tiles / d.tw) * kTile - s.pad_h;
    const int x0 = static_cast<int>(t % d.tw) * kTile - s.pad_w;
    const float* xp = x + (image * s.c + c) * plane;
    for (int i = 0; i < kInput; ++i) {
      const int iy = y0 + i;
      const bool row_in = t < tiles && iy >= 0 && iy < s.h;
      for (int j = 0; j < kInput; ++j) {
        const int ix = x0 + j;
        out[i][j][l] =
            row_in && ix >= 0 && ix < s.w ? xp[static_cast<int64_t>(iy) * s.w + ix] : 0.0f;
      }
    }
  }
}

// v = B^T d B of every tile of `count` images, written row c of each point's packed B operand.
void TransformInput(const ConvShape& s, const Geometry& d, const float* x, int64_t count,
                    float* v) {
  const PackedB b = d.B(count);
  const int64_t stride = d.BStride(count);
  const int64_t tiles = count * d.image_tiles;
  ParallelFor(s.c, 1, [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) {
      const int g = static_cast<int>(c / d.cg);
      const int row = static_cast<int>(c % d.cg);
      for (int64_t t0 = 0; t0 < tiles; t0 += kLanes) {
        float tile[kInput][kInput][kLanes];
        float half[kInput][kInput][kLanes];  // B^T d
        float points[kPoints][kLanes];       // (B^T d) B, row-major
        GatherTiles(s, d, x, c, t0, tiles, tile);
        for (int j = 0; j < kInput; ++j) {
          InputAxis([&](int r) { return tile[r][j]; }, [&](int r) { return half[r][j]; });
        }
        for (int i = 0; i < kInput; ++i) {
          InputAxis([&](int r) { return half[i][r]; },
                    [&](int r) { return points[i * kInput + r]; });
        }
        const int lanes = static_cast<int>(std::min<int64_t>(kLanes, tiles - t0));
        for (int p = 0; p < kPoints; ++p) {
          b.Row(v + (static_cast<int64_t>(p) * s.groups + g) * stride, row, static_cast<int>(t0))
              .Append(lanes, [&](int q) { return points[p][q]; });
        }
      }
    }
  });
  for (int64_t block = 0; block < kPoints * s.groups; ++block) b.ZeroPadding(v + block * stride);
}

// m = U V for every point and group: independent GEMMs, one per thread at a time (each runs
// serially inside the parallel region, and gives the bits it gives on any thread count).
void MultiplyPoints(const ConvShape& s, const Geometry& d, const float* packed, const float* v,
                    int64_t count, float* m) {
  const PackedB b = d.B(count);
  const int64_t tiles = count * d.image_tiles;
  ParallelFor(kPoints * s.groups, 1, [&](int64_t begin, int64_t end) {
    for (int64_t block = begin; block < end; ++block) {
      SgemmPacked(d.a, packed + block * d.AStride(), b, v + block * d.BStride(count), 0.0f,
                  m + block * d.kg * tiles, tiles);
    }
  });
}

// y = A^T m A of every tile, cropped to the output, then the epilogue. One output channel per
// work item, its tiles in order across the chunk's images, so that each point's products are
// read as one contiguous run. The last lanes of the last run read up to kLanes - 1 floats past
// it (into the next row, or the scratch's slack) and are not written.
void TransformOutput(const ConvShape& s, const Geometry& d, const float* m, int64_t count, float* y,
                     const GemmEpilogue* epilogue) {
  const int64_t tiles = count * d.image_tiles;
  const int64_t plane = static_cast<int64_t>(d.oh) * d.ow;
  ParallelFor(s.k, 1, [&](int64_t begin, int64_t end) {
    for (int64_t k = begin; k < end; ++k) {
      const int64_t g = k / d.kg;
      const float* products = m + (g * d.kg + k % d.kg) * tiles;
      const int64_t point_stride = static_cast<int64_t>(s.groups) * d.kg * tiles;
      for (int64_t t0 = 0; t0 < tiles; t0 += kLanes) {
        float half[kInput][kTile][kLanes];  // m A
        float tile[kTile][kTile][kLanes];   // A^T m A
        for (int i = 0; i < kInput; ++i) {
          OutputAxis([&](int r) { return products + (i * kInput + r) * point_stride + t0; },
                     [&](int r) { return half[i][r]; });
        }
        for (int j = 0; j < kTile; ++j) {
          OutputAxis([&](int r) { return half[r][j]; }, [&](int r) { return tile[r][j]; });
        }
        const int lanes = static_cast<int>(std::min<int64_t>(kLanes, tiles - t0));
        for (int l = 0; l < lanes; ++l) {
          const int64_t t = t0 + l;
          const int64_t image = t / d.image_tiles;
          const int y0 = static_cast<int>(t % d.image_tiles / d.tw) * kTile;
          const int x0 = static_cast<int>(t % d.tw) * kTile;
          float* out = y + (image * s.k + k) * plane;
          for (int i = 0; i < std::min(kTile, d.oh - y0); ++i) {
            for (int j = 0; j < std::min(kTile, d.ow - x0); ++j) {
              out[static_cast<int64_t>(y0 + i) * d.ow + x0 + j] = tile[i][j][l];
            }
          }
        }
      }
      if (!epilogue) continue;
      for (int64_t image = 0; image < count; ++image) {
        const int row = static_cast<int>(k);
        epilogue->Apply(row, row + 1, 0, static_cast<int>(plane), y + image * s.k * plane, plane);
      }
    }
  });
}

}  // namespace

bool ConvWinogradForwardFits(const ConvShape& s) {
  return RequestedConvAlgorithm() == ConvAlgorithm::kWinograd && s.kh == 3 && s.kw == 3 &&
         s.stride_h == 1 && s.stride_w == 1;
}

int64_t ConvWinogradWeightsSize(const ConvShape& s) {
  return static_cast<int64_t>(kPoints) * s.groups * Geometry(s).AStride();
}

void ConvWinogradPackWeights(const ConvShape& s, const float* w, float* packed) {
  const Geometry d(s);
  // Each group's points as kg x cg row-major matrices, then packed: U[p](o, c) is point p of
  // filter (o, c).
  std::vector<float> points(static_cast<size_t>(kPoints) * d.kg * d.cg);
  for (int g = 0; g < s.groups; ++g) {
    ParallelFor(static_cast<int64_t>(d.kg) * d.cg, 64, [&](int64_t begin, int64_t end) {
      for (int64_t filter = begin; filter < end; ++filter) {
        double u[kPoints];
        TransformFilter(w + (static_cast<int64_t>(g) * d.kg * d.cg + filter) * 9, u);
        for (int p = 0; p < kPoints; ++p) {
          points[static_cast<size_t>(p * d.kg * d.cg + filter)] = static_cast<float>(u[p]);
        }
      }
    });
    for (int p = 0; p < kPoints; ++p) {
      d.a.Pack(points.data() + static_cast<int64_t>(p) * d.kg * d.cg, d.cg, 1.0f,
               packed + (static_cast<int64_t>(p) * s.groups + g) * d.AStride());
    }
  }
}

int64_t ConvWinogradScratchSize(const ConvShape& s) {
  const Geometry d(s);
  return kAlignmentFloats + static_cast<int64_t>(kPoints) * s.groups * d.BStride(d.chunk) +
         static_cast<int64_t>(kPoints) * s.k * d.chunk * d.image_tiles + kLanes;
}

void ConvWinogradForward(const ConvShape& s, const float* x, const float* packed, float* y,
                         float* scratch, const GemmEpilogue* epilogue) {
  const Geometry d(s);
  float* v = Aligned(scratch);
  float* m = v + static_cast<int64_t>(kPoints) * s.groups * d.BStride(d.chunk);
  const int64_t image_in = static_cast<int64_t>(s.c) * s.h * s.w;
  const int64_t image_out = static_cast<int64_t>(s.k) * d.oh * d.ow;
  for (int64_t n0 = 0; n0 < s.n; n0 += d.chunk) {
    const int64_t count = std::min(d.chunk, s.n - n0);
    TransformInput(s, d, x + n0 * image_in, count, v);
    MultiplyPoints(s, d, packed, v, count, m);
    TransformOutput(s, d, m, count, y + n0 * image_out, epilogue);
  }
}

}  // namespace alexnet::cpu
