// The addon's state for one JavaScript environment (the main thread or a worker_thread): the
// class constructors that argument checks compare against, and the executor that runs its ops.
// Kept as N-API instance data rather than in globals, so that every environment that loads the
// addon gets its own (a constructor from one environment is not valid in another).
#pragma once

#include <napi.h>

#include <memory>

#include "core/executor.h"

namespace alexnet {

struct Environment {
  std::shared_ptr<Executor> executor = std::make_shared<Executor>();
  Napi::FunctionReference tensor;
  Napi::FunctionReference conv_plan;
  Napi::FunctionReference lrn_plan;
  Napi::FunctionReference pool_plan;
  Napi::FunctionReference packed_weights;

  Environment() = default;
  Environment(const Environment&) = delete;
  Environment& operator=(const Environment&) = delete;
  // The environment is going away: stop running its ops.
  ~Environment() { executor->Stop(); }
};

// This environment's state, created by Init (native/addon.cc).
inline Environment& EnvironmentOf(Napi::Env env) { return *env.GetInstanceData<Environment>(); }

}  // namespace alexnet
