/**
 * The body of a decode worker thread (see decode-pool.ts): it answers each task, an image file
 * to prepare, with the cache entry or the error's message. Pixels travel back as a transferred
 * buffer, not a copy.
 */
import { parentPort } from 'node:worker_threads';
import type { DecodeSettings } from './decoder';
import { prepareImage } from './prepare-image';
import type { ResizePolicy } from './resize';

export interface DecodeTask {
  id: number;
  file: string;
  size: number;
  policy: ResizePolicy;
  decode: DecodeSettings;
}

export type DecodeReply =
  | { id: number; pixels: Uint8Array; moments: number[] }
  | { id: number; error: string };

const port = parentPort;
if (port) {
  port.on('message', async (task: DecodeTask) => {
    let reply: DecodeReply;
    try {
      const { pixels, moments } = await prepareImage(
        task.file,
        task.size,
        task.policy,
        task.decode,
      );
      reply = { id: task.id, pixels, moments };
      port.postMessage(reply, [pixels.buffer as ArrayBuffer]);
    } catch (error) {
      reply = { id: task.id, error: (error as Error).message ?? String(error) };
      port.postMessage(reply);
    }
  });
}
