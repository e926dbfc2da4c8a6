/**
 * Seeded random inputs for tests. Each suite draws a fresh seed per run (or takes
 * ALEXNET_TEST_SEED to reproduce one) and puts it in its describe() title, so a failure prints
 * the seed that produced it. The generator is the library's own (lib/random.ts).
 */
export { Rng } from '../../lib/random';

export function testSeed(): number {
  const fixed = process.env.ALEXNET_TEST_SEED;
  return fixed ? Number(fixed) : Math.floor(Math.random() * 2 ** 31);
}
