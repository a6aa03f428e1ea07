// What the sampler needs to know about a token's text: whether it is structural (brackets, newline,
// punctuation: the prior resolves these first) and whether neighbours would glue into one identifier.
export interface TokenPieces {
  /** Decoded text of one token. */
  piece(id: number): string;
}

const STRUCTURAL_ONLY = /^[()[\]{};:,.]+$/;
const IDENTIFIER = /^\s*[\p{L}\p{N}_$]+$/u;

export function isStructuralPiece(piece: string): boolean {
  const trimmed = piece.trim();
  if (trimmed.length === 0) {
    return piece.includes('\n');
  }
  return STRUCTURAL_ONLY.test(trimmed);
}

/** True when the pieces, joined in order, read as one identifier (optionally after leading whitespace). */
export function gluesIntoIdentifier(pieces: readonly string[]): boolean {
  return IDENTIFIER.test(pieces.join(''));
}
