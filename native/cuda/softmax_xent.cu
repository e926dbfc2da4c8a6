// Softmax cross-entropy and top-k counts on a CUDA device, computed as native/cpu/softmax_xent.cc
// does (row maximum subtracted, exponentials and sums in double) so the two backends agree to
// float rounding. One block per row; the per-row losses are summed on the device into the
// caller's result tensor, which the host reads with the rest of the step.
#include "cuda/launch.cuh"
#include "cuda/memory.h"
#include "cuda/ops.h"

namespace alexnet::cuda {

namespace {

// Reduces `value` over the block (blockDim.x == kBlock) with `op`; every thread gets the result.
template <typename T, typename Op>
__device__ T BlockReduce(T value, T* shared, Op op) {
  shared[threadIdx.x] = value;
  __syncthreads();
  for (int stride = kBlock / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride)
      shared[threadIdx.x] = op(shared[threadIdx.x], shared[threadIdx.x + stride]);
    __syncthreads();
  }
  T result = shared[0];
  __syncthreads();
  return result;
}

struct MaxOp {
  __device__ float operator()(float a, float b) const { return a > b ? a : b; }
};
struct SumOp {
  __device__ double operator()(double a, double b) const { return a + b; }
};

__global__ void SoftmaxXentKernel(const float* logits, const int32_t* labels, int64_t classes,
                                  double inv_n, float* dlogits, double* row_loss) {
  __shared__ float shared_max[kBlock];
  __shared__ double shared_sum[kBlock];
  const int64_t row = blockIdx.x;
  const float* z = logits + row * classes;
  float* dz = dlogits + row * classes;
  const int32_t label = labels[row];

  float max = z[0];
  for (int64_t j = threadIdx.x; j < classes; j += blockDim.x) max = z[j] > max ? z[j] : max;
  max = BlockReduce(max, shared_max, MaxOp());

  double sum = 0.0;
  for (int64_t j = threadIdx.x; j < classes; j += blockDim.x) {
    sum += exp(static_cast<double>(z[j]) - max);
  }
  sum = BlockReduce(sum, shared_sum, SumOp());

  const double to_grad = inv_n / sum;
  for (int64_t j = threadIdx.x; j < classes; j += blockDim.x) {
    const double p = exp(static_cast<double>(z[j]) - max) * to_grad;
    // The label's entry subtracts in double, as on the CPU: near probability 1 it cancels.
    dz[j] = static_cast<float>(j == label ? p - inv_n : p);
  }
  if (threadIdx.x == 0) row_loss[row] = log(sum) + max - static_cast<double>(z[label]);
}

// *mean = the sum of values[0 .. n) times inv_divisor, summed in double as on the CPU.
__global__ void MeanKernel(const double* values, int64_t n, double inv_divisor, float* mean) {
  __shared__ double shared[kBlock];
  double sum = 0.0;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) sum += values[i];
  sum = BlockReduce(sum, shared, SumOp());
  if (threadIdx.x == 0) *mean = static_cast<float>(sum * inv_divisor);
}

// A row counts when fewer than k logits are strictly greater than its label's (cpu/softmax_xent.h).
__global__ void TopKKernel(const float* logits, const int32_t* labels, int64_t n, int64_t classes,
                           int64_t k, float* correct) {
  for (int64_t row = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; row < n;
       row += int64_t{gridDim.x} * blockDim.x) {
    const float* z = logits + row * classes;
    const float target = z[labels[row]];
    int64_t greater = 0;
    for (int64_t j = 0; j < classes; ++j) greater += z[j] > target ? 1 : 0;
    // Exact: float holds every count up to 2^24, far beyond a batch.
    if (greater < k) atomicAdd(correct, 1.0f);
  }
}

// Bytes rounded up to 256, the alignment cudaMalloc gives, for carving the staging buffer.
size_t Aligned(size_t bytes) { return (bytes + 255) / 256 * 256; }

}  // namespace

void SoftmaxCrossEntropy(int device, const float* logits, const int32_t* host_labels, int64_t n,
                         int64_t classes, int64_t divisor, float* dlogits, float* out) {
  const double inv_divisor = 1.0 / static_cast<double>(divisor);
  Context& ctx = GetContext(device);
  const size_t label_bytes = Aligned(n * sizeof(int32_t));
  char* staging = static_cast<char*>(ctx.Staging(label_bytes + n * sizeof(double)));
  auto* labels = reinterpret_cast<int32_t*>(staging);
  auto* row_loss = reinterpret_cast<double*>(staging + label_bytes);
  CopyToDevice(device, labels, host_labels, n * sizeof(int32_t));
  SoftmaxXentKernel<<<static_cast<unsigned int>(n), kBlock, 0, StreamOf(ctx)>>>(
      logits, labels, classes, inv_divisor, dlogits, row_loss);
  CUDA_CHECK_LAUNCH("softmaxCrossEntropy");
  MeanKernel<<<1, kBlock, 0, StreamOf(ctx)>>>(row_loss, n, inv_divisor, out);
  CUDA_CHECK_LAUNCH("softmaxCrossEntropy");
}

void TopKCorrect(int device, const float* logits, const int32_t* host_labels, int64_t n,
                 int64_t classes, int64_t k, float* out) {
  Context& ctx = GetContext(device);
  auto* labels = static_cast<int32_t*>(ctx.Staging(n * sizeof(int32_t)));
  CopyToDevice(device, labels, host_labels, n * sizeof(int32_t));
  CUDA_CHECK("topKCorrect", cudaMemsetAsync(out, 0, sizeof *out, StreamOf(ctx)));
  TopKKernel<<<GridFor(n), kBlock, 0, StreamOf(ctx)>>>(logits, labels, n, classes, k, out);
  CUDA_CHECK_LAUNCH("topKCorrect");
}

}  // namespace alexnet::cuda
