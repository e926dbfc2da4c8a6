/**
 * A small, strict reader of Python pickles, for the numpy arrays, dicts, lists and tuples that
 * `.npy` files of Python objects hold (bvlc_alexnet.npy among them). It follows the opcode
 * definitions of CPython's Lib/pickletools.py and numpy's array and dtype pickling
 * (numpy/core/src/multiarray/methods.c, array_reduce / array_setstate; descriptor.c,
 * arraydescr_reduce / arraydescr_setstate), for protocols 2 to 4:
 *
 * - protocol 2 as Python 2 wrote it (names and raw data as Python 2 `str`: SHORT_BINSTRING,
 *   BINSTRING) and as Python 3 writes it (bytes as `_codecs.encode(text, 'latin1')` calls);
 * - protocol 3 (SHORT_BINBYTES, BINBYTES: what `np.save` writes under Python 3);
 * - protocol 4 (FRAME, MEMOIZE, STACK_GLOBAL, SHORT_BINUNICODE).
 *
 * Unpickling normally runs code: GLOBAL names any callable and REDUCE calls it. Here nothing is
 * called. GLOBAL resolves only the names of one allow-list, each to a function written below
 * that builds a plain value; any other name, and any opcode outside the list (INST, OBJ, NEWOBJ,
 * EXT*, ...), is a FormatError naming it. There are two allow-lists:
 *
 * - 'numpy' (the default): the few names numpy's pickles use (an array, a dtype, bytes);
 * - 'torch': the names PyTorch's `torch.load(weights_only=True)` needs for a state_dict
 *   (torch/_weights_only_unpickler.py): collections.OrderedDict,
 *   torch._utils._rebuild_tensor_v2 (and the older _rebuild_tensor), _rebuild_parameter, and
 *   the storage types of float32, float16 and bfloat16. BINPERSID is allowed there, for the
 *   persistent ids `torch.save` gives storages (torch/serialization.py, persistent_id):
 *   `('storage', storage type, key, location, numel[, view metadata])`. A tensor is read as a
 *   TorchTensor: its storage's description, offset, sizes and strides (checked against the
 *   storage's element count); lib/io/pth.ts finds the storage's bytes.
 *
 * Values: None is null, bool and int (when a safe integer) and float are numbers or booleans,
 * unicode text is a string, bytes and Python 2 `str` are Uint8Array (as Python 3's
 * `encoding='bytes'`), lists are arrays, tuples frozen arrays, dicts Maps. Dict keys that are
 * bytes are decoded as Latin-1 (as numpy's `encoding='latin1'` does), so a Python 2 file's
 * 'conv1' key reads as the string 'conv1'.
 */
import { endianness } from 'node:os';
import { FormatError } from '../errors';

/** A numpy array: C order, float32 or float64 numbers, or Python objects. */
export class NumpyArray {
  constructor(
    readonly dtype: NumpyDtypeName,
    readonly shape: readonly number[],
    readonly data: Float32Array | Float64Array | readonly PickleValue[],
  ) {}
}

export type NumpyDtypeName = 'float32' | 'float64' | 'object';

export type PickleKey = string | number;

/** The element types of the storages a 'torch' pickle may name. */
export type TorchDtype = 'float32' | 'float16' | 'bfloat16';

/** A storage as its persistent id describes it: where its bytes are is the caller's business. */
export class TorchStorage {
  constructor(
    readonly dtype: TorchDtype,
    /** Its name in the file: `<archive>/data/<key>`, or its place in the legacy format's list. */
    readonly key: string,
    /** Elements (not bytes) it holds. */
    readonly numel: number,
  ) {}
}

/** A tensor of a 'torch' pickle: a strided view of a storage (offset and strides in elements). */
export class TorchTensor {
  constructor(
    readonly storage: TorchStorage,
    readonly offset: number,
    readonly shape: readonly number[],
    readonly stride: readonly number[],
  ) {}
}

export type PickleValue =
  | null
  | boolean
  | number
  | string
  | Uint8Array
  | NumpyArray
  | TorchTensor
  | readonly PickleValue[]
  | Map<PickleKey, PickleValue>;

/** numpy dtype names as pickled (`np.dtype('f4').__reduce__()`), to what this reader makes. */
const DTYPES: Record<string, { name: NumpyDtypeName; bytes: number }> = {
  f4: { name: 'float32', bytes: 4 },
  f8: { name: 'float64', bytes: 8 },
  O: { name: 'object', bytes: 0 },
  O4: { name: 'object', bytes: 0 },
  O8: { name: 'object', bytes: 0 },
};

