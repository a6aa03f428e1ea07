// Structure-aware position prior (../shared/docs/diffusion.md §1, issue (i)): masked positions next to visible
// context and proposals of structural tokens get a score bonus, so they resolve first; far-away masks
// (prone to frequency collapse) wait until context has grown towards them.
/** Bonus for a candidate right next to visible context, decaying as 1/distance. */
export const ADJACENCY_WEIGHT = 0.15;
/** Bonus for proposals that are brackets, newlines or punctuation. */
export const STRUCTURAL_WEIGHT = 0.1;

/**
 * Distance of each canvas position to the nearest non-masked token on either side. Context outside
 * the canvas counts when present (hasLeft: prefix or lead token; hasRight: suffix); Infinity if none.
 */
export function contextDistances(masked: readonly boolean[], hasLeft: boolean, hasRight: boolean): number[] {
  const n = masked.length;
  const out = new Array<number>(n).fill(Infinity);
  let last = hasLeft ? -1 : -Infinity;
  for (let i = 0; i < n; i++) {
    if (!masked[i]) {
      last = i;
      out[i] = 0;
    } else {
      out[i] = i - last;
    }
  }
  let next = hasRight ? n : Infinity;
  for (let i = n - 1; i >= 0; i--) {
    if (!masked[i]) {
      next = i;
    } else {
      out[i] = Math.min(out[i], next - i);
    }
  }
  return out;
}

export function priorBonus(distance: number, structural: boolean): number {
  const adjacency = Number.isFinite(distance) && distance > 0 ? ADJACENCY_WEIGHT / distance : 0;
  return adjacency + (structural ? STRUCTURAL_WEIGHT : 0);
}

/** Block-wise (semi-autoregressive) order: the masked indices of the leftmost block that has any. */
export function currentBlock(maskedIndices: readonly number[], blockSize: number): number[] {
  if (blockSize <= 0 || maskedIndices.length === 0) {
    return [...maskedIndices];
  }
  const block = Math.floor(maskedIndices[0] / blockSize);
  return maskedIndices.filter((i) => Math.floor(i / blockSize) === block);
}
