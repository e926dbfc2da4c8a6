// The addon's module file: creates this environment's state and registers the Tensor class,
// every op family and flush(), nothing else.
#include <napi.h>

#include "bindings/bindings.h"
#include "core/args.h"
#include "core/environment.h"
#include "core/tensor.h"
#include "cpu/thread_pool.h"

namespace alexnet {

// flush(): a Promise settled once every op queued so far in this environment has finished.
Napi::Value Flush(const Napi::CallbackInfo& info) {
  return EnvironmentOf(info.Env()).executor->Flush(info.Env());
}

// flushSync(): blocks until every op queued so far in this environment has run.
void FlushSync(const Napi::CallbackInfo& info) {
  WaitForQueue(info.Env(), *EnvironmentOf(info.Env()).executor);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData(new Environment());
  Tensor::Register(env, exports);
  RegisterGemm(env, exports);
  RegisterDropout(env, exports);
  RegisterLoss(env, exports);
  RegisterSgd(env, exports);
  RegisterAdam(env, exports);
  RegisterAugment(env, exports);
  RegisterConv(env, exports);
  RegisterBias(env, exports);
  RegisterRelu(env, exports);
  RegisterLrn(env, exports);
  RegisterPool(env, exports);
  RegisterDevices(env, exports);
  RegisterResize(env, exports);
#if defined(ALEXNET_WITH_MPI)
  RegisterMpi(env, exports);
#endif
#if defined(ALEXNET_WITH_CUDA)
  RegisterNccl(env, exports);
#endif
  // Whether --distributed can work: mpi.h was found when the addon was built.
#if defined(ALEXNET_WITH_MPI)
  exports.Set("mpi", Napi::Boolean::New(env, true));
#else
  exports.Set("mpi", Napi::Boolean::New(env, false));
#endif
  Napi::Array backends = Napi::Array::New(env);
  backends.Set(uint32_t{0}, Napi::String::New(env, "cpu"));
#if defined(ALEXNET_WITH_CUDA)
  // Compiled in; whether a GPU and the libraries are there is asked at run time (lib/device.ts).
  backends.Set(uint32_t{1}, Napi::String::New(env, "cuda"));
#endif
  exports.Set("backends", backends);
  exports.Set("flush", Napi::Function::New<Flush>(env, "flush"));
  exports.Set("flushSync", Napi::Function::New<FlushSync>(env, "flushSync"));
  exports.Set("cpuThreads", Napi::Number::New(env, cpu::ThreadCount()));
  return exports;
}

NODE_API_MODULE(alexnet_native, Init)

}  // namespace alexnet
