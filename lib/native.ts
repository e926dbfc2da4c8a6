/**
 * Loads the compiled addon and declares its surface. The native functions trust their
 * arguments: call them through lib/tensor.ts and lib/ops, which validate first.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DeviceError } from './errors';
import { builtAddonFile, packageRoot, prebuiltAddonFile } from './package-root';

export { packageRoot };

export interface NativeTensor {
  read(): Float32Array;
  write(data: Float32Array): void;
  fill(value: number): void;
  copyFrom(source: NativeTensor): void;
  dispose(): void;
  readonly shape: number[];
  readonly device: string;
  readonly disposed: boolean;
}

/** A per-shape plan (descriptors, algorithms, scratch sizes) for conv, LRN or pooling. */
export interface NativePlan {
  dispose(): void;
}

/** What opening cuDNN and cuBLAS found (native/cuda/library.h). */
export interface NativeCudaLibraries {
  ok: boolean;
  /** A library was in none of the folders searched (more folders may help). */
  notFound: boolean;
  /** Why a library could not be loaded, one paragraph per library; '' when both were. */
  error: string;
  /** "cuDNN 9.10.2 from /path", "cuBLAS 12.8.4 from /path"; '' when not loaded. */
  cudnn: string;
  cublas: string;
  /** Where nvrtc was opened from; '' when not found (cuDNN's runtime-compiled engines use it). */
  nvrtc: string;
  /** "major.minor[.patch]"; '' when unknown. *Cuda: the CUDA version each was built for. */
  versions: {
    cudnn: string;
    cudnnCuda: string;
    cublas: string;
    cublasCuda: string;
    /** The newest CUDA the driver supports; '' without a driver. */
    driverCuda: string;
    /** The CUDA runtime linked into the addon. */
    runtimeCuda: string;
  };
  /** Each sub-library (cuDNN's parts, cuBLASLt, nvrtc) that did not open, with its dlerror. */
  unopened: string[];
  /** The folders searched after ALEXNET_CUDA_LIBS and the loader path. */
  folders: string[];
  /**
   * Whether cuDNN is kept to deterministic algorithms (the default; ALEXNET_CUDNN_DETERMINISTIC=0
   * allows the others, native/cuda/determinism.h).
   */
  deterministic: boolean;
}

export interface NativeAddon {
  /** A zero-filled tensor, or with `base` a view of base's first elements under `shape`. */
  Tensor: new (
    shape: number[],
    device: string,
    base?: NativeTensor,
  ) => NativeTensor;
  /**
   * Ops, writes and fills are queued and run in order on one native thread per environment;
   * `read()` waits for them (blocking). flush() settles once everything queued so far is done,
   * rejecting with the first native error since the last flush or read.
   */
  flush(): Promise<void>;
  /** flush, blocking the calling thread. */
  flushSync(): void;
  /** Bytes of host memory held by tensors now, in every thread (freed memory after its ops ran). */
  hostMemory(): number;
  /**
   * The two passes of lib/data/resize.ts over an HWC RGB image into `out`, at once on the calling
   * thread (host memory only). Each axis: start, count and weights (taps per output) of its taps.
   */
  resampleRgb(
    src: Uint8Array,
    width: number,
    hStart: Int32Array,
    hCount: Int32Array,
    hWeights: Float64Array,
    hTaps: number,
    outWidth: number,
    vStart: Int32Array,
    vCount: Int32Array,
    vWeights: Float64Array,
    vTaps: number,
    outHeight: number,
    out: Uint8Array,
  ): void;
  /** Backends compiled into this build, e.g. ['cpu'] or ['cpu', 'cuda']. */
  backends: string[];
  cpuThreads: number;
  /** The GEMM micro-kernel picked for this CPU: 'avx512', 'avx2' or 'generic'. */
  gemmIsa: string;
  /**
   * The CPU backend's peak GFLOP/s with that kernel's instructions: fused multiply-adds on
   * registers on every thread. Blocks for about a second; for the benches.
   */
  measurePeakGflops(): number;
  /** GB/s of a streaming read of memory on the CPU backend's threads; blocks about a second. */
  measureReadBandwidth(): number;
  /** Present when the addon was built with nvcc: the visible CUDA devices, or why there are none. */
  cudaDevices?: () => {
    devices: { index: number; name: string; memory: number; compute: string }[];
    error: string;
    /** 1000 * major + 10 * minor: the newest CUDA the driver supports (0 without a driver). */
    driverCuda: number;
    /** The CUDA runtime linked into the addon, which needs a driver of at least its major. */
    runtimeCuda: number;
  };
  /**
   * Present when built with nvcc: opens cuDNN and cuBLAS (ALEXNET_CUDA_LIBS, the loader path,
   * then `folders` when given; lib/device.ts passes the NVIDIA wheels' folders) and says where
   * they came from, or what was tried.
   */
  cudaLibraries?: (folders?: string[]) => NativeCudaLibraries;
  /** The convolution algorithms chosen on a CUDA device so far (cuDNN's enum values). */
  cudaConvAlgorithms?: (index: number) => {
    pass: 'fwd' | 'bwd_data' | 'bwd_filter';
    shape: string;
    algo: number;
    workspace: number;
    /** cudnnMathType_t as the search reported it: 0 default, 3 FMA (1 and 2 are tensor-op math). */
    mathType: number;
    /** Whether cuDNN reported it deterministic. */
    deterministic: boolean;
  }[];
  /** Bytes of device memory held through the addon (tensors, workspace, staging), and the peak. */
  cudaMemory?: (index: number) => { allocated: number; peak: number };
  cudaResetPeak?: (index: number) => void;
  /** Waits for every op queued on the device's stream (for timing). */
  cudaSynchronize?: (index: number) => void;

