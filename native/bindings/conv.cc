// ConvPlan(n, c, h, w, k, kh, kw, strideH, strideW, padH, padW, groups, device) and
// conv2dForward / conv2dBackwardData / conv2dBackwardFilter(plan, inputs..., output); the forward
// takes (bias | null, relu) after its output, its epilogue (cpu::GemmEpilogue). The plan
// holds the shape and, on a CUDA device, the cuDNN descriptors and chosen algorithms
// (native/cuda/conv.cc); on the CPU the scratch (im2col's buffers, or the direct kernels'
// bordered input) is the executor thread's (cpu::ThreadScratch). convAlgorithms(plan) names
// what each pass runs on the CPU (the direct kernels or im2col + GEMM), for the tests and
// benches. lib/ops/conv.ts checks the shapes.
#include "cpu/conv.h"

#include <napi.h>

#include <cstdint>
#include <string>
#include <vector>

#include "bindings/bindings.h"
#include "bindings/plan.h"
#include "core/args.h"
#include "cpu/conv_direct.h"
#include "cpu/conv_phases.h"
#include "cpu/conv_winograd.h"
#include "cpu/gemm.h"
#if defined(ALEXNET_WITH_CUDA)
#include "cuda/ops.h"
#endif

namespace alexnet {

namespace {

struct ConvPlanState {
  ConvShape shape;
  // On the CPU, the forward's weights packed (cpu::ConvPackWeights) and the weights tensor's
  // buffer and version (core/tensor.h) they were packed from; executor thread only. Each forward
  // carries the buffer and version its weights had when it was queued, which identify their
  // contents when it runs (ops run in the order they are queued, and every op queued to write
  // them counted a version), and packs them again first where those differ.
  std::vector<float> packed_weights;
  const void* packed_storage = nullptr;
  uint64_t packed_version = 0;
#if defined(ALEXNET_WITH_CUDA)
  std::shared_ptr<cuda::ConvState> cuda;  // on a CUDA device
#endif
};

class ConvPlan : public PlanHandle<ConvPlan, ConvPlanState> {
 public:
  static constexpr const char* kName = "ConvPlan";
  static constexpr const char* kExpected = "a ConvPlan";
  static constexpr Napi::FunctionReference Environment::*kConstructor = &Environment::conv_plan;

