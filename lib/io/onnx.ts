/**
 * A model as ONNX (https://onnx.ai, onnx/onnx.proto3 and docs/Operators.md), to run in
 * onnxruntime and every other ONNX runtime: opset 13, IR version 7 (the IR of opset 13,
 * onnx/helper.py's VERSION_TABLE), written with lib/io/protobuf.ts. The graph follows the
 * model's layer table one node per layer, named as the layer, each node's output named as the
 * node (the last one 'logits'):
 *
 * - Conv (kernel_shape, strides, pads, group), Relu, MaxPool (3x3, stride 2, floor, as ours);
 * - LRN as one LRN node: ONNX defines it as x / (bias + alpha / size · Σ x²)^beta over `size`
 *   channels centred on c, the convention of Caffe, cuDNN and PyTorch that ours follows, so
 *   alpha, beta, size and k (ONNX's `bias`) pass unchanged;
 * - a Flatten after the last pooling (our Linear flattens C, H, W in memory order, as
 *   Flatten(axis=1) does), then Gemm with transB=1 for each fc (our weights are (out, in));
 * - Dropout, an identity at inference, kept so that names match the layers.
 *
 * The input 'input' is [batch, 3, size, size] float32, already normalised (the preprocessing is
 * in the metadata); the batch axis is the symbolic 'batch' unless a fixed batch is asked for.
 * The weights are initializers under their state_dict names, their bytes raw little-endian.
 * metadata_props holds the class names (JSON), the preset and the preprocessing (JSON).
 */
import { endianness } from 'node:os';
import { fail, integer } from '../validate';
import { writeFileAtomic } from './atomic';
import { ProtoWriter } from './protobuf';

/** The layers an exporter needs to know, as lib/nn/architecture.ts's LAYERS describe them. */
export type OnnxLayerSpec =
  | {
      kind: 'conv';
      name: string;
      stateName: string;
      kernel: number;
      stride: number;
      pad: number;
      groups: number;
    }
  | { kind: 'fc'; name: string; stateName: string }
  | { kind: 'pool'; name: string; kernel: number; stride: number; pad: number }
  | {
      kind: 'lrn';
      name: string;
      options: { size: number; alpha: number; beta: number; k: number };
    }
  | { kind: 'relu' | 'dropout'; name: string };

/** What `exportOnnx` reads from a model (AlexNet is one; this file does not depend on it). */
export interface OnnxExportable {
  readonly arch: { readonly preset: string; readonly inputSize: number; readonly classes: number };
  readonly classNames: readonly string[];
  /** JSON-serialisable: how images become the input, saved in the metadata. */
  readonly normalisation: unknown;
  readonly resize: unknown;
  layerSpecs(): readonly OnnxLayerSpec[];
  parameters(): readonly {
    readonly name: string;
    readonly value: { readonly shape: readonly number[]; toArray(): Float32Array };
  }[];
}

export interface OnnxOptions {
  /** A fixed batch size; omitted, the batch axis is dynamic ('batch'). */
  batch?: number;
}

export const ONNX_OPSET = 13;
const IR_VERSION = 7;
/** onnx.proto's TensorProto.DataType FLOAT and AttributeProto.AttributeType values. */
const FLOAT = 1;
const ATTRIBUTE = { FLOAT: 1, INT: 2, INTS: 7 } as const;
const hostIsLittleEndian = endianness() === 'LE';

/** Writes `net` as an ONNX model to `file` (atomically). */
export async function exportOnnx(
  net: OnnxExportable,
  file: string,
  options: OnnxOptions = {},
): Promise<void> {
  if (typeof file !== 'string' || file === '') fail('non-empty string', 'file', file);
  const batch = options.batch === undefined ? undefined : integer('batch', options.batch, 1);
  await writeFileAtomic(file, [onnxModel(net, batch)]);
}

/** The encoded ModelProto of `net`, with a fixed batch or a dynamic one (undefined). */
export function onnxModel(net: OnnxExportable, batch?: number): Uint8Array {
  const model = new ProtoWriter()
    .varint(1, IR_VERSION)
    .string(2, 'alexnet-cudnn')
    .message(7, graph(net, batch))
    .message(8, new ProtoWriter().string(1, '').varint(2, ONNX_OPSET));
  const metadata: [string, string][] = [
    ['class_names', JSON.stringify(net.classNames)],
    ['preset', net.arch.preset],
    [
      'preprocessing',
      JSON.stringify({
        inputSize: net.arch.inputSize,
        normalisation: net.normalisation,
        resize: net.resize,
      }),
    ],
  ];
  for (const [key, value] of metadata) {
    model.message(14, new ProtoWriter().string(1, key).string(2, value));
  }
  return model.finish();
}