/** A dtype between its REDUCE (which names it) and its BUILD (which sets the byte order). */
class DtypeBuilder {
  byteOrder = '|';
  constructor(readonly name: NumpyDtypeName) {}
}

/** An array between `_reconstruct` (an empty ndarray) and its BUILD (shape, dtype, data). */
class ArrayBuilder {
  built?: NumpyArray;
}

/** What REDUCE on an allow-listed global runs instead of Python: it builds a plain value. */
type Reducer = (args: readonly Item[], error: (problem: string) => FormatError) => Item;

/** An allow-listed global; `reduce` is null for one that is only an argument (numpy.ndarray). */
class Global {
  constructor(
    readonly qualifiedName: string,
    readonly reduce: Reducer | null,
  ) {}
}

/**
 * What the stack holds: finished values, and the intermediate objects of numpy's pickles.
 * Tuples may hold intermediates (REDUCE's arguments, BUILD's state), lists and dicts may not.
 */
type Item = PickleValue | DtypeBuilder | ArrayBuilder | Global | TorchStorage | readonly Item[];

function isTuple(item: Item): item is readonly Item[] {
  return Array.isArray(item) && Object.isFrozen(item);
}

function isList(item: Item): item is PickleValue[] {
  return Array.isArray(item) && !Object.isFrozen(item);
}

const OPCODE_NAMES: Record<number, string> = {
  40: 'MARK',
  46: 'STOP',
  48: 'POP',
  49: 'POP_MARK',
  50: 'DUP',
  70: 'FLOAT',
  73: 'INT',
  74: 'BININT',
  75: 'BININT1',
  76: 'LONG',
  77: 'BININT2',
  78: 'NONE',
  80: 'PERSID',
  81: 'BINPERSID',
  82: 'REDUCE',
  83: 'STRING',
  84: 'BINSTRING',
  85: 'SHORT_BINSTRING',
  86: 'UNICODE',
  88: 'BINUNICODE',
  97: 'APPEND',
  98: 'BUILD',
  99: 'GLOBAL',
  100: 'DICT',
  125: 'EMPTY_DICT',
  101: 'APPENDS',
  103: 'GET',
  104: 'BINGET',
  105: 'INST',
  106: 'LONG_BINGET',
  108: 'LIST',
  93: 'EMPTY_LIST',
  111: 'OBJ',
  112: 'PUT',
  113: 'BINPUT',
  114: 'LONG_BINPUT',
  115: 'SETITEM',
  116: 'TUPLE',
  41: 'EMPTY_TUPLE',
  117: 'SETITEMS',
  71: 'BINFLOAT',
  128: 'PROTO',
  129: 'NEWOBJ',
  130: 'EXT1',
  131: 'EXT2',
  132: 'EXT4',
  133: 'TUPLE1',
  134: 'TUPLE2',
  135: 'TUPLE3',
  136: 'NEWTRUE',
  137: 'NEWFALSE',
  138: 'LONG1',
  139: 'LONG4',
  66: 'BINBYTES',
  67: 'SHORT_BINBYTES',
  140: 'SHORT_BINUNICODE',
  141: 'BINUNICODE8',
  142: 'BINBYTES8',
  143: 'EMPTY_SET',
  144: 'ADDITEMS',
  145: 'FROZENSET',
  146: 'NEWOBJ_EX',
  147: 'STACK_GLOBAL',
  148: 'MEMOIZE',
  149: 'FRAME',
  150: 'BYTEARRAY8',
  151: 'NEXT_BUFFER',
  152: 'READONLY_BUFFER',
};

/** numpy's pickles nest tuples three levels deep (array state, shape); 100 is plenty. */
const MAX_TUPLE_DEPTH = 100;

const latin1 = new TextDecoder('latin1');
const hostIsLittleEndian = endianness() === 'LE';
const utf8 = new TextDecoder('utf-8');

/** Which globals a pickle may name: numpy's arrays, or a PyTorch state_dict's tensors. */
export type PickleAllowList = 'numpy' | 'torch';

/**
 * Reads one pickle from `bytes` (it must end exactly at its STOP opcode). `source` names the
 * file in error messages. Throws a FormatError for a truncated or malformed stream, an opcode or
 * global outside the allow-list, or numpy state this reader does not understand. Arrays may
 * share memory with `bytes` (no copy where the data is aligned and in host byte order).
 */
