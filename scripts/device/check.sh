#!/usr/bin/env bash
# The CUDA backend's check on the GPU machine (../shared/GPU.md), from a working tree carrying
# the .device/ folder that scripts/device/pack.sh made:
#   0. prints nvcc's and the driver's CUDA versions, and stops there when the driver's CUDA major
#      is below nvcc's (nothing this build makes could run);
#   1. unpacks Node;
#   2. builds the addon with CUDA for sm_90 (plain CMake, the headers from node-api-headers) and,
#      separately, the compile-time check of our cuDNN / cuBLAS declarations against the headers
#      of python3's NVIDIA wheels;
#   3. runs alexnet doctor --json (doctor.json), the GPU suite (every op against the CPU backend, the small AlexNet against PyTorch),
#      and the NCCL check (scripts/device/nccl-check.ts: known tensors, a data-parallel step equal
#      to the local one); NCCL missing on the machine is reported, not a failure;
#   4. loads the npm package's prebuilt binary, when pack.sh brought it, and checks it against the
#      CPU with the wheels' cuDNN and cuBLAS (prebuilt-check.ts);
#   5. runs the benchmark, PyTorch then ours, on the bvlc AlexNet at batch 128;
#   6. writes the logs and figures.json to the output folder and prints a short table last, with
#      every check that failed (scripts/device/summary.ts, which reads each JSON file whole).
# Usage: bash scripts/device/check.sh [output folder, default $OUT or .device/out]
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-${OUT:-$root/.device/out}}
mkdir -p "$out"
cd "$root"
status=0
step() { echo "== $*" | tee -a "$out/check.log"; }

# The CUDA versions first: nvcc's (the addon's kernels and static runtime), the driver's (the
# newest CUDA it runs) and the runtime's as the addon reports it after the build, below. A driver
# whose CUDA major is below nvcc's cannot run what this build makes (the runtime would say only
# cudaErrorInsufficientDriver in every check): stop here and say so.
step "CUDA versions"
nvcc_cuda=$(nvcc --version 2>&1 | grep -o 'release [0-9.]*' | grep -o '[0-9.]*$')
driver_cuda=$(nvidia-smi 2>&1 | grep -o 'CUDA Version: [0-9.]*' | grep -o '[0-9.]*$')
{
  echo "nvcc: ${nvcc_cuda:-not found}"
  echo "driver: CUDA ${driver_cuda:-unknown (nvidia-smi failed)}"
} | tee -a "$out/check.log"
if [ -n "$nvcc_cuda" ] && [ -n "$driver_cuda" ] && [ "${driver_cuda%%.*}" -lt "${nvcc_cuda%%.*}" ]; then
  echo "STOP: the driver supports CUDA $driver_cuda; this build (nvcc $nvcc_cuda) needs CUDA" \
    "${nvcc_cuda%%.*} (R580 or newer for CUDA 13). Nothing was built or run." | tee -a "$out/check.log"
  exit 1
fi

step "node"
if [ ! -x .device/bin/node ]; then
  xz -dc .device/bin/node.xz > .device/bin/node && chmod +x .device/bin/node
fi
export PATH="$root/.device/bin:$PATH"
export NODE_PATH="$root/.device/node_modules"
node --version | tee -a "$out/check.log"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 |
  tee -a "$out/check.log"

step "build (sm_${ALEXNET_CUDA_ARCHS:=90})"
export ALEXNET_CUDA_ARCHS
napi_include=$(node -p "require('node-api-headers').include_dir")
build_start=$(date +%s)
if cmake -S . -B build/device -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_JS_INC="$napi_include" \
    -DCMAKE_LIBRARY_OUTPUT_DIRECTORY="$root/build/Release" > "$out/cmake.log" 2>&1 &&
  cmake --build build/device --target alexnet_native -j 16 > "$out/build.log" 2>&1; then
  echo "addon built in $(($(date +%s) - build_start)) s" | tee -a "$out/check.log"
else
  echo "BUILD FAILED: see build.log / cmake.log" | tee -a "$out/check.log"
  tail -30 "$out/build.log" "$out/cmake.log"
  exit 1