  explicit ConvPlan(const Napi::CallbackInfo& info) : PlanHandle(info) {
    auto state = std::make_shared<ConvPlanState>();
    state->shape = {IntArg(info, 0), IntArg(info, 1), IntArg(info, 2),  IntArg(info, 3),
                    IntArg(info, 4), IntArg(info, 5), IntArg(info, 6),  IntArg(info, 7),
                    IntArg(info, 8), IntArg(info, 9), IntArg(info, 10), IntArg(info, 11)};
    device_ = ParseDevice(info.Env(), info[12].As<Napi::String>().Utf8Value(), kName);
#if defined(ALEXNET_WITH_CUDA)
    if (device_.kind == DeviceKind::kCuda) {
      auto device_lock = LockDevice(device_);
      state->cuda = cuda::CreateConvState(device_.index, state->shape);
    }
#endif
    state_ = std::move(state);
  }
};

// The three passes take (plan, a, b, out) and differ in the kernels they call.
enum class Pass { kForward, kBackwardData, kBackwardFilter };

// The forward's epilogue, from its optional arguments (bias | null, relu): none where neither.
struct Epilogue {
  const float* bias = nullptr;
  bool relu = false;
};

Epilogue EpilogueArgs(const Napi::CallbackInfo& info, size_t i) {
  if (info.Length() <= i + 1) return {};
  return {info[i].IsNull() ? nullptr : TensorData(info, i, "bias"), BoolArg(info, i + 1)};
}

#if defined(ALEXNET_WITH_CUDA)
// The epilogue on a CUDA device: the bias and ReLU ops after cuDNN's convolution.
void CudaEpilogue(const Device& device, const ConvShape& s, const Epilogue& e, float* y) {
  const int64_t positions = static_cast<int64_t>(s.out_h()) * s.out_w();
  if (e.bias) cuda::BiasForward(device.index, s.n, s.k, positions, y, e.bias);
  if (e.relu) cuda::ReluForward(device.index, y, y, s.n * s.k * positions);
}
#endif

template <Pass pass>
void SubmitConv(const Napi::CallbackInfo& info, const char* a_name, const char* b_name,
                const char* out_name) {
  const Device device = ConvPlan::DeviceOf(info, 0);
  // The forward reads w without counting a write (core/tensor.h), so that it does not invalidate
  // its own packed copy; w's buffer and version say which contents that copy must be of.
  const Tensor& b_tensor = UnwrapTensor(info.Env(), info[2], b_name);
  const float* b = pass == Pass::kForward ? b_tensor.read_data() : b_tensor.data();
  Submit(info, device,
         [plan = ConvPlan::Arg(info, 0), a = TensorData(info, 1, a_name), b,
          out = TensorData(info, 3, out_name), device, storage = b_tensor.storage_id(),
          version = b_tensor.version(),
          epilogue = pass == Pass::kForward ? EpilogueArgs(info, 4) : Epilogue{}] {
#if defined(ALEXNET_WITH_CUDA)
           if (plan->cuda) {
             if constexpr (pass == Pass::kForward) {
               cuda::ConvForward(*plan->cuda, a, b, out);
               return CudaEpilogue(device, plan->shape, epilogue, out);
             }
             if constexpr (pass == Pass::kBackwardData) {
               return cuda::ConvBackwardData(*plan->cuda, a, b, out);
             }
             if constexpr (pass == Pass::kBackwardFilter) {
               return cuda::ConvBackwardFilter(*plan->cuda, a, b, out);
             }
           }
#endif
           float* scratch = cpu::ThreadScratch(cpu::ConvScratchSize(plan->shape));
           if constexpr (pass == Pass::kForward) {
             const cpu::GemmEpilogue fused{epilogue.bias, nullptr, epilogue.relu};
             const bool any = epilogue.bias || epilogue.relu;
             std::vector<float>& packed = plan->packed_weights;
             if (packed.empty() || plan->packed_storage != storage ||
                 plan->packed_version != version) {
               plan->packed_storage = nullptr;
               packed.resize(static_cast<size_t>(cpu::ConvPackedWeightsSize(plan->shape)));
               cpu::ConvPackWeights(plan->shape, b, packed.data());
               plan->packed_storage = storage;
               plan->packed_version = version;
             }
             cpu::ConvForward(plan->shape, a, b, out, scratch, any ? &fused : nullptr,
                              packed.data());
           }
           if constexpr (pass == Pass::kBackwardData) {
             cpu::ConvBackwardData(plan->shape, a, b, out, scratch);
           }
           if constexpr (pass == Pass::kBackwardFilter) {
             cpu::ConvBackwardFilter(plan->shape, a, b, out, scratch);
           }
         });
}

void Conv2dForward(const Napi::CallbackInfo& info) {
  SubmitConv<Pass::kForward>(info, "x", "w", "y");
}

void Conv2dBackwardData(const Napi::CallbackInfo& info) {
  SubmitConv<Pass::kBackwardData>(info, "w", "dy", "dx");
}

void Conv2dBackwardFilter(const Napi::CallbackInfo& info) {
  SubmitConv<Pass::kBackwardFilter>(info, "x", "dy", "dw");
}

// { forward, backwardData, backwardFilter }: 'direct' or 'im2col' each, on the CPU, or for the
// forward 'winograd' (opt-in); and isa, the direct kernels' instruction set.
Napi::Value ConvAlgorithms(const Napi::CallbackInfo& info) {
  const ConvShape& shape = ConvPlan::Arg(info, 0)->shape;
  const auto name = [](bool direct) { return direct ? "direct" : "im2col"; };
  Napi::Object result = Napi::Object::New(info.Env());
  result.Set("forward", cpu::ConvWinogradForwardFits(shape)
                            ? "winograd"
                            : name(cpu::ConvDirectForwardFits(shape)));
  result.Set("backwardData", cpu::ConvPhasesBackwardDataFits(shape)
                                 ? "phases"
                                 : name(cpu::ConvDirectBackwardDataFits(shape)));
  result.Set("backwardFilter", name(cpu::ConvDirectBackwardFilterFits(shape)));
  result.Set("isa", cpu::ConvDirectIsa());
  return result;
}

}  // namespace

void RegisterConv(Napi::Env env, Napi::Object exports) {
  ConvPlan::Register(env, exports);
  exports.Set("conv2dForward", Napi::Function::New<Conv2dForward>(env, "conv2dForward"));
  exports.Set("conv2dBackwardData",
              Napi::Function::New<Conv2dBackwardData>(env, "conv2dBackwardData"));
  exports.Set("conv2dBackwardFilter",
              Napi::Function::New<Conv2dBackwardFilter>(env, "conv2dBackwardFilter"));
  exports.Set("convAlgorithms", Napi::Function::New<ConvAlgorithms>(env, "convAlgorithms"));
}

}  // namespace alexnet