export function unpickle(
  bytes: Uint8Array,
  source: string,
  allow: PickleAllowList = 'numpy',
): PickleValue {
  const { value, end } = unpickleAt(bytes, 0, source, allow);
  if (end !== bytes.length) {
    throw new FormatError(
      `Invalid pickle in ${source}: ${bytes.length - end} bytes follow the STOP opcode (at byte ${end})`,
    );
  }
  return value;
}

/**
 * Reads the pickle that starts at byte `start` of `bytes` and returns it with where it ends
 * (just past its STOP): the legacy `torch.save` format is several pickles in a row.
 */
export function unpickleAt(
  bytes: Uint8Array,
  start: number,
  source: string,
  allow: PickleAllowList = 'numpy',
): { value: PickleValue; end: number } {
  return new Unpickler(bytes, source, start, allow).run();
}

class Unpickler {
  private pos: number;
  private readonly stack: Item[] = [];
  private readonly marks: number[] = [];
  private readonly memo = new Map<number, Item>();
  /** How deeply each tuple nests tuples (1 for a tuple of plain values). */
  private readonly tupleDepth = new WeakMap<readonly Item[], number>();
  /** Each tuple as a value, made once: a memoized tuple may be appended many times. */
  private readonly tupleValues = new WeakMap<readonly Item[], PickleValue>();
  private readonly view: DataView;
  /** Where the opcode being executed starts, for error messages. */
  private at = 0;