  /** With the CUDA backend: NCCL's unique id, made by rank 0 and sent to the others. */
  ncclUniqueId?: () => Uint8Array;
  /** Joins the NCCL communicator of `size` ranks on CUDA device `device`; returns its index. */
  ncclInit?: (id: Uint8Array, rank: number, size: number, device: number) => number;
  /**
   * Queued: sums each CUDA tensor over the ranks in place, on the device's communication stream
   * after the ops queued before it, beside the ops queued after it.
   */
  ncclAllreduceTensors?: (comm: number, tensors: NativeTensor[]) => void;
  /** Queued: the ops queued after it wait (on the device) for every sum queued before it. */
  ncclWait?: (comm: number) => void;
  /** "NCCL 2.x.y from /path" (opens libnccl.so.2 when not yet open). */
  ncclDescription?: () => string;
  /** Destroys the communicator once the queued ops and sums ran. */
  ncclDestroy?: (comm: number) => void;

  /** Whether the MPI backend was built (mpi.h found at install time); the mpi* functions then exist. */
  mpi: boolean;
  /** Initialises MPI on its own thread, once per process (native/mpi/world.h). */
  mpiInit?: () => { rank: number; size: number; localRank: number; localSize: number };
  /** Queued: sums each CPU tensor over the ranks in place; handed to the MPI thread with overlap. */
  mpiAllreduceTensors?: (tensors: NativeTensor[], overlap: boolean) => void;
  /** Queued: waits for every reduction handed to the MPI thread so far. */
  mpiWaitReductions?: () => void;
  /** Sums (or with max, takes the maximum of) values over the ranks in place; blocks. */
  mpiAllreduceHost?: (values: Float64Array, max: boolean) => void;
  /** Rank root's bytes into every rank's; blocks. */
  mpiBroadcast?: (bytes: Uint8Array, root: number) => void;
  /** Ends every rank of the job with this exit code. */
  mpiAbort?: (code: number) => never;
  /** Waits for the queue, then MPI_Finalize. */
  mpiFinalize?: () => void;

  gemm(
    a: NativeTensor,
    b: NativeTensor,
    c: NativeTensor,
    transA: boolean,
    transB: boolean,
    m: number,
    n: number,
    k: number,
    alpha: number,
    beta: number,
    /** Added to each row of C (one value per column), after the product; null for none. */
    bias: NativeTensor | null,
    /** max(C, 0) after the bias. */
    relu: boolean,
  ): void;

  // The op set below is the contract both backends implement. Outputs are allocated by the
  // caller; plans are built once per shape. Argument order: inputs, then outputs.

