#include "cpu/softmax_xent.h"

#include <atomic>
#include <cmath>
#include <vector>

#include "cpu/thread_pool.h"

namespace alexnet::cpu {

double SoftmaxCrossEntropy(const float* logits, const int32_t* labels, int64_t n, int64_t classes,
                           int64_t divisor, float* dlogits) {
  // Per-row losses are summed in row order afterwards, so the result does not depend on how
  // ParallelFor splits the rows.
  std::vector<double> row_loss(n);
  const double inv_n = 1.0 / static_cast<double>(divisor);
  ParallelFor(n, 8, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const float* z = logits + i * classes;
      float* dz = dlogits + i * classes;
      float max = z[0];
      for (int64_t j = 1; j < classes; ++j) max = z[j] > max ? z[j] : max;
      double sum = 0.0;
      for (int64_t j = 0; j < classes; ++j) {
        double e = std::exp(static_cast<double>(z[j]) - max);
        dz[j] = static_cast<float>(e);
        sum += e;
      }
      const int32_t label = labels[i];
      row_loss[i] = std::log(sum) + max - static_cast<double>(z[label]);
      const double to_grad = inv_n / sum;
      for (int64_t j = 0; j < classes; ++j) {
        dz[j] = static_cast<float>(static_cast<double>(dz[j]) * to_grad);
      }
      // The label's entry is recomputed in double: when its probability is near 1 the
      // subtraction cancels, and the float copy above would leave only its rounding error.
      dz[label] =
          static_cast<float>(std::exp(static_cast<double>(z[label]) - max) * to_grad - inv_n);
    }
  });
  double total = 0.0;
  for (double loss : row_loss) total += loss;
  return total * inv_n;
}

int64_t TopKCorrect(const float* logits, const int32_t* labels, int64_t n, int64_t classes,
                    int64_t k) {
  std::atomic<int64_t> correct{0};
  ParallelFor(n, 8, [&](int64_t begin, int64_t end) {
    int64_t local = 0;
    for (int64_t i = begin; i < end; ++i) {
      const float* z = logits + i * classes;
      const float target = z[labels[i]];
      int64_t greater = 0;
      for (int64_t j = 0; j < classes; ++j) greater += z[j] > target;
      local += greater < k;
    }
    correct += local;
  });
  return correct.load();
}

}  // namespace alexnet::cpu
