/**
 * Writes a bvlc_alexnet.npy-structured file from TypeScript, for the full-size test that would
 * need a 244 MB fixture: the same bytes scripts/make_weights_fixture.py's Python2Pickler writes
 * (a .npy 1.0 header for a 0-d object array, then Python 2's protocol-2 pickle of the dict, with
 * Python 2 strings and the same memo puts and gets), checked against that script's small file in
 * test/bvlc.test.ts.
 */
import * as fs from 'node:fs';

export interface FileArray {
  data: Float32Array;
  shape: readonly number[];
}

class Opcodes {
  readonly chunks: Buffer[] = [];
  private memo = 0;

  op(text: string): this {
    this.chunks.push(Buffer.from(text, 'latin1'));
    return this;
  }

  /** BINPUT (LONG_BINPUT past 255); returns the memo index. */
  put(): number {
    const index = this.memo++;
    if (index < 256) this.op(`q${String.fromCharCode(index)}`);
    else {
      const b = Buffer.alloc(5);
      b.write('r', 'latin1');
      b.writeUInt32LE(index, 1);
      this.chunks.push(b);
    }
    return index;
  }

  get(index: number): this {
    if (index < 256) return this.op(`h${String.fromCharCode(index)}`);
    const b = Buffer.alloc(5);
    b.write('j', 'latin1');
    b.writeUInt32LE(index, 1);
    this.chunks.push(b);
    return this;
  }

  int(n: number): this {
    if (n < 256) return this.op(`K${String.fromCharCode(n)}`);
    const b = Buffer.alloc(3);
    b.write('M', 'latin1');
    b.writeUInt16LE(n, 1);
    this.chunks.push(b);
    return this;
  }

  /** A Python 2 str: SHORT_BINSTRING below 256 bytes, BINSTRING above; returns its memo index. */
  str(bytes: Buffer | string): number {
    if (typeof bytes === 'string') bytes = Buffer.from(bytes, 'latin1');
    if (bytes.length < 256) this.op(`U${String.fromCharCode(bytes.length)}`);
    else {
      const b = Buffer.alloc(5);
      b.write('T', 'latin1');
      b.writeInt32LE(bytes.length, 1);
      this.chunks.push(b);
    }
    this.chunks.push(bytes);
    return this.put();
  }
}

/** The .npy bytes of `{name: [W, b]}` as Python 2's numpy saved bvlc_alexnet.npy. */
export function bvlcNpyChunks(layers: [string, [FileArray, FileArray]][]): Buffer[] {
  const p = new Opcodes();
  // _reconstruct(ndarray, (0,), 'b'): the first time with the globals, later from the memo.
  p.op('\x80\x02cnumpy.core.multiarray\n_reconstruct\n');
  const reconstruct = p.put();
  p.op('cnumpy\nndarray\n');
  const ndarray = p.put();
  p.int(0).op('\x85');
  p.put();
  const b = p.str('b');
  const reconstructed = () => {
    p.op('\x87');
    p.put();
    p.op('R');
    p.put();
  };
  reconstructed();
  // The 0-d object array's state: (1, (), dtype('O8'), False, [dict]).
  p.op('(').int(1).op(')cnumpy\ndtype\n');
  const dtype = p.put();
  p.str('O8');
  p.int(0).int(1).op('\x87');
  p.put();
  p.op('R');
  p.put();
  const dtypeState = (order: string, flags: number) => {
    p.op('(').int(3);
    p.str(order);
    p.op('NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xff').int(flags).op('t');
    p.put();
    p.op('b');
  };
  dtypeState('|', 63);
  p.op('\x89]');
  p.put();
  p.op('}');
  p.put();
  p.op('(');
  let float32: number | undefined;
  for (const [name, arrays] of layers) {
    p.str(name);
    p.op(']');
    p.put();
    p.op('(');
    for (const { data, shape } of arrays) {
      p.get(reconstruct).get(ndarray).int(0).op('\x85');
      p.put();
      p.get(b);
      reconstructed();
      p.op('(').int(1);
      if (shape.length <= 3) {
        for (const d of shape) p.int(d);
        p.op(['', '\x85', '\x86', '\x87'][shape.length]);
      } else {
        p.op('(');
        for (const d of shape) p.int(d);
        p.op('t');
      }
      p.put();
      if (float32 === undefined) {
        p.get(dtype);
        p.str('f4');
        p.int(0).int(1).op('\x87');
        p.put();
        p.op('R');
        float32 = p.put();
        dtypeState('<', 0);
      } else {
        p.get(float32);
      }
      p.op('\x89');
      p.str(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
      p.op('t');
      p.put();
      p.op('b');
    }
    p.op('e');
  }
  p.op('uat');
  p.put();
  p.op('b.');
  return [npyHeader("{'descr': '|O', 'fortran_order': False, 'shape': (), }"), ...p.chunks];
}

/** A version 1.0 .npy header, padded with spaces to a multiple of 64 bytes and a newline. */
function npyHeader(dict: string): Buffer {
  const unpadded = 10 + dict.length + 1;
  const text = `${dict}${' '.repeat((64 - (unpadded % 64)) % 64)}\n`;
  const prefix = Buffer.alloc(10);
  prefix.write('\x93NUMPY\x01\x00', 'latin1');
  prefix.writeUInt16LE(text.length, 8);
  return Buffer.concat([prefix, Buffer.from(text, 'latin1')]);
}

export function writeBvlcNpy(file: string, layers: [string, [FileArray, FileArray]][]): void {
  const fd = fs.openSync(file, 'w');
  try {
    for (const chunk of bvlcNpyChunks(layers)) fs.writeSync(fd, chunk);
  } finally {
    fs.closeSync(fd);
  }
}
