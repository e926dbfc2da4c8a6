/** alexnet-cudnn: AlexNet for Node.js on a native CPU backend and cuDNN. */
export * from './errors';
export { type AugmentOptions, augment, type ImageSize } from './ops/augment';
export { biasAdd, biasBackward } from './ops/bias';
export { ConvPlan, type ConvShape } from './ops/conv';
export { type DropoutKey, dropoutBackward, dropoutForward } from './ops/dropout';
export { type GemmOptions, gemm } from './ops/gemm';
export { softmaxCrossEntropy, topKCorrect } from './ops/loss';
export { type LrnOptions, LrnPlan } from './ops/lrn';
export { type MaxPoolOptions, MaxPoolPlan } from './ops/pool';
export { reluBackward, reluForward } from './ops/relu';
export { type SgdStep, sgdUpdate } from './ops/sgd';
export { type Device, Tensor } from './tensor';