  private readonly globals: Record<string, Reducer | null>;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly source: string,
    private readonly start: number,
    private readonly allow: PickleAllowList,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = start;
    this.globals = allow === 'torch' ? TORCH_GLOBALS : GLOBALS;
  }

  private error(problem: string, at = this.at): FormatError {
    return new FormatError(`Invalid pickle in ${this.source}: ${problem} (at byte ${at})`);
  }

  run(): { value: PickleValue; end: number } {
    const first = this.bytes[this.start];
    if (first !== 0x80) {
      throw this.error(
        this.bytes.length <= this.start
          ? 'it is empty'
          : 'it does not start with PROTO: protocols 0 and 1 are not supported (2 to 4 are)',
        this.start,
      );
    }
    for (;;) {
      this.at = this.pos;
      if (this.pos === this.bytes.length) throw this.error('truncated: it ends before STOP');
      const op = this.u8();
      if (op === 0x2e) {
        if (this.stack.length !== 1 || this.marks.length > 0) {
          throw this.error(`STOP with ${this.stack.length} items on the stack (expected 1)`);
        }
        return { value: this.value(this.stack[0], 'the pickled object'), end: this.pos };
      }
      this.execute(op);
    }
  }

  private execute(op: number): void {
    switch (op) {
      case 0x80: {
        const protocol = this.u8();
        if (protocol < 2 || protocol > 4) {
          throw this.error(`unsupported pickle protocol ${protocol} (2 to 4 are supported)`);
        }
        break;
      }
      case 0x95: {
        // A frame is a buffering hint: its opcodes follow inline.
        const length = this.u64();
        if (length > this.bytes.length - this.pos) {
          throw this.error(`truncated: a FRAME of ${length} bytes runs past the end`);
        }
        break;
      }
      case 0x28:
        this.marks.push(this.stack.length);
        break;
      case 0x4e:
        this.push(null);
        break;
      case 0x88:
        this.push(true);
        break;
      case 0x89:
        this.push(false);
        break;
      case 0x4a:
        this.push(this.view.getInt32(this.take(4), true));
        break;
      case 0x4b:
        this.push(this.u8());
        break;
      case 0x4d:
        this.push(this.view.getUint16(this.take(2), true));
        break;
      case 0x8a:
        this.push(this.long(this.u8()));
        break;
      case 0x47:
        // BINFLOAT is big-endian (pickletools: "8-byte IEEE double, big-endian").
        this.push(this.view.getFloat64(this.take(8), false));
        break;
      case 0x55:
      case 0x43:
        this.push(this.slice(this.u8()));
        break;
      case 0x54:
      case 0x42:
        this.push(this.slice(this.u32(op === 0x54)));
        break;
      case 0x58:
        this.push(utf8.decode(this.slice(this.u32(false))));
        break;
      case 0x8c:
        this.push(utf8.decode(this.slice(this.u8())));
        break;
      case 0x29:
        this.push(this.tuple([]));
        break;
      case 0x74:
        this.push(this.tuple(this.popMark()));
        break;
      case 0x85:
      case 0x86:
      case 0x87:
        this.push(this.tuple(this.popN(op - 0x84)));
        break;
      case 0x5d:
        this.push([]);
        break;
      case 0x7d:
        this.push(new Map<PickleKey, PickleValue>());
        break;
      case 0x61:
        this.append(this.popN(1));
        break;
      case 0x65:
        this.append(this.popMark());
        break;
      case 0x73:
        this.setItems(this.popN(2));
        break;
      case 0x75:
        this.setItems(this.popMark());
        break;
      case 0x71:
        this.put(this.u8());
        break;
      case 0x72:
        this.put(this.u32(false));
        break;
      case 0x94:
        this.put(this.memo.size);
        break;
      case 0x68:
        this.get(this.u8());
        break;
      case 0x6a:
        this.get(this.u32(false));
        break;
      case 0x63: {
        const module = this.line();
        this.push(this.global(module, this.line()));
        break;
      }
      case 0x93: {
        const [module, name] = this.popN(2);
        if (typeof module !== 'string' || typeof name !== 'string') {
          throw this.error('STACK_GLOBAL expects two strings (module, name)');
        }
        this.push(this.global(module, name));
        break;
      }
      case 0x52: {
        const [callable, args] = this.popN(2);
        if (!(callable instanceof Global) || !callable.reduce) {
          throw this.error(`REDUCE on ${describeItem(callable)}, which cannot be called`);
        }
        if (!isTuple(args)) {
          throw this.error(`REDUCE of ${callable.qualifiedName} expects a tuple of arguments`);
        }
        this.push(
          callable.reduce(args, (problem) => this.error(`${callable.qualifiedName}: ${problem}`)),
        );
        break;
      }
      case 0x51: {
        if (this.allow !== 'torch') this.unsupported(op);
        const [id] = this.popN(1);
        this.push(this.storage(id));
        break;
      }
      case 0x62: {
        // BUILD sets the state of the object below it, which stays on the stack.
        const [state] = this.popN(1);
        this.build(this.top(), state);
        break;
      }
      default:
        this.unsupported(op);
    }
  }

  private unsupported(op: number): never {
    throw this.error(
      `unsupported opcode 0x${op.toString(16).padStart(2, '0')} (${OPCODE_NAMES[op] ?? 'unknown'}); ` +
        (this.allow === 'torch'
          ? "this reader handles PyTorch state_dicts (torch.load's weights_only=True subset)"
          : 'this reader handles the numpy arrays, dicts, lists and tuples of protocols 2 to 4'),
    );
  }

  /**
   * BINPERSID's storage: `('storage', storage type, key, location, numel)`, plus a sixth
   * element in the legacy format (view metadata, None unless the storage is a view of another,
   * which only PyTorch before 0.4 wrote).
   */
  private storage(id: Item): TorchStorage {
    if (!isTuple(id) || (id.length !== 5 && id.length !== 6) || id[0] !== 'storage') {
      throw this.error(`persistent id ${describeItem(id)} is not a storage's`);
    }
    const [, type, key, location, numel, view] = id;
    const dtype = type instanceof Global ? STORAGE_DTYPES[type.qualifiedName] : undefined;
    if (dtype === undefined)
      throw this.error(`persistent id names ${describeItem(type)}, not a storage type`);
    if (typeof key !== 'string' || typeof location !== 'string') {
      throw this.error("a storage's key and location must be text");
    }
    if (!Number.isSafeInteger(numel) || (numel as number) < 0) {
      throw this.error(`storage ${key} has ${describeItem(numel)} elements`);
    }
    if (view !== undefined && view !== null) {
      throw this.error(
        `storage ${key} is a view of another storage (PyTorch before 0.4), not supported`,
      );
    }
    return new TorchStorage(dtype, key, numel as number);
  }

  private u8(): number {
    return this.bytes[this.take(1)];
  }

  private u32(signed: boolean): number {
    const at = this.take(4);
    const n = signed ? this.view.getInt32(at, true) : this.view.getUint32(at, true);
    if (n < 0) throw this.error(`negative length ${n}`);
    return n;
  }

  private u64(): number {
    const n = this.view.getBigUint64(this.take(8), true);
    if (n > BigInt(Number.MAX_SAFE_INTEGER)) throw this.error(`length ${n} is too large`);
    return Number(n);
  }

  /** Advances over `n` bytes and returns where they start. */
  private take(n: number): number {
    if (n > this.bytes.length - this.pos) {
      throw this.error(
        `truncated: ${OPCODE_NAMES[this.bytes[this.at]]} needs ${n} more bytes at byte ${this.pos} ` +
          `but the pickle ends at byte ${this.bytes.length}`,
      );
    }
    const at = this.pos;
    this.pos += n;
    return at;
  }

  /** `n` bytes as a view of the input (no copy: array data can be large). */
  private slice(n: number): Uint8Array {
    const at = this.take(n);
    return this.bytes.subarray(at, at + n);
  }

  /** A newline-terminated ASCII line (GLOBAL's module and name). */
  private line(): string {
    const end = this.bytes.indexOf(0x0a, this.pos);
    if (end < 0 || end - this.pos > 256) throw this.error('GLOBAL without a newline-ended name');
    const text = latin1.decode(this.bytes.subarray(this.pos, end));
    this.pos = end + 1;
    return text;
  }

  /** LONG1: a little-endian two's-complement integer of `n` bytes. */
  private long(n: number): number {
    const at = this.take(n);
    let value = 0n;
    for (let i = n - 1; i >= 0; --i) value = (value << 8n) | BigInt(this.bytes[at + i]);
    if (n > 0 && this.bytes[at + n - 1] & 0x80) value -= 1n << BigInt(8 * n);
    if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw this.error(`integer ${value} is beyond the range of exact JavaScript numbers`);
    }
    return Number(value);
  }

  private push(item: Item): void {
    this.stack.push(item);
  }

  private popN(n: number): Item[] {
    const floor = this.marks.length > 0 ? this.marks[this.marks.length - 1] : 0;
    if (this.stack.length - floor < n) {
      throw this.error(`${OPCODE_NAMES[this.bytes[this.at]]} needs ${n} items on the stack`);
    }
    return this.stack.splice(this.stack.length - n, n);
  }

  private popMark(): Item[] {
    const mark = this.marks.pop();
    if (mark === undefined) throw this.error(`${OPCODE_NAMES[this.bytes[this.at]]} without MARK`);
    return this.stack.splice(mark);
  }

  private top(): Item {
    const floor = this.marks.length > 0 ? this.marks[this.marks.length - 1] : 0;
    if (this.stack.length <= floor) {
      throw this.error(`${OPCODE_NAMES[this.bytes[this.at]]} on an empty stack`);
    }
    return this.stack[this.stack.length - 1];
  }

  private put(index: number): void {
    this.memo.set(index, this.top());
  }

  private get(index: number): void {
    const item = this.memo.get(index);
    if (item === undefined) throw this.error(`memo entry ${index} was never stored`);
    this.push(item);
  }

  /**
   * A tuple of `items`, refused past MAX_TUPLE_DEPTH levels of nesting: `value` recurses once
   * per level, and a few bytes per level would otherwise overflow the stack.
   */
  private tuple(items: Item[]): readonly Item[] {
    let depth = 1;
    for (const item of items) {
      if (isTuple(item)) depth = Math.max(depth, 1 + (this.tupleDepth.get(item) ?? 1));
    }
    if (depth > MAX_TUPLE_DEPTH) throw this.error(`tuples nested over ${MAX_TUPLE_DEPTH} deep`);
    const tuple = Object.freeze(items);
    this.tupleDepth.set(tuple, depth);
    return tuple;
  }

  /** An item as a finished value: a dtype, global, bare storage or unbuilt array cannot be one. */
  private value(item: Item, where: string): PickleValue {
    if (isTuple(item)) {
      const done = this.tupleValues.get(item);
      if (done) return done;
      const value = Object.freeze(item.map((element) => this.value(element, where)));
      this.tupleValues.set(item, value);
      return value;
    }
    if (item instanceof ArrayBuilder) {
      if (!item.built) throw this.error(`${where} holds a numpy array that was never built`);
      return item.built;
    }
    if (item instanceof DtypeBuilder || item instanceof Global || item instanceof TorchStorage) {
      throw this.error(`${where} holds ${describeItem(item)}, which this reader does not return`);
    }
    return item;
  }

  private append(items: Item[]): void {
    const list = this.top();
    if (!isList(list)) throw this.error(`APPEND to ${describeItem(list)} (expected a list)`);
    for (const item of items) list.push(this.value(item, 'a list'));
  }

  private setItems(items: Item[]): void {
    const dict = this.top();
    if (!(dict instanceof Map))
      throw this.error(`SETITEM on ${describeItem(dict)} (expected a dict)`);
    if (items.length % 2 !== 0) throw this.error('SETITEMS with an odd number of items');
    for (let i = 0; i < items.length; i += 2) {
      dict.set(this.key(items[i]), this.value(items[i + 1], 'a dict'));
    }
  }

  private key(item: Item): PickleKey {
    if (typeof item === 'string' || typeof item === 'number') return item;
    if (item instanceof Uint8Array) return latin1.decode(item);
    throw this.error(`unsupported dict key ${describeItem(item)} (expected text or an integer)`);
  }

  private global(module: string, name: string): Global {
    const qualifiedName = `${module}.${name}`;
    if (!Object.hasOwn(this.globals, qualifiedName)) {
      const what =
        this.allow === 'torch'
          ? "a PyTorch state_dict's tensors (as torch.load's weights_only=True)"
          : 'numpy arrays and dtypes';
      throw this.error(
        `refusing global ${qualifiedName}: only ${what} (${Object.keys(this.globals).join(', ')}) are allowed`,
      );
    }
    return new Global(qualifiedName, this.globals[qualifiedName]);
  }

  private build(target: Item, state: Item): void {
    if (target instanceof DtypeBuilder) {
      // arraydescr_setstate: (version, byteorder, subarray, names, fields, elsize, alignment,
      // flags[, metadata]); only the byte order matters for the dtypes read here.
      if (!isTuple(state) || state.length < 8 || (state[0] !== 3 && state[0] !== 4)) {
        throw this.error(`unsupported numpy dtype state ${describeItem(state)}`);
      }
      const order = text(state[1]);
      if (order !== '<' && order !== '>' && order !== '|') {
        throw this.error(`unsupported numpy byte order ${describeItem(state[1])}`);
      }
      if (state[2] !== null || state[3] !== null || state[4] !== null) {
        throw this.error('numpy structured or sub-array dtypes are not supported');
      }
      target.byteOrder = order;
      return;
    }
    if (target instanceof ArrayBuilder) {
      target.built = this.buildArray(state);
      return;
    }
    if (this.allow === 'torch' && target instanceof Map && state instanceof Map) {
      // An OrderedDict's instance attributes: a state_dict's `_metadata` (module versions),
      // which loading the weights does not need.
      return;
    }
    throw this.error(`BUILD on ${describeItem(target)} (expected a numpy array or dtype)`);
  }

  /**
   * array_setstate: (version, shape, dtype, is_fortran, data), or the version-0 form without
   * the version. `data` is the raw bytes for numbers, a list of the elements for objects.
   */
  private buildArray(state: Item): NumpyArray {
    if (!isTuple(state) || (state.length !== 5 && state.length !== 4)) {
      throw this.error(`unsupported numpy array state ${describeItem(state)}`);
    }
    const [shape, dtype, fortran, data] = state.length === 5 ? state.slice(1) : state;
    if (!isTuple(shape) || !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
      throw this.error(`numpy array shape ${describeItem(shape)} is not a tuple of sizes`);
    }
    const dims = shape as readonly number[];
    if (!(dtype instanceof DtypeBuilder)) {
      throw this.error(`numpy array dtype is ${describeItem(dtype)}, not a dtype`);
    }
    if (fortran !== false && fortran !== 0) {
      throw this.error('Fortran-order numpy arrays are not supported (save a C-order array)');
    }
    const count = dims.reduce((a, b) => a * b, 1);
    if (dtype.name === 'object') {
      if (!isList(data) || data.length !== count) {
        throw this.error(
          `numpy object array of shape (${dims.join(', ')}) needs a list of ${count} elements, ` +
            `not ${describeItem(data)}`,
        );
      }
      return new NumpyArray('object', dims, data);
    }
    if (!(data instanceof Uint8Array)) {
      throw this.error(`numpy ${dtype.name} array data is ${describeItem(data)}, not bytes`);
    }
    const size = dtype.name === 'float32' ? 4 : 8;
    if (data.length !== count * size) {
      throw this.error(
        `numpy ${dtype.name} array of shape (${dims.join(', ')}) needs ${count * size} bytes ` +
          `of data but has ${data.length}`,
      );
    }
    return new NumpyArray(dtype.name, dims, decodeFloats(data, dtype.name, dtype.byteOrder));
  }
}

