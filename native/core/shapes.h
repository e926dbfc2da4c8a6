// The shapes and keys the ops take, shared by both backends: the CPU kernels (native/cpu) and the
// CUDA ops (native/cuda/ops.h) take the same structs, so the N-API entry points (native/bindings)
// fill one and dispatch on the tensors' device. Plain data: what each field means for an op is
// documented beside the op (native/cpu/<op>.h).
#pragma once

#include <cstdint>

namespace alexnet {

// 2-D convolution (native/cpu/conv.h). Layouts: x (n, c, h, w), w (k, c / groups, kh, kw),
// y (n, k, out_h, out_w).
struct ConvShape {
  int n, c, h, w;  // input
  int k;           // output channels
  int kh, kw;      // filter size
  int stride_h, stride_w;
  int pad_h, pad_w;
  int groups;

  // floor((h + 2 pad - kh) / stride) + 1, the output size of Caffe and cuDNN.
  int out_h() const { return (h + 2 * pad_h - kh) / stride_h + 1; }
  int out_w() const { return (w + 2 * pad_w - kw) / stride_w + 1; }
};

// Local response normalisation across channels (native/cpu/lrn.h), alpha in the Caffe / cuDNN
// form (divided by the window size).
struct LrnShape {
  int n = 0;
  int c = 0;
  int h = 0;
  int w = 0;
  int size = 0;  // odd, the channels in a window
  float alpha = 0.0f;
  float beta = 0.0f;
  float k = 0.0f;
};

// Max pooling (native/cpu/pool.h): square windows of `kernel` positions moved by `stride` over an
// input padded by `pad`; oh and ow are the output size (cpu::MakePoolShape fills them).
struct PoolShape {
  int n = 0;
  int c = 0;
  int h = 0;
  int w = 0;
  int kernel = 0;
  int stride = 0;
  int pad = 0;
  int oh = 0;
  int ow = 0;
};

// Which dropout mask to draw (native/cpu/dropout.h).
struct DropoutKey {
  float p;  // probability of dropping an element, in [0, 1)
  uint32_t seed;
  uint32_t step;
  uint32_t layer;
  uint64_t offset = 0;  // index in the mask of the tensor's first element
};

// One batch of the fused augmentation (native/cpu/augment.h). The arrays are host memory.
struct AugmentParams {
  int count;   // images in the batch
  int height;  // source image size
  int width;
  int out_height;  // crop size
  int out_width;
  const int32_t* crops;    // 2 per image: y offset, x offset
  const uint8_t* mirror;   // 1 per image: nonzero flips horizontally
  const float* rgb_shift;  // 3 per image, RGB
  const float* mean;       // 3, RGB
  const float* scale;      // 3, RGB
  bool bgr;                // write output channels in BGR order
};

}  // namespace alexnet
