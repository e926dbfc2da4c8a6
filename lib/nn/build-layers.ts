/**
 * AlexNet's layers, from the preset's table in architecture.ts: each sized by the output of the one
 * before it for one image (batch buffers grow with the batches they see).
 */
import { type Device, sizeOf } from '../tensor';
import { type Architecture, LAYERS, type LayerSpec } from './architecture';
import { Conv2d } from './conv2d';
import { Dropout } from './dropout';
import type { Layer } from './layer';
import { Linear } from './linear';
import { Lrn } from './lrn';
import { MaxPool } from './max-pool';
import { Relu } from './relu';

/** One layer of the table, for an input of `shape`. */
function createLayer(
  spec: LayerSpec,
  arch: Architecture,
  shape: number[],
  device: Device,
  previous: Layer | undefined,
): Layer {
  switch (spec.kind) {
    case 'conv': {
      const { kernel, stride, pad, groups } = spec;
      const outChannels = arch.widths[spec.width];
      const conv = { inChannels: shape[1], outChannels, kernel, stride, pad, groups };
      return new Conv2d(spec.name, conv, shape, device, spec.stateName);
    }
    case 'relu': {
      // A conv or fc layer right before applies it in its forward's epilogue (ops/epilogue.ts).
      const fused = previous instanceof Conv2d || previous instanceof Linear;
      if (fused) previous.fuseRelu();
      return new Relu(spec.name, fused);
    }
    case 'lrn':
      return new Lrn(spec.name, spec.options, shape, device);
    case 'pool': {
      const options = { kernel: spec.kernel, stride: spec.stride, pad: spec.pad };
      // On the CPU, an LRN layer right before runs it in its inference forward (ops/lrn.ts).
      const fused = previous instanceof Lrn && device === 'cpu';
      if (fused) previous.fusePool(options);
      return new MaxPool(spec.name, options, shape, device, fused);
    }
    case 'fc': {
      const features = spec.width === 'classes' ? arch.classes : arch.widths[spec.width];
      return new Linear(spec.name, sizeOf(shape.slice(1)), features, shape, device, spec.stateName);
    }
    case 'dropout':
      return new Dropout(spec.name, arch.dropout, spec.key, shape, device);
  }
}

/** The layers of LAYERS, in order, on `device`. */
export function buildLayers(arch: Architecture, device: Device): Layer[] {
  const layers: Layer[] = [];
  let shape = [1, 3, arch.inputSize, arch.inputSize];
  for (const spec of LAYERS[arch.preset]) {
    const layer = createLayer(spec, arch, shape, device, layers.at(-1));
    layers.push(layer);
    shape = layer.outputShape(shape);
  }
  return layers;
}
