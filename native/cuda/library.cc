// Opens cuDNN and cuBLAS with dlopen and resolves the functions of cudnn_api.h / cublas_api.h.
// The search order is described in library.h; every attempt is recorded so that a failure says
// what was tried.
#include "cuda/library.h"

#include <dirent.h>
#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <vector>

namespace alexnet::cuda {

namespace {

constexpr const char* kEnvVar = "ALEXNET_CUDA_LIBS";

struct LibrarySpec {
  const char* display;                  // "cuDNN 9"
  std::vector<const char*> sonames;     // tried in order in each folder
  std::vector<const char*> companions;  // opened first from the same folder, when present
  const char* wheel_hint;               // pip package(s) that ship it
};

// A library opened from one place, with the companions opened beside it.
struct Opened {
  void* main = nullptr;
  std::vector<void*> companions;
  std::string where;
};

std::vector<std::string> Split(const std::string& list, char sep) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= list.size()) {
    size_t end = list.find(sep, start);
    if (end == std::string::npos) end = list.size();
    if (end > start) parts.push_back(list.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

// The lib folders of the NVIDIA wheels of `python3`: <nvidia package path>/*/lib. Asked once.
const std::vector<std::string>& WheelFolders(std::string* note) {
  static std::vector<std::string> folders;
  static std::string why;
  static std::once_flag once;
  std::call_once(once, [] {
    FILE* pipe =
        popen("python3 -c \"import nvidia; print('\\n'.join(nvidia.__path__))\" 2>/dev/null", "r");
    if (pipe == nullptr) {
      why = "python3 could not be started";
      return;
    }
    std::string output;
    char buffer[512];
    while (fgets(buffer, sizeof buffer, pipe) != nullptr) output += buffer;
    int status = pclose(pipe);
    if (status != 0 || output.empty()) {
      why = "python3 has no nvidia wheels (or no python3 on the PATH)";
      return;
    }
    for (const std::string& root : Split(output, '\n')) {
      DIR* dir = opendir(root.c_str());
      if (dir == nullptr) continue;
      while (dirent* entry = readdir(dir)) {
        std::string name = entry->d_name;
        if (name == "." || name == "..") continue;
        std::string lib = root + "/" + name + "/lib";
        DIR* probe = opendir(lib.c_str());
        if (probe != nullptr) {
          closedir(probe);
          folders.push_back(lib);
        }
      }
      closedir(dir);
    }
    if (folders.empty()) why = "python3's nvidia packages have no lib folders";
  });
  *note = why;
  return folders;
}

std::string DlError() {
  const char* e = dlerror();
  return e == nullptr ? "unknown error" : e;
}

// Tries `folder` (empty: the loader's search path) for each soname of `spec`.
bool TryOpen(const LibrarySpec& spec, const std::string& folder, Opened* out,
             std::vector<std::string>* tried) {
  for (const char* soname : spec.sonames) {
    std::string path = folder.empty() ? soname : folder + "/" + soname;
    // Companions of the same major version only: libcublasLt.so.13 beside libcublas.so.13.
    const std::string suffix = std::string(soname).substr(std::string(soname).rfind(".so."));
    for (const char* companion : spec.companions) {
      std::string name = companion;
      if (name.size() < suffix.size() ||
          name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) {
        continue;
      }
      std::string cpath = folder.empty() ? name : folder + "/" + name;
      if (void* h = dlopen(cpath.c_str(), RTLD_NOW | RTLD_GLOBAL)) out->companions.push_back(h);
    }
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL);
    if (handle != nullptr) {
      out->main = handle;
      out->where = folder.empty() ? std::string(soname) + " (loader search path)" : path;
      return true;
    }
    tried->push_back(path + ": " + DlError());
    for (void* h : out->companions) dlclose(h);
    out->companions.clear();
  }
  return false;
}

Opened Open(const LibrarySpec& spec) {
  Opened opened;
  std::vector<std::string> tried;
  if (const char* env = std::getenv(kEnvVar)) {
    for (const std::string& folder : Split(env, ':')) {
      if (TryOpen(spec, folder, &opened, &tried)) return opened;
    }
  }
  if (TryOpen(spec, "", &opened, &tried)) return opened;
  std::string note;
  for (const std::string& folder : WheelFolders(&note)) {
    if (TryOpen(spec, folder, &opened, &tried)) return opened;
  }
  std::string message = std::string(spec.display) + " not found. Tried:";
  for (const std::string& t : tried) message += "\n  " + t;
  if (!note.empty()) message += "\n  Python wheels: " + note;
  message += "\nInstall it (" + std::string(spec.wheel_hint) +
             ", or NVIDIA's packages), then set " + kEnvVar +
             " to the folder that holds it, or add that folder to LD_LIBRARY_PATH; or use device: "
             "'cpu'.";
  throw std::runtime_error(message);
}

// dlsym in the main library, then in its companions (cuDNN 9 exports some functions from its
// sub-libraries only).
void* Resolve(const Opened& lib, const char* symbol, const char* display) {
  if (void* f = dlsym(lib.main, symbol)) return f;
  for (void* h : lib.companions) {
    if (void* f = dlsym(h, symbol)) return f;
  }
  throw std::runtime_error(std::string(display) + " loaded from " + lib.where + " lacks " + symbol +
                           ": it is too old or not the expected library");
}

const LibrarySpec kCudnn{
    "cuDNN 9 (libcudnn.so.9)",
    {"libcudnn.so.9"},
    {"libcudnn_graph.so.9", "libcudnn_engines_precompiled.so.9",
     "libcudnn_engines_runtime_compiled.so.9", "libcudnn_heuristic.so.9", "libcudnn_ops.so.9",
     "libcudnn_cnn.so.9"},
    "pip install nvidia-cudnn-cu13 or nvidia-cudnn-cu12",
};

const LibrarySpec kCublas{
    "cuBLAS 12 or 13 (libcublas.so.13 / .12)",
    {"libcublas.so.13", "libcublas.so.12"},
    {"libcublasLt.so.13", "libcublasLt.so.12"},
    "pip install nvidia-cublas or nvidia-cublas-cu12",
};

struct CudnnLoaded {
  cudnn::Api api;
  std::string where;
  std::string error;
};

struct CublasLoaded {
  cublas::Api api;
  std::string where;
  std::string error;
};

const CudnnLoaded& LoadCudnn() {
  static CudnnLoaded loaded;
  static std::once_flag once;
  std::call_once(once, [] {
    try {
      Opened lib = Open(kCudnn);
#define ALEXNET_CUDNN_RESOLVE(name, symbol) \
  loaded.api.name = reinterpret_cast<cudnn::name##Fn>(Resolve(lib, #symbol, kCudnn.display));
      ALEXNET_CUDNN_FUNCTIONS(ALEXNET_CUDNN_RESOLVE)
#undef ALEXNET_CUDNN_RESOLVE
      size_t version = loaded.api.GetVersion();
      if (version < 90000) {
        throw std::runtime_error("cuDNN loaded from " + lib.where + " is version " +
                                 std::to_string(version) + "; cuDNN 9 is required");
      }
      loaded.where = "cuDNN " + std::to_string(version / 10000) + "." +
                     std::to_string(version / 100 % 100) + "." + std::to_string(version % 100) +
                     " from " + lib.where;
    } catch (const std::exception& e) {
      loaded.api = cudnn::Api{};
      loaded.error = e.what();
    }
  });
  return loaded;
}

const CublasLoaded& LoadCublas() {
  static CublasLoaded loaded;
  static std::once_flag once;
  std::call_once(once, [] {
    try {
      Opened lib = Open(kCublas);
#define ALEXNET_CUBLAS_RESOLVE(name, symbol) \
  loaded.api.name = reinterpret_cast<cublas::name##Fn>(Resolve(lib, #symbol, kCublas.display));
      ALEXNET_CUBLAS_FUNCTIONS(ALEXNET_CUBLAS_RESOLVE)
#undef ALEXNET_CUBLAS_RESOLVE
      loaded.where = "cuBLAS from " + lib.where;
    } catch (const std::exception& e) {
      loaded.api = cublas::Api{};
      loaded.error = e.what();
    }
  });
  return loaded;
}

}  // namespace

const cudnn::Api& Cudnn() {
  const CudnnLoaded& loaded = LoadCudnn();
  if (!loaded.error.empty()) throw std::runtime_error(loaded.error);
  return loaded.api;
}

const cublas::Api& Cublas() {
  const CublasLoaded& loaded = LoadCublas();
  if (!loaded.error.empty()) throw std::runtime_error(loaded.error);
  return loaded.api;
}

LibraryStatus ProbeLibraries() {
  const CudnnLoaded& dnn = LoadCudnn();
  const CublasLoaded& blas = LoadCublas();
  std::string error = dnn.error;
  if (!blas.error.empty()) error += (error.empty() ? "" : "\n") + blas.error;
  return {dnn.where, blas.where, error};
}

}  // namespace alexnet::cuda
