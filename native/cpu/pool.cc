#include "cpu/pool.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string_view>
#include <vector>

#include "cpu/gemm.h"
#include "cpu/pool_kernel.h"
#include "cpu/thread_pool.h"

namespace alexnet::cpu {

namespace {

// The window of output (oy, ox), clipped to the input: lib/ops/pool.ts keeps pad <= kernel / 2,
// so every window holds at least one real element and the -infinity padding never wins.
struct Window {
  int y0, y1, x0, x1;
};

Window WindowAt(const PoolShape& s, int oy, int ox) {
  const int top = oy * s.stride - s.pad;
  const int left = ox * s.stride - s.pad;
  return {std::max(top, 0), std::min(top + s.kernel, s.h), std::max(left, 0),
          std::min(left + s.kernel, s.w)};
}

// Calls body(plane) for every (image, channel) plane, in parallel: planes are independent in
// both directions, so no two threads write the same output.
template <typename Body>
void ForEachPlane(const PoolShape& s, const Body& body) {
  ParallelForBalanced(static_cast<int64_t>(s.n) * s.c, 1, [&](int64_t begin, int64_t end) {
    for (int64_t plane = begin; plane < end; ++plane) body(plane);
  });
}

// The offset in the plane of the window's first element, in row-major scan order, equal to
// target; -1 when there is none (a y that did not come from this x, or NaN). Every element is
// compared, from the last to the first, each match replacing the offset, with no branch: a
// search that stopped at the first match mispredicted its exit about once per window (the
// maximum's place is random), which cost more than the comparisons it saved (bench/RESULTS.md).
int64_t FirstMatch(const PoolShape& s, const float* xp, const Window& win, float target) {
  int64_t found = -1;
  for (int iy = win.y1 - 1; iy >= win.y0; --iy) {
    for (int ix = win.x1 - 1; ix >= win.x0; --ix) {
      const int64_t i = static_cast<int64_t>(iy) * s.w + ix;
      found = xp[i] == target ? i : found;
    }
  }
  return found;
}

// The row kernels of the GEMM's instruction set (gemm.cc picks it from the CPU, or
// ALEXNET_GEMM_ISA), so that forcing a lesser one for tests forces this one too.
const PoolKernel& SelectKernel() {
  const std::string_view isa = GemmIsa();
#if defined(ALEXNET_GEMM_X86)
  if (isa == "avx512") return pool_avx512::kKernel;
  if (isa == "avx2") return pool_avx2::kKernel;
#endif
  return pool_generic::kKernel;
}

const PoolKernel& Kernel() {
  static const PoolKernel& kernel = SelectKernel();
  return kernel;
}

// AlexNet's pooling, 3x3 windows moved by 2 without padding, a row kernel call per output row.
void MaxPool3x3Stride2Plane(const PoolShape& s, const float* x, float* y) {
  const PoolKernel& kernel = Kernel();
  thread_local std::vector<float> scratch;
  scratch.assign(static_cast<size_t>(kernel.ScratchFloats(s.w)),
                 -std::numeric_limits<float>::infinity());
  for (int oy = 0; oy < s.oh; ++oy) {
    const float* top = x + static_cast<int64_t>(2 * oy) * s.w;
    const float* rows[3] = {top, top + s.w, top + 2 * s.w};
    kernel.max3x3_stride2(rows, s.w, scratch.data(), y + oy * s.ow);
  }
}

}  // namespace

int PoolOutputSize(int in, int kernel, int stride, int pad) {
  return (in + 2 * pad - kernel) / stride + 1;
}

PoolShape MakePoolShape(int n, int c, int h, int w, int kernel, int stride, int pad) {
  return {n,
          c,
          h,
          w,
          kernel,
          stride,
          pad,
          PoolOutputSize(h, kernel, stride, pad),
          PoolOutputSize(w, kernel, stride, pad)};
}

// AlexNet's windows go to the row kernel of this CPU (pool_kernel.h). Any other: each output row
// takes its windows' maximum down every input column first, then across: the column pass is a
// contiguous loop the compiler vectorises, and each window then reads `kernel` column maxima
// instead of kernel² inputs. Both passes fold with std::max from -infinity, as a scan of each
// window would, so a NaN input is skipped the same way.
void MaxPoolPlane(const PoolShape& s, const float* x, float* y) {
  if (s.kernel == 3 && s.stride == 2 && s.pad == 0) return MaxPool3x3Stride2Plane(s, x, y);
  thread_local std::vector<float> column_max;
  column_max.resize(static_cast<size_t>(s.w));
  for (int oy = 0; oy < s.oh; ++oy) {
    const Window rows = WindowAt(s, oy, 0);
    std::fill(column_max.begin(), column_max.end(), -std::numeric_limits<float>::infinity());
    for (int iy = rows.y0; iy < rows.y1; ++iy) {
      const float* row = x + static_cast<int64_t>(iy) * s.w;
      for (int ix = 0; ix < s.w; ++ix) column_max[ix] = std::max(column_max[ix], row[ix]);
    }
    for (int ox = 0; ox < s.ow; ++ox) {
      const Window win = WindowAt(s, oy, ox);
      float best = -std::numeric_limits<float>::infinity();
      for (int ix = win.x0; ix < win.x1; ++ix) best = std::max(best, column_max[ix]);
      y[oy * s.ow + ox] = best;
    }
  }
}

void MaxPoolForward(const PoolShape& s, const float* x, float* y) {
  const int64_t in_plane = static_cast<int64_t>(s.h) * s.w;
  const int64_t out_plane = static_cast<int64_t>(s.oh) * s.ow;
  ForEachPlane(
      s, [&](int64_t plane) { MaxPoolPlane(s, x + plane * in_plane, y + plane * out_plane); });
}

void MaxPoolBackward(const PoolShape& s, const float* x, const float* y, const float* dy,
                     float* dx) {
  const int64_t in_plane = static_cast<int64_t>(s.h) * s.w;
  const int64_t out_plane = static_cast<int64_t>(s.oh) * s.ow;
  ForEachPlane(s, [&](int64_t plane) {
    const float* xp = x + plane * in_plane;
    const float* yp = y + plane * out_plane;
    const float* dyp = dy + plane * out_plane;
    float* dxp = dx + plane * in_plane;
    std::fill(dxp, dxp + in_plane, 0.0f);
    for (int oy = 0; oy < s.oh; ++oy) {
      for (int ox = 0; ox < s.ow; ++ox) {
        const int64_t i = FirstMatch(s, xp, WindowAt(s, oy, ox), yp[oy * s.ow + ox]);
        if (i >= 0) dxp[i] += dyp[oy * s.ow + ox];
      }
    }
  });
}

namespace {

// The window's argmax as MaxPoolBackward finds it (FirstMatch), as its offset in the unclipped
// window whose top-left corner is (top, left).
int ScanArgmax(const PoolShape& s, const float* xp, const Window& win, int top, int left, float y) {
  const int64_t i = FirstMatch(s, xp, win, y);
  if (i < 0) return kNoArgmax;
  return (static_cast<int>(i / s.w) - top) * s.kernel + (static_cast<int>(i % s.w) - left);
}

// The same argmax from the window's column maxima and the row each was first reached at: an
// element equal to y can only be in a column whose maximum equals y, where no element above that
// row equals it (each was smaller, or NaN), so the first match is the smallest offset of those
// columns' first maxima. Without branches: the maximum's place is random, and a search stopping
// at it mispredicts about once per window. A window whose maximum is -infinity (every element
// -infinity or NaN, where no row was recorded) is scanned.
inline uint8_t WindowArgmax(const PoolShape& s, const float* xp, const Window& win, int oy, int ox,
                            const float* column_max, const float* column_row, float y) {
  const int top = oy * s.stride - s.pad;
  const int left = ox * s.stride - s.pad;
  if (__builtin_expect(y == -std::numeric_limits<float>::infinity(), 0)) {
    return static_cast<uint8_t>(ScanArgmax(s, xp, win, top, left, y));
  }
  int found = kNoArgmax;
  for (int ix = win.x0; ix < win.x1; ++ix) {
    const int offset = (static_cast<int>(column_row[ix]) - top) * s.kernel + (ix - left);
    // & rather than &&: both sides evaluated, so no branch.
    const bool take = (column_max[ix] == y) & (offset < found);
    found = take ? offset : found;
  }
  return static_cast<uint8_t>(found);
}

// The argmax of output row oy's windows into `out`: WindowArgmax's rule, in a loop over the
// windows for each column of the window (kx), so that the compiler vectorises it across windows;
// the windows clipped by the border, and those whose maximum is -infinity, go to WindowArgmax.
void RowArgmax(const PoolShape& s, const float* xp, int oy, const float* column_max,
               const float* column_row, const float* y, uint8_t* out) {
  thread_local std::vector<float> found_row;
  found_row.assign(static_cast<size_t>(s.ow), static_cast<float>(kNoArgmax));
  float* __restrict found = found_row.data();
  const float top = static_cast<float>(oy * s.stride - s.pad);
  // Windows [lo, hi) lie wholly inside the row: ox * stride - pad >= 0 and + kernel <= w.
  const int lo = std::min(s.ow, (s.pad + s.stride - 1) / s.stride);
  const int hi = std::max(lo, std::min(s.ow, (s.w + s.pad - s.kernel) / s.stride + 1));
  for (int kx = 0; kx < s.kernel; ++kx) {
    const float shift = static_cast<float>(kx);
    for (int ox = lo; ox < hi; ++ox) {
      const int ix = ox * s.stride - s.pad + kx;
      const float offset = (column_row[ix] - top) * static_cast<float>(s.kernel) + shift;
      const float take = (column_max[ix] == y[ox]) & (offset < found[ox]) ? 1.0f : 0.0f;
      found[ox] += take * (offset - found[ox]);
    }
  }
  for (int ox = 0; ox < s.ow; ++ox) {
    const bool edge = ox < lo || ox >= hi;
    if (edge || y[ox] == -std::numeric_limits<float>::infinity()) {
      out[ox] = WindowArgmax(s, xp, WindowAt(s, oy, ox), oy, ox, column_max, column_row, y[ox]);
    } else {
      out[ox] = static_cast<uint8_t>(found[ox]);
    }
  }
}

}  // namespace

// As MaxPoolForward (the same column maxima and the same fold across them, so the same y, -0 and
// +0 included), also keeping the row at which each column's maximum was first reached, then each
// window's argmax from them.
void MaxPoolForwardArgmax(const PoolShape& s, const float* x, float* y, uint8_t* argmax) {
  const int64_t in_plane = static_cast<int64_t>(s.h) * s.w;
  const int64_t out_plane = static_cast<int64_t>(s.oh) * s.ow;
  ForEachPlane(s, [&](int64_t plane) {
    thread_local std::vector<float> column_max;
    thread_local std::vector<float> column_row;
    column_max.resize(static_cast<size_t>(s.w));
    column_row.resize(static_cast<size_t>(s.w));
    const float* xp = x + plane * in_plane;
    float* yp = y + plane * out_plane;
    uint8_t* ap = argmax + plane * out_plane;
    float* __restrict cm = column_max.data();
    float* __restrict cr = column_row.data();
    for (int oy = 0; oy < s.oh; ++oy) {
      const Window rows = WindowAt(s, oy, 0);
      std::fill(cm, cm + s.w, -std::numeric_limits<float>::infinity());
      std::fill(cr, cr + s.w, 0.0f);
      for (int iy = rows.y0; iy < rows.y1; ++iy) {
        const float* __restrict row = xp + static_cast<int64_t>(iy) * s.w;
        const float at = static_cast<float>(iy);
        // The row moves where std::max(m, v) replaces m, that is where m < v, written as
        // arithmetic on a 0 or 1 (exact on row numbers) so that the loop vectorises: as a
        // select, GCC left it a branch, which mispredicts on random data.
        for (int ix = 0; ix < s.w; ++ix) {
          const float value = row[ix];
          const float max = cm[ix];
          const float moved = max < value ? 1.0f : 0.0f;
          cm[ix] = std::max(max, value);
          cr[ix] += moved * (at - cr[ix]);
        }
      }
      float* yrow = yp + oy * s.ow;
      for (int ox = 0; ox < s.ow; ++ox) {
        const Window win = WindowAt(s, oy, ox);
        float best = -std::numeric_limits<float>::infinity();
        for (int ix = win.x0; ix < win.x1; ++ix) best = std::max(best, cm[ix]);
        yrow[ox] = best;
      }
      RowArgmax(s, xp, oy, cm, cr, yrow, ap + oy * s.ow);
    }
  });
}

void MaxPoolBackwardArgmax(const PoolShape& s, const uint8_t* argmax, const float* dy, float* dx) {
  const int64_t in_plane = static_cast<int64_t>(s.h) * s.w;
  const int64_t out_plane = static_cast<int64_t>(s.oh) * s.ow;
  ForEachPlane(s, [&](int64_t plane) {
    const uint8_t* ap = argmax + plane * out_plane;
    const float* dyp = dy + plane * out_plane;
    float* dxp = dx + plane * in_plane;
    std::fill(dxp, dxp + in_plane, 0.0f);
    for (int oy = 0; oy < s.oh; ++oy) {
      for (int ox = 0; ox < s.ow; ++ox) {
        const uint8_t a = ap[oy * s.ow + ox];
        if (a == kNoArgmax) continue;
        const int64_t iy = oy * s.stride - s.pad + a / s.kernel;
        const int64_t ix = ox * s.stride - s.pad + a % s.kernel;
        dxp[iy * s.w + ix] += dyp[oy * s.ow + ox];
      }
    }
  });
}

}  // namespace alexnet::cpu