/**
 * Raw array bytes as numbers in host order. The common case (little-endian data on a
 * little-endian host) is one copy, or none when the bytes happen to be aligned: the weights
 * of bvlc_alexnet.npy are 244 MB.
 */
function decodeFloats(
  data: Uint8Array,
  name: 'float32' | 'float64',
  byteOrder: string,
): Float32Array | Float64Array {
  const size = name === 'float32' ? 4 : 8;
  const count = data.length / size;
  const little = byteOrder !== '>';
  if (little === hostIsLittleEndian) {
    // new Uint8Array(data) copies (Buffer.prototype.slice would not).
    const aligned = data.byteOffset % size === 0 ? data : new Uint8Array(data);
    return name === 'float32'
      ? new Float32Array(aligned.buffer, aligned.byteOffset, count)
      : new Float64Array(aligned.buffer, aligned.byteOffset, count);
  }
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const out = name === 'float32' ? new Float32Array(count) : new Float64Array(count);
  for (let i = 0; i < count; ++i) {
    out[i] = size === 4 ? view.getFloat32(4 * i, little) : view.getFloat64(8 * i, little);
  }
  return out;
}

/** Text from a unicode string or Python 2 str (bytes), else undefined. */
function text(item: Item): string | undefined {
  if (typeof item === 'string') return item;
  if (item instanceof Uint8Array) return latin1.decode(item);
  return undefined;
}

