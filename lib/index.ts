/** alexnet-cudnn: AlexNet for Node.js on a native CPU backend and cuDNN. */
export * from './errors';
export { type GemmOptions, gemm } from './ops/gemm';
export { type LrnOptions, LrnPlan } from './ops/lrn';
export { type MaxPoolOptions, MaxPoolPlan } from './ops/pool';
export { reluBackward, reluForward } from './ops/relu';
export { type Device, Tensor } from './tensor';
