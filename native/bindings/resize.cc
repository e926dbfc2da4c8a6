// resampleRgb(src, width, hStart, hCount, hWeights, hTaps, outWidth, vStart, vCount, vWeights,
// vTaps, outHeight, out): the two passes of lib/data/resize.ts on host memory. It runs at once on
// the calling thread (a decode worker, usually), not on the executor: it touches no tensor, and
// its arrays are JavaScript's for the duration of the call. Checked by lib/data/resize.ts.
#include "cpu/resize.h"

#include "bindings/bindings.h"

namespace alexnet {

namespace {

template <typename T>
T* Elements(const Napi::CallbackInfo& info, size_t i) {
  return info[i].As<Napi::TypedArrayOf<T>>().Data();
}

cpu::AxisTaps Taps(const Napi::CallbackInfo& info, size_t i) {
  return {Elements<int32_t>(info, i), Elements<int32_t>(info, i + 1), Elements<double>(info, i + 2),
          info[i + 3].As<Napi::Number>().Int32Value()};
}

void ResampleRgb(const Napi::CallbackInfo& info) {
  cpu::ResampleRgb(Elements<uint8_t>(info, 0), info[1].As<Napi::Number>().Int32Value(),
                   Taps(info, 2), info[6].As<Napi::Number>().Int32Value(), Taps(info, 7),
                   info[11].As<Napi::Number>().Int32Value(), Elements<uint8_t>(info, 12));
}

}  // namespace

void RegisterResize(Napi::Env env, Napi::Object exports) {
  exports.Set("resampleRgb", Napi::Function::New<ResampleRgb>(env, "resampleRgb"));
}

}  // namespace alexnet
