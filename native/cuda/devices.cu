#include <cuda_runtime.h>

#include "cuda/devices.h"

namespace alexnet::cuda {

CudaVersions GetCudaVersions() {
  CudaVersions v{0, 0};
  if (cudaDriverGetVersion(&v.driver) != cudaSuccess) v.driver = 0;
  if (cudaRuntimeGetVersion(&v.runtime) != cudaSuccess) v.runtime = 0;
  return v;
}

std::vector<DeviceInfo> ListDevices(std::string* error) {
  std::vector<DeviceInfo> devices;
  int count = 0;
  cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    *error = std::string(cudaGetErrorName(status)) + ": " + cudaGetErrorString(status);
    return devices;
  }
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp prop;
    status = cudaGetDeviceProperties(&prop, i);
    if (status != cudaSuccess) {
      *error = std::string(cudaGetErrorName(status)) + ": " + cudaGetErrorString(status);
      continue;
    }
    devices.push_back({i, prop.name, prop.totalGlobalMem, prop.major, prop.minor});
  }
  return devices;
}

}  // namespace alexnet::cuda
