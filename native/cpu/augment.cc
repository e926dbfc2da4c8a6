#include "cpu/augment.h"

#include "cpu/thread_pool.h"

namespace alexnet::cpu {

void Augment(const uint8_t* images, float* out, const AugmentParams& p) {
  const int64_t image_size = static_cast<int64_t>(p.height) * p.width * 3;
  const int64_t plane = static_cast<int64_t>(p.out_height) * p.out_width;
  ParallelFor(p.count, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const int crop_y = p.crops[2 * i];
      const int crop_x = p.crops[2 * i + 1];
      const bool mirror = p.mirror[i] != 0;
      for (int oc = 0; oc < 3; ++oc) {
        const int c = p.bgr ? 2 - oc : oc;
        const float shift = p.rgb_shift[3 * i + c];
        const float mean = p.mean[c];
        const float scale = p.scale[c];
        float* dst = out + (i * 3 + oc) * plane;
        for (int y = 0; y < p.out_height; ++y) {
          const uint8_t* row = images + i * image_size +
                               (static_cast<int64_t>(crop_y + y) * p.width + crop_x) * 3 + c;
          float* dst_row = dst + static_cast<int64_t>(y) * p.out_width;
          for (int x = 0; x < p.out_width; ++x) {
            const int sx = mirror ? p.out_width - 1 - x : x;
            dst_row[x] = (static_cast<float>(row[sx * 3]) + shift - mean) * scale;
          }
        }
      }
    }
  });
}

}  // namespace alexnet::cpu
