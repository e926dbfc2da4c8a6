/**
 * Which rows of a global batch a rank takes: contiguous blocks in rank order, the first
 * `n mod size` ranks one row more (so a last, short batch still splits, and a rank may get
 * none). Rank r's rows are [offset, offset + count) of the batch every rank draws alike.
 */
export interface Shard {
  rank: number;
  size: number;
}

export interface Share {
  /** Index in the global batch of the rank's first row. */
  offset: number;
  /** How many rows it takes (0 when the batch has fewer rows than ranks after it). */
  count: number;
}

export function shareOf(n: number, shard: Shard): Share {
  const base = Math.floor(n / shard.size);
  const extra = n % shard.size;
  return {
    offset: shard.rank * base + Math.min(shard.rank, extra),
    count: base + (shard.rank < extra ? 1 : 0),
  };
}
