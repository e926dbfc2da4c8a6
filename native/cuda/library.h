// cuDNN and cuBLAS, opened at run time so that the addon loads on machines without them.
//
// Where they are looked for, in order:
//   1. the folders in ALEXNET_CUDA_LIBS (colon-separated), e.g. a cuDNN or CUDA install's lib64;
//   2. the dynamic loader's search path (LD_LIBRARY_PATH, ld.so.cache);
//   3. the folders given to SetLibraryFolders: lib/cuda-wheels.ts finds the lib folders of the
//      NVIDIA Python wheels when 1 and 2 did not have the libraries (and always before NCCL is
//      opened), and passes them here. The addon itself starts no process.
//
// cuDNN 9 comes first. It is split into sub-libraries that libcudnn.so.9 opens itself; those in
// its folder are opened before it, so that it finds them whatever its RPATH, and each one that
// fails is reported with its dlerror. Then cuBLAS and cuBLASLt of the CUDA major that cuDNN was
// built for (cudnnGetCudartVersion), looked for only once cuDNN's version is known: cuDNN 9 opens
// libcublasLt.so.<major> itself for the legacy convolution API, so a cuBLAS of another major would
// put two cuBLASLt in the process. A cuBLAS or cuBLASLt that reports another CUDA major than
// cuDNN's (cublasGetCudartVersion, cublasLtGetCudartVersion) is refused by name, and so is an NCCL
// (nccl.cc). nvrtc of that major is opened when found (cuDNN's runtime-compiled engines use it)
// and reported when not. A driver that supports an older CUDA than cuDNN's (cudaDriverGetVersion)
// is an error. The versions are read before the other functions are resolved, so a library that
// lacks one is still reported with its version.
#pragma once

#include <string>
#include <vector>

#include "cuda/cublas_api.h"
#include "cuda/cudnn_api.h"

namespace alexnet::cuda {

// The loaded API, opened on first use; throws std::runtime_error naming every path tried and
// what to set when the library cannot be found or lacks a function.
const cudnn::Api& Cudnn();
const cublas::Api& Cublas();

// The CUDA major of the cuDNN in use (or found, when it is unusable), 0 when none was found:
// NCCL must be of it too (nccl.cc).
int CudnnCudaMajor();

// Folders searched after ALEXNET_CUDA_LIBS and the loader path. A library that failed to load
// is tried again on the next use when these changed.
void SetLibraryFolders(const std::vector<std::string>& folders);

// What loading found. Versions are "major.minor[.patch]", empty when unknown.
struct LibraryReport {
  bool ok = false;
  // A library was found in none of the folders (as opposed to found but unusable), so that more
  // folders may help.
  bool not_found = false;
  std::string error;   // why a library could not be loaded, one line per library
  std::string cudnn;   // "cuDNN 9.10.2 from /path"; empty when not loaded
  std::string cublas;  // "cuBLAS 12.8.4 from /path"
  std::string nvrtc;   // the nvrtc path; empty when not found (cuDNN may still run without it)
  std::string cudnn_version;
  std::string cudnn_cuda;  // the CUDA version cuDNN was built against
  std::string cublas_version;
  std::string cublas_cuda;
  std::string driver_cuda;            // the newest CUDA the driver supports; empty without a driver
  std::string runtime_cuda;           // the CUDA runtime linked into the addon
  std::vector<std::string> unopened;  // "libcudnn_cnn.so.9: <dlerror>" for each sub-library
  std::vector<std::string> folders;   // the SetLibraryFolders folders searched
};
LibraryReport ProbeLibraries();

// Opens another NVIDIA library (NCCL's libnccl.so.2) from the same folders, in the same order;
// sets *where to the path it came from, or throws naming every path tried and `packages`.
void* OpenRuntimeLibrary(const std::string& soname, const char* packages, std::string* where);

}  // namespace alexnet::cuda
