/** alexnet-cudnn: AlexNet for Node.js on a native CPU backend and cuDNN. */
export * from './errors';
export { biasAdd, biasBackward } from './ops/bias';
export { ConvPlan, type ConvShape } from './ops/conv';
export { type GemmOptions, gemm } from './ops/gemm';
export { type Device, Tensor } from './tensor';
