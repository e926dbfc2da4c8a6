// Host memory for tensors: zeroed, 64-byte aligned, and for large tensors backed by 2 MiB pages
// where Linux allows them.
#pragma once

#include <cstddef>

namespace alexnet {

// `bytes` of zeros, at least 64-byte aligned; throws std::bad_alloc when there is no memory.
float* AllocateHost(size_t bytes);

// Frees what AllocateHost(bytes) returned, given the same `bytes`.
void FreeHost(float* data, size_t bytes);

}  // namespace alexnet
