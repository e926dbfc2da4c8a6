// Opens cuDNN and cuBLAS with dlopen and resolves the functions of cudnn_api.h / cublas_api.h.
// The search order and the version rules are described in library.h; every attempt is recorded
// so that a failure says what was tried.
#include "cuda/library.h"

#include <cuda_runtime_api.h>
#include <dlfcn.h>

#include <cstdlib>
#include <mutex>
#include <stdexcept>

namespace alexnet::cuda {

namespace {

constexpr const char* kEnvVar = "ALEXNET_CUDA_LIBS";

// cuDNN 9's sub-libraries (the cuDNN 9 installation guide's list of libcudnn_*.so.9).
const char* const kCudnnParts[] = {
    "libcudnn_graph.so.9",
    "libcudnn_engines_precompiled.so.9",
    "libcudnn_engines_runtime_compiled.so.9",
    "libcudnn_heuristic.so.9",
    "libcudnn_ops.so.9",
    "libcudnn_cnn.so.9",
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

// 12080 -> "12.8" (the CUDA runtime's and driver's encoding: 1000 * major + 10 * minor).
std::string CudaVersion(size_t v) {
  if (v == 0) return "";
  return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10);
}

std::string DlError() {
  const char* e = dlerror();
  return e == nullptr ? "unknown error" : e;
}

std::string PathIn(const std::string& folder, const std::string& soname) {
  return folder.empty() ? soname : folder + "/" + soname;
}

// The folders to search: ALEXNET_CUDA_LIBS, "" (the loader's search path), then `extra`.
std::vector<std::string> SearchFolders(const std::vector<std::string>& extra) {
  std::vector<std::string> folders;
  if (const char* env = std::getenv(kEnvVar)) folders = Split(env, ':');
  folders.push_back("");
  folders.insert(folders.end(), extra.begin(), extra.end());
  return folders;
}

// A library opened from one folder ("" for the loader's search path).
struct Opened {
  void* handle = nullptr;
  std::string folder;
  std::string where;
};

// Opens `soname` from the first of `folders` that has it, after opening `parts` from that same
// folder. Each folder that lacks it goes to `tried`; each part that failed to open in the folder
// where `soname` was found goes to `unopened`.
Opened OpenFirst(const std::vector<std::string>& folders, const std::string& soname,
                 const std::vector<std::string>& parts, std::vector<std::string>* tried,
                 std::vector<std::string>* unopened) {
  for (const std::string& folder : folders) {
    std::vector<void*> opened_parts;
    std::vector<std::string> failed_parts;
    for (const std::string& part : parts) {
      if (void* h = dlopen(PathIn(folder, part).c_str(), RTLD_NOW | RTLD_GLOBAL)) {
        opened_parts.push_back(h);
      } else {
        failed_parts.push_back(PathIn(folder, part) + ": " + DlError());
      }
    }
    const std::string path = PathIn(folder, soname);
    if (void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL)) {
      unopened->insert(unopened->end(), failed_parts.begin(), failed_parts.end());
      return {handle, folder, folder.empty() ? soname + " (loader search path)" : path};
    }
    tried->push_back(path + ": " + DlError());
    for (void* h : opened_parts) dlclose(h);
  }
  return {};
}

std::string NotFound(const std::string& what, const std::vector<std::string>& tried,
                     const char* packages) {
  std::string message = what + " not found. Tried:";
  for (const std::string& t : tried) message += "\n  " + t;
  message += "\nInstall it (" + std::string(packages) + ", or NVIDIA's packages), then set " +
             kEnvVar +
             " to the folder that holds it, or add that folder to LD_LIBRARY_PATH; or use device: "
             "'cpu'. (resolveDevice() and devices() also search python3's NVIDIA wheels.)";
  return message;
}

template <typename Fn>
Fn Resolve(void* handle, const char* symbol, const std::string& where) {
  if (void* f = dlsym(handle, symbol)) return reinterpret_cast<Fn>(f);
  throw std::runtime_error(where + " lacks " + symbol +
                           ": it is too old or not the expected library");
}

// Everything loading found, guarded by g_mutex. The Api tables are written once, when their
// library loaded completely, and never again, so references handed out stay valid.
struct State {
  std::vector<std::string> folders;  // from SetLibraryFolders
  bool attempted = false;
  std::vector<std::string> attempted_folders;
  bool cudnn_ok = false;
  bool cublas_ok = false;
  // The CUDA major of the committed cuDNN: everything else loaded must be of it.
  int cudnn_major = 0;
  std::string cudnn_error;
  std::string cublas_error;
  cudnn::Api cudnn;
  cublas::Api cublas;
  LibraryReport report;
};

std::mutex g_mutex;
State g_state;

// Opens cuDNN and reads its versions into the report, sets *major to the CUDA major it was built
// for (as soon as it is known, so that cuBLAS follows it even when a function is missing), then
// resolves the rest.
void LoadCudnn(State& s, const std::vector<std::string>& folders, int* major) {
  std::vector<std::string> tried;
  const std::vector<std::string> parts(std::begin(kCudnnParts), std::end(kCudnnParts));
  Opened lib = OpenFirst(folders, "libcudnn.so.9", parts, &tried, &s.report.unopened);
  if (lib.handle == nullptr) {
    s.report.not_found = true;
    throw std::runtime_error(
        NotFound("cuDNN 9 (libcudnn.so.9)", tried, "pip install nvidia-cudnn-cu13 or -cu12"));
  }
  const std::string from = "cuDNN from " + lib.where;
  const size_t version = Resolve<cudnn::GetVersionFn>(lib.handle, "cudnnGetVersion", from)();
  const size_t cuda =
      Resolve<cudnn::GetCudartVersionFn>(lib.handle, "cudnnGetCudartVersion", from)();
  // cuDNN 9 encodes its version as 10000 * major + 100 * minor + patch.
  s.report.cudnn_version = std::to_string(version / 10000) + "." +
                           std::to_string(version / 100 % 100) + "." +
                           std::to_string(version % 100);
  s.report.cudnn_cuda = CudaVersion(cuda);
  s.report.cudnn = "cuDNN " + s.report.cudnn_version + " from " + lib.where;
  *major = static_cast<int>(cuda / 1000);
  if (version < 90000) {
    throw std::runtime_error("cuDNN loaded from " + lib.where + " is version " +
                             s.report.cudnn_version + "; cuDNN 9 is required");
  }
  if (s.cudnn_ok && *major != s.cudnn_major) {
    throw std::runtime_error(s.report.cudnn + " is built for CUDA " + s.report.cudnn_cuda +
                             ", but this process already uses a cuDNN for CUDA " +
                             std::to_string(s.cudnn_major) + "; restart it");
  }
  int driver = 0;
  if (cudaDriverGetVersion(&driver) == cudaSuccess && driver > 0 &&
      static_cast<size_t>(driver) / 1000 < cuda / 1000) {
    throw std::runtime_error(
        "cuDNN " + s.report.cudnn_version + " from " + lib.where + " is built for CUDA " +
        s.report.cudnn_cuda + " but the driver supports CUDA " + CudaVersion(driver) +
        " at most: install the cuDNN for CUDA " + std::to_string(driver / 1000) +
        " (nvidia-cudnn-cu" + std::to_string(driver / 1000) + ") or a newer driver");
  }
  cudnn::Api api;
#define ALEXNET_CUDNN_RESOLVE(name, symbol) \
  api.name = Resolve<cudnn::name##Fn>(lib.handle, #symbol, from);
  ALEXNET_CUDNN_FUNCTIONS(ALEXNET_CUDNN_RESOLVE)
#undef ALEXNET_CUDNN_RESOLVE
  if (!s.cudnn_ok) {
    s.cudnn = api;
    s.cudnn_major = *major;
  }
  s.cudnn_ok = true;
}

// Throws naming `what` when it was built for another CUDA major than cuDNN's.
void RequireMajor(const std::string& what, size_t cuda, int major, const State& s) {
  if (cuda == 0 || static_cast<int>(cuda / 1000) == major) return;
  throw std::runtime_error(what + " is built for CUDA " + CudaVersion(cuda) + ", but " +
                           s.report.cudnn + " is built for CUDA " + s.report.cudnn_cuda +
                           ": one process takes one CUDA major for all of them. Install the "
                           "cuBLAS of cuDNN's major, or the cuDNN of cuBLAS's, and put the "
                           "other out of the search (ALEXNET_CUDA_LIBS, LD_LIBRARY_PATH).");
}

// Opens cuBLASLt and cuBLAS of CUDA `major` (cuDNN's), checks that both were built for it, then
// opens nvrtc of that major when it is there.
void LoadCublas(State& s, const std::vector<std::string>& folders, int major) {
  const std::string suffix = ".so." + std::to_string(major);
  std::vector<std::string> tried;
  Opened lib = OpenFirst(folders, "libcublas" + suffix, {"libcublasLt" + suffix}, &tried,
                         &s.report.unopened);
  if (lib.handle == nullptr) {
    s.report.not_found = true;
    throw std::runtime_error(
        NotFound("cuBLAS for CUDA " + std::to_string(major) + " (libcublas" + suffix + ")", tried,
                 major >= 13 ? "pip install nvidia-cublas" : "pip install nvidia-cublas-cu12"));
  }
  const std::string from = "cuBLAS from " + lib.where;
  int parts[3] = {0, 0, 0};
  const cublas::LibraryProperty properties[3] = {cublas::kMajorVersion, cublas::kMinorVersion,
                                                 cublas::kPatchLevel};
  auto get_property = Resolve<cublas::GetPropertyFn>(lib.handle, "cublasGetProperty", from);
  for (int i = 0; i < 3; ++i) get_property(properties[i], &parts[i]);
  const size_t cuda =
      Resolve<cublas::GetCudartVersionFn>(lib.handle, "cublasGetCudartVersion", from)();
  s.report.cublas_version =
      std::to_string(parts[0]) + "." + std::to_string(parts[1]) + "." + std::to_string(parts[2]);
  s.report.cublas_cuda = CudaVersion(cuda);
  s.report.cublas = "cuBLAS " + s.report.cublas_version + " from " + lib.where;
  RequireMajor(s.report.cublas, cuda, major, s);
  // The cuBLASLt that cuBLAS and cuDNN use: the one this process has under that soname.
  if (void* lt =
          dlopen(PathIn(lib.folder, "libcublasLt" + suffix).c_str(), RTLD_NOW | RTLD_GLOBAL)) {
    if (auto lt_cuda = reinterpret_cast<size_t (*)()>(dlsym(lt, "cublasLtGetCudartVersion"))) {
      RequireMajor("cuBLASLt from " + PathIn(lib.folder, "libcublasLt" + suffix), lt_cuda(), major,
                   s);
    }
  }
  cublas::Api api;
#define ALEXNET_CUBLAS_RESOLVE(name, symbol) \
  api.name = Resolve<cublas::name##Fn>(lib.handle, #symbol, from);
  ALEXNET_CUBLAS_FUNCTIONS(ALEXNET_CUBLAS_RESOLVE)
#undef ALEXNET_CUBLAS_RESOLVE
  if (!s.cublas_ok) s.cublas = api;
  s.cublas_ok = true;

  std::vector<std::string> nvrtc_tried;
  Opened nvrtc = OpenFirst(folders, "libnvrtc" + suffix, {}, &nvrtc_tried, &s.report.unopened);
  if (nvrtc.handle != nullptr) {
    s.report.nvrtc = nvrtc.where;
  } else {
    s.report.unopened.push_back("libnvrtc" + suffix +
                                " (cuDNN's runtime-compiled engines): " + nvrtc_tried.back());
  }
}

// One attempt at both libraries with the current folders; later attempts only when the folders
// changed and something is still missing.
void LoadLocked(State& s) {
  if ((s.cudnn_ok && s.cublas_ok) || (s.attempted && s.attempted_folders == s.folders)) return;
  s.attempted = true;
  s.attempted_folders = s.folders;
  s.report = LibraryReport{};
  s.report.folders = s.folders;
  int runtime = 0;
  if (cudaRuntimeGetVersion(&runtime) == cudaSuccess) s.report.runtime_cuda = CudaVersion(runtime);
  int driver = 0;
  if (cudaDriverGetVersion(&driver) == cudaSuccess) s.report.driver_cuda = CudaVersion(driver);
  const std::vector<std::string> folders = SearchFolders(s.folders);

  s.cudnn_error.clear();
  s.cublas_error.clear();
  // cuBLAS follows cuDNN's CUDA major, so it is looked for only once cuDNN's version is known: a
  // cuBLAS kept from before cuDNN was found could be of another major.
  int major = 0;
  try {
    LoadCudnn(s, folders, &major);
  } catch (const std::exception& e) {
    s.cudnn_error = e.what();
  }
  if (s.cudnn_ok) major = s.cudnn_major;
  if (major == 0) {
    s.cublas_error =
        "cuBLAS: not looked for until cuDNN is found (it must be of cuDNN's CUDA major)";
  } else {
    try {
      LoadCublas(s, folders, major);
    } catch (const std::exception& e) {
      s.cublas_error = e.what();
    }
  }
  // The sub-libraries that failed before nvrtc or cuBLASLt were open may open now.
  std::vector<std::string> still;
  for (const std::string& line : s.report.unopened) {
    const std::string path = line.substr(0, line.find(": "));
    if (line.rfind("libnvrtc", 0) == 0 || dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL) == nullptr) {
      still.push_back(line);
    }
  }
  s.report.unopened = still;
  s.report.ok = s.cudnn_ok && s.cublas_ok;
  s.report.error = s.cudnn_error;
  if (!s.cublas_error.empty()) {
    s.report.error += (s.report.error.empty() ? "" : "\n") + s.cublas_error;
  }
}

}  // namespace

