/**
 * readCheckpoint on files whose safetensors layout is valid but whose metadata is not ours:
 * each is a FormatError naming the file and the metadata entry (test/fuzz.test.ts found the
 * first as a bare SyntaxError from JSON.parse).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FormatError } from '../lib/errors';
import { CHECKPOINT_FORMAT, readCheckpoint } from '../lib/io/checkpoint';
import { writeSafetensors } from '../lib/io/safetensors';

const folder = mkdtempSync(join(tmpdir(), 'alexnet-checkpoint-'));

let written = 0;

async function checkpointWith(metadata: Record<string, string>): Promise<string> {
  const file = join(folder, `checkpoint-${++written}.safetensors`);
  await writeSafetensors(file, {}, { format: CHECKPOINT_FORMAT, ...metadata });
  return file;
}

describe('readCheckpoint', () => {
  test.each([
    [{ model: ' ' }, "metadata 'model' is not JSON (Unexpected end of JSON input)"],
    [{ model: '[1, 2]' }, "metadata 'model' is [1, 2], not a JSON object"],
    [{ model: '{}', training: '{' }, "metadata 'training' is not JSON"],
    [{ model: '{}', training: '7' }, "metadata 'training' is 7 of type number, not a JSON object"],
    [{ model: '[{"toString": null}]' }, "metadata 'model' is [{...}], not a JSON object"],
  ])('metadata %j is a FormatError naming the file', async (metadata, message) => {
    const file = await checkpointWith(metadata);
    await expect(readCheckpoint(file)).rejects.toThrow(FormatError);
    await expect(readCheckpoint(file)).rejects.toThrow(`${file}: ${message}`);
  });

  test('model and training objects are read', async () => {
    const file = await checkpointWith({ model: '{"classes":2}', training: '{"epoch":3}' });
    const checkpoint = await readCheckpoint(file);
    expect(checkpoint.model.classes).toBe(2);
    expect(checkpoint.training?.epoch).toBe(3);
  });
});
