#include "cuda/determinism.h"

#include <cstdlib>
#include <cstring>

namespace alexnet::cuda {

bool DeterministicOnly() {
  static const bool only = [] {
    const char* env = std::getenv("ALEXNET_CUDNN_DETERMINISTIC");
    return env == nullptr || std::strcmp(env, "0") != 0;
  }();
  return only;
}

}  // namespace alexnet::cuda
