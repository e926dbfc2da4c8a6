/**
 * A value parsed from a file's JSON, described for an error message as lib/validate.ts's
 * `describe` would, without calling anything the file controls: `describe` joins arrays and
 * reads `constructor`, which a JSON object may hold as data (`{"toString": null}` made
 * `[x].join()` throw a TypeError). Nested arrays and objects are abbreviated, so the depth of
 * the JSON does not matter either.
 */
import { describe } from '../validate';

const brief = (item: unknown) =>
  Array.isArray(item)
    ? '[...]'
    : typeof item === 'object' && item !== null
      ? '{...}'
      : String(item);

export function describeJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(brief).join(', ')}]`;
  if (typeof value === 'object' && value !== null) return 'an object';
  return describe(value);
}
