/** alexnet-cudnn: AlexNet for Node.js on a native CPU backend and cuDNN. */
export * from './errors';
export { type GemmOptions, gemm } from './ops/gemm';
export { type Device, Tensor } from './tensor';
