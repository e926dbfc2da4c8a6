// CUDA device enumeration, callable from plain C++ (no CUDA headers here), so the N-API entry
// points compiled by the host compiler can list devices when the CUDA backend is built.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace alexnet::cuda {

struct DeviceInfo {
  int index;
  std::string name;
  size_t total_memory;
  int compute_major;
  int compute_minor;
};

// CUDA versions as 1000 * major + 10 * minor: the newest the driver supports (0 without a
// driver) and the runtime linked into the addon, which needs a driver of at least its major.
struct CudaVersions {
  int driver;
  int runtime;
};
CudaVersions GetCudaVersions();

// The visible CUDA devices. On a machine without a driver or GPU it returns an empty list and
// sets `error` to the runtime's explanation (e.g. "CUDA driver version is insufficient").
std::vector<DeviceInfo> ListDevices(std::string* error);

}  // namespace alexnet::cuda
