// Softmax cross-entropy over a batch of logits, and top-k accuracy.
//
// Rows are samples and columns classes (fc8's output). The loss is the mean over the batch of
// -log softmax(z)[label], computed as logsumexp(z) - z[label] with the row maximum subtracted
// before exponentiating, so logits of any magnitude stay finite.
#pragma once

#include <cstdint>

namespace alexnet::cpu {

// Returns the summed loss of the n rows of `logits` (n x classes, row-major) divided by
// `divisor`, and writes its gradient, (softmax(z) - onehot(label)) / divisor, into `dlogits`.
// Accumulates in double. `divisor` is n for the batch mean; a data-parallel rank holding part of
// a global batch passes the global batch size, so that the ranks' results sum to the mean.
double SoftmaxCrossEntropy(const float* logits, const int32_t* labels, int64_t n, int64_t classes,
                           int64_t divisor, float* dlogits);

// How many rows have their label among the k largest logits. A label tied with others counts as
// in the top k when fewer than k logits are strictly greater than its own.
int64_t TopKCorrect(const float* logits, const int32_t* labels, int64_t n, int64_t classes,
                    int64_t k);

}  // namespace alexnet::cpu