  /** Convolution plan: shape (n, c, h, w), k filters of kh x kw, stride, padding, groups. */
  ConvPlan: new (
    n: number,
    c: number,
    h: number,
    w: number,
    k: number,
    kh: number,
    kw: number,
    strideH: number,
    strideW: number,
    padH: number,
    padW: number,
    groups: number,
    device: string,
  ) => NativePlan;
  /** With bias (one per output channel, or null) and relu, the epilogue applied to y. */
  conv2dForward(
    plan: NativePlan,
    x: NativeTensor,
    w: NativeTensor,
    y: NativeTensor,
    bias?: NativeTensor | null,
    relu?: boolean,
  ): void;
  conv2dBackwardData(plan: NativePlan, w: NativeTensor, dy: NativeTensor, dx: NativeTensor): void;
  conv2dBackwardFilter(plan: NativePlan, x: NativeTensor, dy: NativeTensor, dw: NativeTensor): void;
  /**
   * What each pass of a plan runs on the CPU backend, 'direct' (native/cpu/conv_direct.h),
   * 'winograd' (the forward with ALEXNET_CONV_ALGO=winograd, native/cpu/conv_winograd.h) or
   * 'im2col' (im2col + GEMM), and the direct kernels' instruction set; for tests and benches.
   */
  convAlgorithms(plan: NativePlan): {
    forward: string;
    backwardData: string;
    backwardFilter: string;
    isa: string;
  };
  /** y[n, c, ...] += b[c], in place. */
  biasForward(y: NativeTensor, b: NativeTensor): void;
  /** db[c] = sum of dy[n, c, ...] over n and the spatial positions. */
  biasBackward(dy: NativeTensor, db: NativeTensor): void;
  /** dy = 0 where y <= 0, in place; then, where db is not null, db as biasBackward. */
  reluBiasBackward(y: NativeTensor, dy: NativeTensor, db: NativeTensor | null): void;

  reluForward(x: NativeTensor, y: NativeTensor): void;
  reluBackward(y: NativeTensor, dy: NativeTensor, dx: NativeTensor): void;

  /** LRN across channels; alpha is divided by size (Caffe and cuDNN convention). */
  LrnPlan: new (
    n: number,
    c: number,
    h: number,
    w: number,
    size: number,
    alpha: number,
    beta: number,
    k: number,
    device: string,
  ) => NativePlan;
  lrnForward(plan: NativePlan, x: NativeTensor, y: NativeTensor): void;
  lrnMaxPoolForward(
    plan: NativePlan,
    x: NativeTensor,
    y: NativeTensor,
    kernel: number,
    stride: number,
    pad: number,
  ): void;
  lrnBackward(
    plan: NativePlan,
    x: NativeTensor,
    y: NativeTensor,
    dy: NativeTensor,
    dx: NativeTensor,
  ): void;

  /** A fully connected layer's packed weights (lib/ops/packed-weights.ts). */
  PackedWeights: new (
    device: string,
  ) => NativePlan;
  /** y = x wᵀ and the epilogue, from the packed copy of w, packed again where w changed. */
  gemmPackedWeights(
    packed: NativePlan,
    x: NativeTensor,
    w: NativeTensor,
    y: NativeTensor,
    m: number,
    n: number,
    k: number,
    bias: NativeTensor | null,
    relu: boolean,
  ): void;
  /** Frees the packed copy, after the ops queued before. */
  packedWeightsRelease(packed: NativePlan): void;

  PoolPlan: new (
    n: number,
    c: number,
    h: number,
    w: number,
    kernel: number,
    stride: number,
    pad: number,
    device: string,
  ) => NativePlan;
  /** With keep, the plan keeps each window's argmax (on the CPU). */
  maxPoolForward(plan: NativePlan, x: NativeTensor, y: NativeTensor, keep?: boolean): void;
  /** With kept, the argmax the plan's last forward kept, instead of searching x. */
  maxPoolBackward(
    plan: NativePlan,
    x: NativeTensor,
    y: NativeTensor,
    dy: NativeTensor,
    dx: NativeTensor,
    kept?: boolean,
  ): void;

  /**
   * Inverted dropout; the mask comes from Philox keyed by (seed, layer), counter (step, i), with
   * element i of the tensor at `offset + i` of the mask.
   */
  dropoutForward(
    x: NativeTensor,
    y: NativeTensor,
    p: number,
    seed: number,
    step: number,
    layer: number,
    offset: number,
  ): void;
  dropoutBackward(
    dy: NativeTensor,
    dx: NativeTensor,
    p: number,
    seed: number,
    step: number,
    layer: number,
    offset: number,
  ): void;

  /** Mean softmax cross-entropy over the batch into out[index]; its gradient into dlogits. */
  softmaxCrossEntropy(
    logits: NativeTensor,
    labels: Int32Array,
    dlogits: NativeTensor,
    out: NativeTensor,
    index: number,
    divisor: number,
  ): void;
  /** How many rows have their label among the k largest logits, into out[index]. */
  topKCorrect(
    logits: NativeTensor,
    labels: Int32Array,
    k: number,
    out: NativeTensor,
    index: number,
  ): void;

