/** alexnet-cudnn: AlexNet for Node.js on a native CPU backend and cuDNN. */

export { CachedDataset, type CachedDatasetOptions } from './data/cached-dataset';
export {
  type Batch,
  channelStats,
  type Dataset,
  type ImageSet,
  InMemoryDataset,
  type Normalisation,
} from './data/dataset';
export { decodeImage, type JsDecodeOptions, type RgbImage } from './data/decode';
export {
  type DecodeOptions,
  type DecoderChoice,
  type DecoderName,
  decodeImageAsync,
  decoders,
} from './data/decoder';
export { ImageCache, type ImageCacheOptions } from './data/image-cache';
export { DEFAULT_MAX_PIXELS } from './data/image-header';
export { imagenetClasses } from './data/imagenet';
export { loadMnist } from './data/mnist';
export {
  type ResizePolicy,
  type ResizeSetting,
  resizeImage,
  resizeShorter,
  resizeStretch,
  storedSize,
} from './data/resize';
export { type RgbStats, rgbStats, symmetricEigen3 } from './data/rgb-stats';
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
  resolveDevice,
} from './device';
export type { AllreduceOptions, Communicator } from './distributed/communicator';
export {
  DataParallel,
  type DataParallelOptions,
} from './distributed/data-parallel';
export { broadcastString, runOnRanks } from './distributed/launch';
export { MpiCommunicator } from './distributed/mpi-communicator';
export { type HostCollectives, NcclCommunicator } from './distributed/nccl-communicator';
export { type Shard, type Share, shareOf } from './distributed/shard';
export * from './errors';
export { readBvlcWeights } from './io/bvlc';
export { readCheckpoint, saveCheckpoint } from './io/checkpoint';
export { exportOnnx, type OnnxOptions } from './io/onnx';
export {
  NumpyArray,
  type PickleValue,
  TorchStorage,
  TorchTensor,
  unpickle,
} from './io/pickle';
export { parsePth, readPth } from './io/pth';
export { readSafetensors, writeSafetensors } from './io/safetensors';
export { SummaryWriter } from './io/tensorboard';
export {
  AlexNet,
  type AlexNetOptions,
  type BatchResult,
  type Evaluation,
  type Init,
} from './nn/alexnet';
export { LAYER_NAMES, type LayerName, type LayerShape, type Preset } from './nn/architecture';
export { type AugmentOptions, augment, type ImageSize } from './ops/augment';
export { biasAdd, biasBackward } from './ops/bias';
export { ConvPlan, type ConvShape } from './ops/conv';
export { type DropoutKey, dropoutBackward, dropoutForward } from './ops/dropout';
export { type GemmOptions, gemm } from './ops/gemm';
export {
  queueSoftmaxCrossEntropy,
  queueTopKCorrect,
  type ResultSlot,
  softmaxCrossEntropy,
  topKCorrect,
} from './ops/loss';
export { type LrnOptions, LrnPlan } from './ops/lrn';
export { type MaxPoolOptions, MaxPoolPlan } from './ops/pool';
export { reluBackward, reluForward } from './ops/relu';
export { type SgdStep, sgdUpdate } from './ops/sgd';
export {
  type Classification,
  type Classifier,
  type ClassifyInput,
  type ClassifyOptions,
  type ClassScore,
  ResizedClassifier,
} from './predict';
export { flush, flushSync } from './queue';
export { Rng } from './random';
export { type BatcherOptions, DynamicBatcher } from './serve/batcher';
export { ClassifierServer, type ClassifyResponse, type ServeOptions } from './serve/server';
export { type Device, Tensor } from './tensor';
export type { EpochMetrics } from './train/report';
export type { LrSchedule } from './train/schedule';
export { SGD, type SgdOptions } from './train/sgd';
export { Trainer, type TrainerOptions, type TrainResult } from './train/trainer';
