// The model's Hugging Face tokenizer.json through @huggingface/tokenizers, checked against the manifest.
// Encoding never adds special tokens (the engine places them itself) and decoding never "cleans up"
// spaces, so code round-trips byte for byte.
import * as fs from 'node:fs';
import { Tokenizer } from '@huggingface/tokenizers';
import { EngineError } from './errors';
import type { ModelManifest } from './manifest';

export class CodeTokenizer {
  /** Decoded text of single tokens; the sampler asks for the same ids every step. */
  private readonly pieceCache = new Map<number, string>();

  private constructor(
    private readonly tokenizer: Tokenizer,
    readonly vocabSize: number,
  ) {}

  static fromFile(file: string): CodeTokenizer {
    let json: unknown;
    try {
      json = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch (err) {
      throw new EngineError('model-invalid', `${file}: cannot read tokenizer (${(err as Error).message})`);
    }
    let tokenizer: Tokenizer;
    try {
      tokenizer = new Tokenizer(json as object, { clean_up_tokenization_spaces: false });
    } catch (err) {
      throw new EngineError(
        'model-invalid',
        `${file}: not a Hugging Face tokenizer (${(err as Error).message})`,
      );
    }
    return new CodeTokenizer(tokenizer, tokenizer.get_vocab(true).size);
  }

  /** Loads the manifest's tokenizer and checks vocab_size and special_tokens against it. */
  static forManifest(manifest: ModelManifest): CodeTokenizer {
    const tokenizer = CodeTokenizer.fromFile(manifest.tokenizerPath);
    const file = manifest.tokenizerPath;
    if (tokenizer.vocabSize !== manifest.vocabSize) {
      throw new EngineError(
        'tokenizer-mismatch',
        `${file}: vocabulary has ${tokenizer.vocabSize} tokens but model.json field "vocab_size" says ${manifest.vocabSize}`,
      );
    }
    for (const [role, id] of Object.entries(manifest.specialTokens)) {
      if (id !== undefined && tokenizer.tokenText(id) === undefined) {
        throw new EngineError(
          'tokenizer-mismatch',
          `${file}: has no token with id ${id} (model.json field "special_tokens.${role}")`,
        );
      }
    }
    return tokenizer;
  }

  encode(text: string): number[] {
    if (text.length === 0) {
      return [];
    }
    return this.tokenizer.encode(text, { add_special_tokens: false }).ids;
  }

  decode(ids: readonly number[]): string {
    if (ids.length === 0) {
      return '';
    }
    return this.tokenizer.decode(ids as number[], {
      skip_special_tokens: false,
      clean_up_tokenization_spaces: false,
    });
  }

  /** Decoded text of one token (cached). */
  piece(id: number): string {
    let text = this.pieceCache.get(id);
    if (text === undefined) {
      text = this.decode([id]);
      this.pieceCache.set(id, text);
    }
    return text;
  }

  /** The vocabulary string of a token id, or undefined if the id does not exist. */
  tokenText(id: number): string | undefined {
    return this.tokenizer.id_to_token(id);
  }
}
