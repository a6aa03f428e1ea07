// The one seeded PRNG of the project (mulberry32): sampling at temperature > 0 (seededRandom) and the
// held-out task cutter (src/eval/heldout.ts, mulberry32 on the raw seed) both draw from it, so
// their sequences stay reproducible from a seed. The two seed mappings differ on purpose: each one
// keeps the sequences that existing results (sampled completions, held-out sets) were made with.
export type Random = () => number;

/** mulberry32 from a 32-bit state, uniform in [0, 1). */
export function mulberry32(state: number): Random {
  let a = state >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The sampler's generator: the seed mixed with the golden-ratio constant first. */
export function seededRandom(seed: number): Random {
  return mulberry32((Math.floor(seed) ^ 0x9e3779b9) >>> 0);
}
