// Which algorithm the CPU backend's convolutions run, from ALEXNET_CONV_ALGO (read once per
// process, for tests and benchmarks): "direct" or "im2col" for every pass that can, or
// "winograd", the opt-in forward of conv_winograd.h. Unset (or anything else), each pass takes
// the algorithm measured to win for its shape (conv_direct.h).
#pragma once

#include <cstdlib>
#include <string_view>

namespace alexnet::cpu {

enum class ConvAlgorithm { kMeasured, kDirect, kIm2col, kWinograd };

inline ConvAlgorithm RequestedConvAlgorithm() {
  static const ConvAlgorithm requested = [] {
    const char* env = std::getenv("ALEXNET_CONV_ALGO");
    const std::string_view name = env == nullptr ? "" : env;
    if (name == "direct") return ConvAlgorithm::kDirect;
    if (name == "im2col") return ConvAlgorithm::kIm2col;
    if (name == "winograd") return ConvAlgorithm::kWinograd;
    return ConvAlgorithm::kMeasured;
  }();
  return requested;
}

}  // namespace alexnet::cpu
