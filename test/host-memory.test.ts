/**
 * Host memory for tensors (native/core/host_memory.h): tensors of 2 MiB and more get a mapping of
 * their own, marked for transparent huge pages on Linux. They must hold zeros when made, as the
 * smaller ones do, whatever an earlier tensor of the same size held, and keep every element up
 * to the last, past the last whole 2 MiB.
 */
import * as fs from 'node:fs';
import { flush } from '../lib/queue';
import { Tensor } from '../lib/tensor';

const MIB = 1 << 20;

/** The Size (kB) and VmFlags of every mapping of this process (proc(5)). */
function mappings(): { kb: number; flags: string[] }[] {
  const found: { kb: number; flags: string[] }[] = [];
  let kb = 0;
  for (const line of fs.readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
    const size = /^Size:\s+(\d+) kB/.exec(line);
    if (size) kb = Number(size[1]);
    if (line.startsWith('VmFlags:')) found.push({ kb, flags: line.split(/\s+/).slice(1) });
  }
  return found;
}

describe('host memory', () => {
  // 3 MiB and 12 KiB: one whole 2 MiB page, and a tail of small pages.
  const floats = (3 * MIB + 12 * 1024) / 4;

  test('a tensor of 2 MiB and more is zeros when made, after one of its size was written and freed', async () => {
    const first = Tensor.zeros([floats]);
    first.fill(7);
    expect(first.toArray()[floats - 1]).toBe(7);
    first.dispose();
    await flush();
    const second = Tensor.zeros([floats]);
    const values = second.toArray();
    expect(values.length).toBe(floats);
    expect(values.findIndex((v) => v !== 0)).toBe(-1);
    const data = new Float32Array(floats);
    for (let i = 0; i < floats; ++i) data[i] = i % 1000;
    second.write(data);
    expect(Buffer.compare(Buffer.from(second.toArray().buffer), Buffer.from(data.buffer))).toBe(0);
    second.dispose();
  });

  // MADV_HUGEPAGE fails, leaving no `hg` flag, on a kernel built without transparent huge pages.
  const thp = fs.existsSync('/sys/kernel/mm/transparent_hugepage/enabled');
  (thp ? test : test.skip)(
    `a tensor of 2 MiB and more is a mapping of its own advised for huge pages${thp ? '' : ' (skipped: no transparent huge pages here, a Linux kernel feature)'}`,
    async () => {
      const kb = (floats * 4) / 1024;
      const advised = () => mappings().filter((m) => m.kb === kb && m.flags.includes('hg')).length;
      const before = advised();
      const t = Tensor.zeros([floats]);
      expect(advised()).toBe(before + 1);
      t.dispose();
      await flush();
      expect(advised()).toBe(before);
    },
  );
});
