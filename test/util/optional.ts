/**
 * The optional packages some tests need, and why a test skips without them. sharp is an
 * optionalDependency: `npm install` brings it where its prebuilt libvips exists, and an install
 * without it still works with the js decoder. A test of sharp itself skips where it does not load,
 * with the reason in its title; every other test must pass either way.
 */
import { decoders } from '../../lib/data/decoder';

const sharp = decoders().sharp;

/** '' where sharp loads; else why not. */
export const sharpWhy =
  typeof sharp === 'string'
    ? ''
    : `sharp does not load here (${sharp.unavailable}); npm install sharp`;

/** test where sharp loads, else test.skip with the reason appended to the title. */
export const testWithSharp = (name: string, fn: jest.ProvidesCallback, timeout?: number) =>
  sharpWhy === ''
    ? test(name, fn, timeout)
    : test.skip(`${name} (skipped: ${sharpWhy})`, fn, timeout);

/**
 * One test per decoder, `%s` in the name replaced by it; the sharp one skips, saying why, where
 * sharp does not load.
 */
export function eachDecoder(
  name: string,
  fn: (decoder: 'sharp' | 'js') => unknown,
  timeout?: number,
): void {
  testWithSharp(
    name.replace('%s', 'sharp'),
    async () => {
      await fn('sharp');
    },
    timeout,
  );
  test(
    name.replace('%s', 'js'),
    async () => {
      await fn('js');
    },
    timeout,
  );
}

/** describe where sharp loads, else describe.skip with the reason appended to the title. */
export const describeWithSharp = (name: string, body: () => void) =>
  sharpWhy === '' ? describe(name, body) : describe.skip(`${name} (skipped: ${sharpWhy})`, body);