const cudnn::Api& Cudnn() {
  std::lock_guard<std::mutex> lock(g_mutex);
  LoadLocked(g_state);
  if (!g_state.cudnn_ok) throw std::runtime_error(g_state.cudnn_error);
  return g_state.cudnn;
}

const cublas::Api& Cublas() {
  std::lock_guard<std::mutex> lock(g_mutex);
  LoadLocked(g_state);
  if (!g_state.cublas_ok) throw std::runtime_error(g_state.cublas_error);
  return g_state.cublas;
}

void SetLibraryFolders(const std::vector<std::string>& folders) {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_state.folders = folders;
}

void* OpenRuntimeLibrary(const std::string& soname, const char* packages, std::string* where) {
  std::vector<std::string> folders;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    folders = SearchFolders(g_state.folders);
  }
  std::vector<std::string> tried;
  std::vector<std::string> unopened;
  Opened lib = OpenFirst(folders, soname, {}, &tried, &unopened);
  if (lib.handle == nullptr) throw std::runtime_error(NotFound(soname, tried, packages));
  *where = lib.where;
  return lib.handle;
}

int CudnnCudaMajor() {
  std::lock_guard<std::mutex> lock(g_mutex);
  LoadLocked(g_state);
  if (g_state.cudnn_ok) return g_state.cudnn_major;
  // A cuDNN found but unusable still names the major the process would follow.
  return std::atoi(g_state.report.cudnn_cuda.c_str());
}

LibraryReport ProbeLibraries() {
  std::lock_guard<std::mutex> lock(g_mutex);
  LoadLocked(g_state);
  return g_state.report;
}

}  // namespace alexnet::cuda
