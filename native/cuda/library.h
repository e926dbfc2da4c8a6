// cuDNN and cuBLAS, opened at run time so that the addon loads on machines without them.
//
// Where they are looked for, in order:
//   1. the folders in ALEXNET_CUDA_LIBS (colon-separated), e.g. a cuDNN or CUDA install's lib64;
//   2. the dynamic loader's search path (LD_LIBRARY_PATH, ld.so.cache);
//   3. the lib folders of the NVIDIA Python wheels (nvidia-cudnn-cu13 / -cu12, nvidia-cublas /
//      nvidia-cublas-cu12) of the `python3` on the PATH, when it has them.
// cuDNN 9 is split into sub-libraries that libcudnn.so.9 opens itself; when it is found in a
// folder, the sub-libraries there are opened first so that it finds them whatever its RPATH.
#pragma once

#include <string>

#include "cuda/cublas_api.h"
#include "cuda/cudnn_api.h"

namespace alexnet::cuda {

// The loaded API, opened on first use; throws std::runtime_error naming every path tried and
// what to set when the library cannot be found or lacks a function.
const cudnn::Api& Cudnn();
const cublas::Api& Cublas();

// Where each library was loaded from ("cuDNN 9.10.2 from /path"; empty when it was not), and
// why a library could not be loaded (empty when both were).
struct LibraryStatus {
  std::string cudnn;
  std::string cublas;
  std::string error;
};
LibraryStatus ProbeLibraries();

}  // namespace alexnet::cuda