function describeItem(item: Item): string {
  if (item === null) return 'None';
  if (item instanceof Global) return `the global ${item.qualifiedName}`;
  if (item instanceof TorchStorage) return `a ${item.dtype} storage`;
  if (item instanceof TorchTensor) return 'a tensor';
  if (item instanceof DtypeBuilder) return `a numpy dtype (${item.name})`;
  if (item instanceof ArrayBuilder || item instanceof NumpyArray) return 'a numpy array';
  if (item instanceof Uint8Array) return `bytes of length ${item.length}`;
  if (item instanceof Map) return 'a dict';
  if (isTuple(item)) return `a tuple of ${item.length}`;
  if (isList(item)) return `a list of ${item.length}`;
  return `${JSON.stringify(item)} of type ${typeof item}`;
}

// numpy.core.multiarray._reconstruct(ndarray, (0,), b'b'): an empty array that BUILD fills.
const ndarrayReconstruct: Reducer = (args, error) => {
  if (!(args[0] instanceof Global) || args[0].qualifiedName !== 'numpy.ndarray') {
    throw error(`reconstructing ${describeItem(args[0])} (only numpy.ndarray is supported)`);
  }
  return new ArrayBuilder();
};

// numpy.dtype(name, align, copy): align and copy are 0/1 (Python 2) or False/True.
const dtypeReduce: Reducer = (args, error) => {
  const name = text(args[0]);
  const dtype = name === undefined ? undefined : DTYPES[name];
  if (!dtype) {
    throw error(
      `unsupported dtype ${name === undefined ? describeItem(args[0]) : `'${name}'`} ` +
        `(supported: ${Object.keys(DTYPES).join(', ')})`,
    );
  }
  return new DtypeBuilder(dtype.name);
};

