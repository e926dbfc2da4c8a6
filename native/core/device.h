// Where a tensor or plan lives: the CPU, or a CUDA device by index.
#pragma once

#include <napi.h>

#include <string>

namespace alexnet {

enum class DeviceKind { kCpu, kCuda };

struct Device {
  DeviceKind kind = DeviceKind::kCpu;
  int index = 0;
  std::string Name() const;
  bool operator==(const Device& other) const {
    return kind == other.kind && (kind == DeviceKind::kCpu || index == other.index);
  }
};

// The device named `name` ('cpu' or 'cuda:N'), for `what` (a class name in messages). Throws when
// this build has no CUDA backend, or the CUDA device is not there (with the runtime's reason).
Device ParseDevice(Napi::Env env, const std::string& name, const char* what);

}  // namespace alexnet
