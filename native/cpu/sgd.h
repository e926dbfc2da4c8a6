// Stochastic gradient descent with momentum and L2 weight decay, in the form of PyTorch's
// torch.optim.SGD (dampening 0, nesterov off; https://pytorch.org/docs/stable/generated/
// torch.optim.SGD.html):
//   g' = g + weight_decay * w;   v = momentum * v + g';   w -= lr * v.
// Krizhevsky et al. (2012, §5) fold lr into the velocity instead (v = 0.9 v - 0.0005 lr w - lr g);
// the two agree while lr is constant, and PyTorch's keeps the velocity independent of a learning
// rate schedule, which is what a checkpoint resumed with another lr expects.
#pragma once

#include <cstdint>

namespace alexnet::cpu {

// One step over n parameters, in place on `param` and `velocity`. When `guard` is not null the
// step is skipped unless *guard is finite: the loss of the batch, so that a step that diverged
// changes no weight without the host reading the loss first.
void SgdUpdate(float* param, const float* grad, float* velocity, int64_t n, float lr,
               float momentum, float weight_decay, const float* guard);

}  // namespace alexnet::cpu