// _codecs.encode(text, 'latin1'): how Python 3 pickles bytes under protocol 2.
const codecsEncode: Reducer = (args, error) => {
  const [value, encoding] = args;
  if (typeof value !== 'string' || (encoding !== 'latin1' && encoding !== 'latin-1')) {
    throw error(
      `encoding ${describeItem(value)} as ${describeItem(encoding)} (expected latin1 text)`,
    );
  }
  const out = new Uint8Array(value.length);
  for (let i = 0; i < value.length; ++i) {
    const code = value.charCodeAt(i);
    if (code > 0xff) throw error(`character ${code} is not Latin-1`);
    out[i] = code;
  }
  return out;
};

// bytes(): how Python 3 pickles b'' under protocol 2.
const emptyBytes: Reducer = (args, error) => {
  if (args.length !== 0) throw error('only bytes() without arguments is supported');
  return new Uint8Array(0);
};

/** The globals numpy's pickles use; REDUCE on them builds a value, nothing else is reachable. */
const GLOBALS: Record<string, Reducer | null> = {
  'numpy.core.multiarray._reconstruct': ndarrayReconstruct,
  // numpy 2 renamed numpy.core to numpy._core.
  'numpy._core.multiarray._reconstruct': ndarrayReconstruct,
  'numpy.ndarray': null,
  'numpy.dtype': dtypeReduce,
  '_codecs.encode': codecsEncode,
  '__builtin__.bytes': emptyBytes,
};

