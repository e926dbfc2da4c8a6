#include "core/host_memory.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace alexnet {

namespace {

// 64 bytes: one cache line, and the widest vector load (AVX-512) the CPU kernels issue.
constexpr size_t kAlignment = 64;

#if defined(__linux__)
// Tensors from this size on get their own mapping, 2 MiB aligned and marked for transparent huge
// pages (MADV_HUGEPAGE: the distributions' default, `madvise`, gives them to no one else).
// Streaming reads of fc6's 151 MB of weights were faster from 2 MiB pages than from 4 KiB ones on
// the development VM, and so was the forward pass at batch 1, which spends half its time reading
// fc6-fc8's weights (bench/RESULTS.md): a 4 KiB page costs a page walk, and the hardware
// prefetchers stop at each page's end. The mapping ends at the tensor's last 4 KiB page, so no
// more memory is resident than before: the tail past the last whole 2 MiB stays in small pages.
constexpr size_t kHugePage = size_t{2} << 20;
constexpr size_t kSmallPage = 4096;

size_t MappedBytes(size_t bytes) { return (bytes + kSmallPage - 1) / kSmallPage * kSmallPage; }

// A mapping of MappedBytes(bytes) at a 2 MiB boundary, carved out of one larger by a huge page.
float* MapHuge(size_t bytes) {
  const size_t length = MappedBytes(bytes);
  const size_t reserve = length + kHugePage;
  void* raw = mmap(nullptr, reserve, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) throw std::bad_alloc();
  const uintptr_t start = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t aligned = (start + kHugePage - 1) / kHugePage * kHugePage;
  if (aligned > start) munmap(raw, aligned - start);
  const uintptr_t end = start + reserve;
  if (end > aligned + length)
    munmap(reinterpret_cast<void*>(aligned + length), end - aligned - length);
  // Advice only: without transparent huge pages the mapping keeps small pages.
  madvise(reinterpret_cast<void*>(aligned), length, MADV_HUGEPAGE);
  return reinterpret_cast<float*>(aligned);  // anonymous pages are zeros
}
#endif

}  // namespace

float* AllocateHost(size_t bytes) {
#if defined(__linux__)
  if (bytes >= kHugePage) return MapHuge(bytes);
#endif
  bytes = (bytes + kAlignment - 1) / kAlignment * kAlignment;
  void* ptr = std::aligned_alloc(kAlignment, bytes == 0 ? kAlignment : bytes);
  if (ptr == nullptr) throw std::bad_alloc();
  std::memset(ptr, 0, bytes);
  return static_cast<float*>(ptr);
}

void FreeHost(float* data, size_t bytes) {
#if defined(__linux__)
  if (bytes >= kHugePage) {
    munmap(data, MappedBytes(bytes));
    return;
  }
#endif
  std::free(data);
}

}  // namespace alexnet