fi
grep "alexnet-cudnn" "$out/cmake.log" | tee -a "$out/check.log"
node -e "const l = require('./.device/dist/lib').cudaLibraries();
console.log(JSON.stringify(l && { ...l.versions, cudnn: l.cudnn, cublas: l.cublas, nvrtc: l.nvrtc,
  unopened: l.unopened, wheelSearch: l.wheelSearch, error: l.error }, null, 1))" 2>&1 |
  tee "$out/libraries.json" | tee -a "$out/check.log"
api_check="not run (cudnn.h / cublas_v2.h not found)"
if grep -q "checking the cuDNN / cuBLAS declarations" "$out/cmake.log"; then
  if cmake --build build/device --target alexnet_api_check > "$out/api-check.log" 2>&1; then
    api_check="passed"
  else
    api_check="FAILED (api-check.log)"
    status=1
  fi
fi
echo "API check: $api_check" | tee -a "$out/check.log"

# alexnet doctor first of the checks: its --json is what a user with a GPU would send us, and it
# goes under bench/results/ (issue 22).
step "alexnet doctor"
node .device/dist/scripts/alexnet.js doctor --json > "$out/doctor.json" 2> "$out/doctor.log"
doctor=$?
node -e "console.log(require(process.argv[1]).verdict)" "$out/doctor.json" 2>&1 | tee -a "$out/check.log"
[ "$doctor" -eq 0 ] || status=1

step "gpu suite"
node .device/dist/scripts/device/gpu-check.js --json "$out/gpu-check.json" > "$out/gpu-check.log" 2>&1
suite=$?
cat "$out/gpu-check.log"
[ "$suite" -eq 0 ] || status=1

step "nccl check"
node .device/dist/scripts/device/nccl-check.js > "$out/nccl-check.log" 2>&1
nccl=$?
cat "$out/nccl-check.log"
case $nccl in
  0) nccl_result="passed" ;;
  2) nccl_result="not run ($(tail -1 "$out/nccl-check.log"))" ;;
  *) nccl_result="FAILED (nccl-check.log)"; status=1 ;;
esac
echo "NCCL check: $nccl_result" | tee -a "$out/check.log"
if grep -q "checking the NCCL declarations" "$out/cmake.log"; then
  if cmake --build build/device --target alexnet_nccl_api_check > "$out/nccl-api-check.log" 2>&1; then
    echo "NCCL API check: passed" | tee -a "$out/check.log"
  else
    echo "NCCL API check: FAILED (nccl-api-check.log)" | tee -a "$out/check.log"
    status=1
  fi
fi

step "prebuilt binary"
prebuilt_result="not run (no .device/prebuilt: npm run build:prebuilt before pack.sh)"
if [ -f .device/prebuilt/alexnet_native.node ]; then
  ALEXNET_NATIVE_PATH="$root/.device/prebuilt/alexnet_native.node" \
    node .device/dist/scripts/device/prebuilt-check.js > "$out/prebuilt-check.log" 2>&1
  case $? in
    0) prebuilt_result="passed" ;;
    2) prebuilt_result="not run ($(tail -1 "$out/prebuilt-check.log"))" ;;
    *) prebuilt_result="FAILED (prebuilt-check.log)"; status=1 ;;
  esac
  cat "$out/prebuilt-check.log"
fi
echo "prebuilt check: $prebuilt_result" | tee -a "$out/check.log"

step "benchmark: PyTorch"
# The same cuDNN workspace limit on both sides (gpu-bench.ts explains the measurement).
export ALEXNET_CUDNN_WORKSPACE_MB=${ALEXNET_CUDNN_WORKSPACE_MB:-512}
python3 scripts/bench/gpu_torch.py > "$out/bench-torch.json" 2> "$out/bench-torch.log" || status=1
step "benchmark: ours"
node .device/dist/scripts/bench/gpu-bench.js > "$out/bench-ours.json" 2> "$out/bench-ours.log" || status=1

# The summary reads each JSON file whole (scripts/device/summary.ts; test/device-summary.test.ts).
node .device/dist/scripts/device/summary.js "$out" "$api_check" "$suite" "$nccl_result" \
  "$prebuilt_result" || status=1
exit $status
