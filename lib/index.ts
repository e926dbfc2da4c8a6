/** alexnet-cudnn: AlexNet for Node.js on a native CPU backend and cuDNN. */

export { CachedDataset, type CachedDatasetOptions } from './data/cached-dataset';
export {
  type Batch,
  channelStats,
  type Dataset,
  type ImageSet,
  InMemoryDataset,
} from './data/dataset';
export { decodeImageJs, type JsDecodeOptions, type RgbImage } from './data/decode-js';
export {
  type DecodeOptions,
  type DecoderChoice,
  type DecoderName,
  decodeImage,
  decoders,
} from './data/decoder';
export { ImageCache, type ImageCacheOptions } from './data/image-cache';
export { DEFAULT_MAX_PIXELS } from './data/image-header';
export { loadMnist } from './data/mnist';
export { resizeImage, resizeShorter, resizeStretch, storedSize } from './data/resize';
export { type RgbStats, rgbStats, symmetricEigen3 } from './data/rgb-stats';
export { type Shard, type Share, shareOf } from './data/shard';
export {
  type DataSource,
  type ImageList,
  type LabelledImage,
  openDataSource,
  readImageList,
  scanImageFolder,
  stratifiedSplit,
  writeImageLists,
} from './data/sources';
export {
  type AddonInfo,
  addonInfo,
  type CudaLibraries,
  cudaLibraries,
  type DeviceInfo,
  type DeviceRequest,
  devices,
  driverTooOld,
  resolveDevice,
} from './device';
export type { AllreduceOptions, Communicator } from './distributed/communicator';
export {
  DataParallel,
  type DataParallelOptions,
  type GradientSync,
} from './distributed/data-parallel';
export { broadcastString, runOnRanks } from './distributed/launch';
export { MpiCommunicator } from './distributed/mpi-communicator';
export { type HostCollectives, NcclCommunicator } from './distributed/nccl-communicator';
export type { CheckResult } from './doctor/compare';
export {
  type DeviceReport,
  type DoctorOptions,
  type DoctorReport,
  doctor,
} from './doctor/doctor';
export type { Environment, GpuInfo, LibraryInfo } from './doctor/environment';
export type { StepTime } from './doctor/step-time';
export * from './errors';
export { readBvlcWeights } from './io/bvlc';
export { readCheckpoint, saveCheckpoint } from './io/checkpoint';
export { imagenetClasses } from './io/imagenet';
export { readWeightsFile, saveModel, weightsFormat } from './io/model-file';
export { exportOnnx, type OnnxOptions } from './io/onnx';
export {
  NumpyArray,
  type PickleValue,
  TorchStorage,
  TorchTensor,
  unpickle,
} from './io/pickle';
export {
  type Normalisation,
  RESIZE_POLICIES,
  type ResizePolicy,
  type ResizeSetting,
} from './io/preprocessing';
export { parsePth, readPth } from './io/pth';
export { readSafetensors, writeSafetensors } from './io/safetensors';
export { SummaryWriter } from './io/tensorboard';
export { AlexNet, type AlexNetOptions } from './nn/alexnet';
export { LAYER_NAMES, type LayerName, type LayerShape, type Preset } from './nn/architecture';
export type { Init } from './nn/initialise';
export type { BackwardHooks, BatchResult, Evaluation } from './nn/pass-types';
export { type AdamStep, adamUpdate } from './ops/adam';
export { type AugmentOptions, augment, type ImageSize } from './ops/augment';
export { biasAdd, biasBackward, reluBiasBackward } from './ops/bias';
export { ConvPlan, type ConvShape } from './ops/conv';
export { type DropoutKey, dropoutBackward, dropoutForward } from './ops/dropout';
export type { Epilogue } from './ops/epilogue';
export { type GemmOptions, gemm } from './ops/gemm';
export {
  queueSoftmaxCrossEntropy,
  queueTopKCorrect,
  type ResultSlot,
  softmaxCrossEntropy,
  topKCorrect,
} from './ops/loss';
export { type LrnOptions, LrnPlan } from './ops/lrn';
export { PackedWeights } from './ops/packed-weights';
export { type MaxPoolOptions, MaxPoolPlan } from './ops/pool';
export { reluBackward, reluForward } from './ops/relu';
export { type SgdStep, sgdUpdate } from './ops/sgd';
export {
  type Classification,
  type Classifier,
  type ClassifyInput,
  type ClassifyOptions,
  type ClassScore,
  classify,
  ResizedClassifier,
} from './predict';
export { flush, flushSync } from './queue';
export { Rng } from './random';
export { type BatcherOptions, DynamicBatcher } from './serve/batcher';
export { ClassifierServer, type ClassifyResponse, type ServeOptions } from './serve/server';
export { type Device, Tensor } from './tensor';
export { Adam, type AdamOptions, AdamW } from './train/adam';
export type { Optimizer, OptimizerKind } from './train/optimizer';
export type { EpochMetrics } from './train/report';
export type { LrSchedule } from './train/schedule';
export { SGD, type SgdOptions } from './train/sgd';
export { Trainer, type TrainerOptions, type TrainResult } from './train/trainer';
export {
  type TrainingBatch,
  type TrainStepOptions,
  trainStep,
  trainStepSync,
} from './train/training-step';
