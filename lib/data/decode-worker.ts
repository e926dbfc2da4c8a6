/**
 * The body of a decode worker thread (see decode-pool.ts): it answers each task, an image file
 * or an image's bytes to prepare, with the cache entry or the error's message. Pixels travel back
 * as a transferred buffer, not a copy.
 */
import { parentPort } from 'node:worker_threads';
import {
  type PreparedImage,
  type PrepareFailure,
  type PrepareTask,
  tryPrepareImage,
} from './prepare-image';

export type DecodeTask = PrepareTask & { id: number };

export type DecodeReply = (PreparedImage | PrepareFailure) & { id: number };

const port = parentPort;
if (port) {
  port.on('message', async (task: DecodeTask) => {
    const reply: DecodeReply = { id: task.id, ...(await tryPrepareImage(task)) };
    port.postMessage(reply, 'pixels' in reply ? [reply.pixels.buffer as ArrayBuffer] : []);
  });
}