/** The storage types a 'torch' pickle may name, by qualified name. */
const STORAGE_DTYPES: Record<string, TorchDtype> = {
  'torch.FloatStorage': 'float32',
  'torch.HalfStorage': 'float16',
  'torch.BFloat16Storage': 'bfloat16',
};

/** A tuple of non-negative safe integers (a tensor's sizes or strides), else undefined. */
function sizes(item: Item): readonly number[] | undefined {
  if (!isTuple(item) || !item.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
    return undefined;
  }
  return item as readonly number[];
}

/**
 * torch._utils._rebuild_tensor(storage, storage_offset, size, stride): a strided view, checked
 * to stay inside the storage's declared elements (torch would read past them).
 */
function rebuildTensor(
  args: readonly Item[],
  error: (problem: string) => FormatError,
): TorchTensor {
  const [storage, offset, size, stride] = args;
  if (!(storage instanceof TorchStorage))
    throw error(`expects a storage, not ${describeItem(storage)}`);
  const shape = sizes(size);
  const strides = sizes(stride);
  if (!Number.isSafeInteger(offset) || (offset as number) < 0 || !shape || !strides) {
    throw error('expects a storage offset and tuples of sizes and strides (non-negative integers)');
  }
  if (shape.length !== strides.length) {
    throw error(`has ${shape.length} sizes but ${strides.length} strides`);
  }
  const empty = shape.includes(0);
  // The last element a view reads, one past the end for an empty one.
  const last = empty
    ? (offset as number)
    : shape.reduce((end, n, i) => end + (n - 1) * strides[i], offset as number) + 1;
  if (!Number.isSafeInteger(last) || last > storage.numel) {
    throw error(
      `a tensor of size (${shape.join(', ')}), stride (${strides.join(', ')}) at offset ${offset} ` +
        `reaches element ${last} of storage ${storage.key}, which holds ${storage.numel}`,
    );
  }
  // A broadcast view (stride 0) may claim more elements than its storage holds; copying it
  // would let a few bytes of file ask for gigabytes, and no state_dict parameter is one.
  const count = shape.reduce((a, b) => a * b, 1);
  if (count > storage.numel) {
    throw error(
      `a tensor of size (${shape.join(', ')}) has ${count} elements, more than its storage ` +
        `${storage.key} holds (${storage.numel}); broadcast views are not supported`,
    );
  }
  return new TorchTensor(storage, offset as number, shape, strides);
}

/**
 * torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad,
 * backward_hooks[, metadata]): the tensor; requires_grad, the hooks (an empty OrderedDict when
 * saved) and the metadata concern autograd, not the values.
 */
const rebuildTensorV2: Reducer = (args, error) => {
  if (args.length !== 6 && args.length !== 7)
    throw error(`expects 6 or 7 arguments, not ${args.length}`);
  if (typeof args[4] !== 'boolean' || !(args[5] instanceof Map)) {
    throw error('expects requires_grad (a bool) and backward hooks (an OrderedDict)');
  }
  return rebuildTensor(args, error);
};

const rebuildTensorV1: Reducer = (args, error) => {
  if (args.length !== 4) throw error(`expects 4 arguments, not ${args.length}`);
  return rebuildTensor(args, error);
};

/** torch._utils._rebuild_parameter(data, requires_grad, backward_hooks): the data. */
const rebuildParameter: Reducer = (args, error) => {
  const [data] = args;
  if (args.length !== 3 || !(data instanceof TorchTensor)) {
    throw error('expects a tensor, requires_grad and backward hooks');
  }
  return data;
};

/** collections.OrderedDict(): an empty dict that SETITEMS fills. */
const orderedDict: Reducer = (args, error) => {
  if (args.length !== 0) throw error('only OrderedDict() without arguments is supported');
  return new Map<PickleKey, PickleValue>();
};

/** The globals a state_dict saved by torch.save uses (torch.load's weights_only subset). */
const TORCH_GLOBALS: Record<string, Reducer | null> = {
  'collections.OrderedDict': orderedDict,
  'torch._utils._rebuild_tensor_v2': rebuildTensorV2,
  'torch._utils._rebuild_tensor': rebuildTensorV1,
  'torch._utils._rebuild_parameter': rebuildParameter,
  ...Object.fromEntries(Object.keys(STORAGE_DTYPES).map((name) => [name, null])),
};