/** The GraphProto: nodes in layer order, the initializers, the input and the output. */
function graph(net: OnnxExportable, batch: number | undefined): ProtoWriter {
  const params = new Map(net.parameters().map((p) => [p.name, p.value]));
  const out = new ProtoWriter();
  const specs = net.layerSpecs();
  const lastPool = specs.map((spec) => spec.kind).lastIndexOf('pool');
  let previous = 'input';
  const initializers: string[] = [];
  for (const [i, spec] of specs.entries()) {
    const output = i === specs.length - 1 ? 'logits' : spec.name;
    const inputs = [previous];
    if (spec.kind === 'conv' || spec.kind === 'fc') {
      inputs.push(`${spec.stateName}.weight`, `${spec.stateName}.bias`);
      initializers.push(`${spec.stateName}.weight`, `${spec.stateName}.bias`);
    }
    out.message(1, node(opType(spec), spec.name, inputs, output, attributes(spec)));
    previous = output;
    if (i === lastPool) {
      // Where torchvision flattens (after its avgpool), and where Caffe's fc6 starts.
      out.message(1, node('Flatten', 'flatten', [previous], 'flatten', [intAttribute('axis', 1)]));
      previous = 'flatten';
    }
  }
  out.string(2, `alexnet_${net.arch.preset}`);
  for (const name of initializers) {
    const value = params.get(name);
    if (!value) fail(`a model with a parameter ${name}`, 'net', net.arch.preset);
    out.message(5, tensor(name, value.shape, value.toArray()));
  }
  const side = net.arch.inputSize;
  out.message(11, valueInfo('input', [batch ?? 'batch', 3, side, side]));
  out.message(12, valueInfo('logits', [batch ?? 'batch', net.arch.classes]));
  return out;
}

function opType(spec: OnnxLayerSpec): string {
  const types = {
    conv: 'Conv',
    fc: 'Gemm',
    pool: 'MaxPool',
    lrn: 'LRN',
    relu: 'Relu',
    dropout: 'Dropout',
  } as const;
  return types[spec.kind];
}

function attributes(spec: OnnxLayerSpec): ProtoWriter[] {
  switch (spec.kind) {
    case 'conv':
      return [
        intsAttribute('kernel_shape', [spec.kernel, spec.kernel]),
        intsAttribute('strides', [spec.stride, spec.stride]),
        intsAttribute('pads', [spec.pad, spec.pad, spec.pad, spec.pad]),
        intAttribute('group', spec.groups),
      ];
    case 'pool':
      return [
        intsAttribute('kernel_shape', [spec.kernel, spec.kernel]),
        intsAttribute('strides', [spec.stride, spec.stride]),
        intsAttribute('pads', [spec.pad, spec.pad, spec.pad, spec.pad]),
      ];
    case 'lrn':
      return [
        floatAttribute('alpha', spec.options.alpha),
        floatAttribute('beta', spec.options.beta),
        floatAttribute('bias', spec.options.k),
        intAttribute('size', spec.options.size),
      ];
    case 'fc':
      return [intAttribute('transB', 1)];
    default:
      return [];
  }
}

/** NodeProto: input 1, output 2, name 3, op_type 4, attribute 5. */
function node(
  opType: string,
  name: string,
  inputs: readonly string[],
  output: string,
  attributes: readonly ProtoWriter[],
): ProtoWriter {
  const out = new ProtoWriter();
  for (const input of inputs) out.string(1, input);
  out.string(2, output).string(3, name).string(4, opType);
  for (const attribute of attributes) out.message(5, attribute);
  return out;
}

/** AttributeProto: name 1, f 2, i 3, ints 8, type 20. */
function intAttribute(name: string, value: number): ProtoWriter {
  return new ProtoWriter().string(1, name).varint(3, value).varint(20, ATTRIBUTE.INT);
}

function floatAttribute(name: string, value: number): ProtoWriter {
  return new ProtoWriter().string(1, name).float(2, value).varint(20, ATTRIBUTE.FLOAT);
}

function intsAttribute(name: string, values: readonly number[]): ProtoWriter {
  const out = new ProtoWriter().string(1, name);
  // Unpacked, as onnx.proto (proto2 syntax) declares `repeated int64 ints`; parsers take both.
  for (const value of values) out.varint(8, value);
  return out.varint(20, ATTRIBUTE.INTS);
}

/** TensorProto: dims 1, data_type 2, name 8, raw_data 9 (little-endian). */
function tensor(name: string, shape: readonly number[], data: Float32Array): ProtoWriter {
  const out = new ProtoWriter();
  for (const dim of shape) out.varint(1, dim);
  const view = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const bytes = hostIsLittleEndian ? view : Buffer.from(view).swap32();
  return out.varint(2, FLOAT).string(8, name).bytes(9, bytes);
}

/**
 * ValueInfoProto (name 1, type 2) of a float tensor: TypeProto.tensor_type 1 { elem_type 1,
 * shape 2 { dim 1 { dim_value 1 | dim_param 2 } } }.
 */
function valueInfo(name: string, dims: readonly (number | string)[]): ProtoWriter {
  const shape = new ProtoWriter();
  for (const dim of dims) {
    const d = new ProtoWriter();
    if (typeof dim === 'number') d.varint(1, dim);
    else d.string(2, dim);
    shape.message(1, d);
  }
  const tensorType = new ProtoWriter().varint(1, FLOAT).message(2, shape);
  return new ProtoWriter().string(1, name).message(2, new ProtoWriter().message(1, tensorType));
}