  /**
   * v = momentum * v + (g + weightDecay * w); w -= lr * v (PyTorch's SGD form); skipped when
   * guard[0] is not finite.
   */
  sgdUpdate(
    param: NativeTensor,
    grad: NativeTensor,
    velocity: NativeTensor,
    lr: number,
    momentum: number,
    weightDecay: number,
    guard?: NativeTensor,
  ): void;

  /**
   * One Adam (decoupled false) or AdamW (true) step on param, the moments and the step count
   * (native/cpu/adam.h); nothing changes when guard[0] is not finite.
   */
  adamUpdate(
    param: NativeTensor,
    grad: NativeTensor,
    expAvg: NativeTensor,
    expAvgSq: NativeTensor,
    step: NativeTensor,
    lr: number,
    beta1: number,
    beta2: number,
    eps: number,
    weightDecay: number,
    decoupled: boolean,
    guard?: NativeTensor,
  ): void;

  /**
   * uint8 HWC RGB images (count x height x width x 3) -> float NCHW crops `out`
   * (count, 3, oh, ow): crop at (y, x), optional mirror, + rgbShift - mean, * scale, RGB or BGR.
   */
  augment(
    images: Uint8Array,
    count: number,
    height: number,
    width: number,
    out: NativeTensor,
    crops: Int32Array,
    mirror: Uint8Array,
    rgbShift: Float32Array,
    mean: Float32Array,
    scale: Float32Array,
    bgr: boolean,
  ): void;
}

/**
 * The addon's file: `ALEXNET_NATIVE_PATH` when set (scripts/test-asan.js points it at the build
 * with AddressSanitizer), else a build from source (build/Release, by `alexnet build`, `npm run
 * build` or a git clone's `npm install`) when there is one, else the binary shipped in the
 * package (scripts/prebuild.js puts it in prebuilds/<platform>-<arch>/).
 */
export function addonFile(): string {
  const chosen = process.env.ALEXNET_NATIVE_PATH;
  if (chosen) return path.resolve(chosen);
  const built = builtAddonFile();
  const prebuilt = prebuiltAddonFile();
  return fs.existsSync(built) || !fs.existsSync(prebuilt) ? built : prebuilt;
}

/** What the shipped binary needs of the machine (prebuilds/<platform>/manifest.json), if known. */
function prebuiltNeeds(file: string): string {
  try {
    const manifest = JSON.parse(
      fs.readFileSync(path.join(path.dirname(file), 'manifest.json'), 'utf8'),
    ) as { glibc?: string; glibcxx?: string };
    const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } };
    const glibc = report?.header?.glibcVersionRuntime;
    const here = glibc ? `; this machine has glibc ${glibc}` : '';
    return ` (it needs glibc ${manifest.glibc} and libstdc++ GLIBCXX_${manifest.glibcxx} or newer${here})`;
  } catch {
    return '';
  }
}

/**
 * Why no addon loads, and what to do: one message, as sharp's loader gives. The prebuilt
 * binaries exist for the platforms under prebuilds/; anywhere else, or where one does not load
 * (an older glibc), `alexnet build` compiles one from source into the package.
 */
function loadError(file: string, error: Error): DeviceError {
  const reason = error.message.split('\n')[0];
  const build =
    '`npx alexnet build` builds it from source into the package, offline ' +
    '(a C++17 compiler, and CMake or else node-gyp for the CPU backend only).';
  const platform = `${process.platform}-${process.arch}`;
  let why: string;
  if (process.env.ALEXNET_NATIVE_PATH) {
    why = `ALEXNET_NATIVE_PATH=${file} does not load: ${reason}`;
  } else if (file === prebuiltAddonFile()) {
    why = `the prebuilt binary for ${platform} does not load here${prebuiltNeeds(file)}: ${reason}`;
  } else if (fs.existsSync(file)) {
    why = `the addon built from source at ${file} does not load: ${reason}`;
  } else {
    const root = path.join(packageRoot(), 'prebuilds');
    const shipped = fs.existsSync(root) ? fs.readdirSync(root).join(', ') : '';
    why = `alexnet-cudnn has no prebuilt binary for ${platform} (${shipped ? `it ships ${shipped}` : 'it ships none'}) and none was built here`;
  }
  return new DeviceError(`Could not load the alexnet-cudnn native addon: ${why}.\n${build}`);
}

function load(): NativeAddon {
  const file = addonFile();
  try {
    return require(file) as NativeAddon;
  } catch (error) {
    throw loadError(file, error as Error);
  }
}

export const native: NativeAddon = load();
