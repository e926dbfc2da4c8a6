#include "cpu/pool.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

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
  ParallelFor(static_cast<int64_t>(s.n) * s.c, 1, [&](int64_t begin, int64_t end) {
    for (int64_t plane = begin; plane < end; ++plane) body(plane);
  });
}

// The offset in the plane of the window's first element, in row-major scan order, equal to
// target; -1 when there is none (a y that did not come from this x, or NaN).
int64_t FirstMatch(const PoolShape& s, const float* xp, const Window& win, float target) {
  for (int iy = win.y0; iy < win.y1; ++iy) {
    for (int ix = win.x0; ix < win.x1; ++ix) {
      if (xp[iy * s.w + ix] == target) return static_cast<int64_t>(iy) * s.w + ix;
    }
  }
  return -1;
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

// Each output row takes its windows' maximum down every input column first, then across: the
// column pass is a contiguous loop the compiler vectorises, and each window then reads `kernel`
// column maxima instead of kernel² inputs. Both passes fold with std::max from -infinity, as a
// scan of each window would, so a NaN input is skipped the same way.
void MaxPoolForward(const PoolShape& s, const float* x, float* y) {
  const int64_t in_plane = static_cast<int64_t>(s.h) * s.w;
  const int64_t out_plane = static_cast<int64_t>(s.oh) * s.ow;
  ForEachPlane(s, [&](int64_t plane) {
    thread_local std::vector<float> column_max;
    column_max.resize(static_cast<size_t>(s.w));
    const float* xp = x + plane * in_plane;
    float* yp = y + plane * out_plane;
    for (int oy = 0; oy < s.oh; ++oy) {
      const Window rows = WindowAt(s, oy, 0);
      std::fill(column_max.begin(), column_max.end(), -std::numeric_limits<float>::infinity());
      for (int iy = rows.y0; iy < rows.y1; ++iy) {
        const float* row = xp + static_cast<int64_t>(iy) * s.w;
        for (int ix = 0; ix < s.w; ++ix) column_max[ix] = std::max(column_max[ix], row[ix]);
      }
      for (int ox = 0; ox < s.ow; ++ox) {
        const Window win = WindowAt(s, oy, ox);
        float best = -std::numeric_limits<float>::infinity();
        for (int ix = win.x0; ix < win.x1; ++ix) best = std::max(best, column_max[ix]);
        yp[oy * s.ow + ox] = best;
      }
    }
  });
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

// The window's argmax as MaxPoolBackward finds it (the first element, in row-major order, equal
// to y), from the column maxima of its row band and the first row each was found at (-1 for a
// column of NaN or -infinity): of the columns whose maximum equals y, the one whose first such
// row comes first in row-major order. Every element above a column's first maximum is smaller,
// so no element equal to y comes before it in that column. A window with no such column (y is
// -infinity) is searched.
uint8_t WindowArgmax(const PoolShape& s, const float* xp, const Window& win, int oy, int ox,
                     const float* column_max, const int* column_row, float y) {
  int64_t best = -1;
  for (int ix = win.x0; ix < win.x1; ++ix) {
    if (column_row[ix] < 0 || column_max[ix] != y) continue;
    const int64_t index = static_cast<int64_t>(column_row[ix]) * s.w + ix;
    if (best < 0 || index < best) best = index;
  }
  if (best < 0) best = FirstMatch(s, xp, win, y);
  if (best < 0) return kNoArgmax;
  const int top = oy * s.stride - s.pad;
  const int left = ox * s.stride - s.pad;
  const int64_t iy = best / s.w;
  const int64_t ix = best % s.w;
  return static_cast<uint8_t>((iy - top) * s.kernel + (ix - left));
}

}  // namespace

// As MaxPoolForward (the same column maxima and the same fold across them, so the same y, -0 and
// +0 included), with the row of each column's first maximum kept for WindowArgmax.
void MaxPoolForwardArgmax(const PoolShape& s, const float* x, float* y, uint8_t* argmax) {
  const int64_t in_plane = static_cast<int64_t>(s.h) * s.w;
  const int64_t out_plane = static_cast<int64_t>(s.oh) * s.ow;
  ForEachPlane(s, [&](int64_t plane) {
    thread_local std::vector<float> column_max;
    thread_local std::vector<int> column_row;
    column_max.resize(static_cast<size_t>(s.w));
    column_row.resize(static_cast<size_t>(s.w));
    const float* xp = x + plane * in_plane;
    float* yp = y + plane * out_plane;
    uint8_t* ap = argmax + plane * out_plane;
    float* cm = column_max.data();
    int* cr = column_row.data();
    for (int oy = 0; oy < s.oh; ++oy) {
      const Window rows = WindowAt(s, oy, 0);
      std::fill(cm, cm + s.w, -std::numeric_limits<float>::infinity());
      std::fill(cr, cr + s.w, -1);
      for (int iy = rows.y0; iy < rows.y1; ++iy) {
        const float* row = xp + static_cast<int64_t>(iy) * s.w;
        // std::max(m, v) replaces m exactly where m < v: the same maxima as MaxPoolForward.
        for (int ix = 0; ix < s.w; ++ix) {
          const bool greater = cm[ix] < row[ix];
          cm[ix] = greater ? row[ix] : cm[ix];
          cr[ix] = greater ? iy : cr[ix];
        }
      }
      for (int ox = 0; ox < s.ow; ++ox) {
        const Window win = WindowAt(s, oy, ox);
        float best = -std::numeric_limits<float>::infinity();
        for (int ix = win.x0; ix < win.x1; ++ix) best = std::max(best, cm[ix]);
        yp[oy * s.ow + ox] = best;
        ap[oy * s.ow + ox] = WindowArgmax(s, xp, win, oy, ox, cm, cr, best);
      }
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
