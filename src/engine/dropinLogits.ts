// Full-logits graphs (drop-in folders, and our own full_logits export): the feeds such a graph takes and
// the reduction of its [batch, length, vocab] output to the top-k of the rows the sampler asked for. Only
// requested rows are read (a 150k vocabulary x 512 positions is 300 MB of floats; a step asks for a few
// dozen rows), and float16 logits are widened one row at a time.
import * as ort from 'onnxruntime-node';
import { EngineError } from './errors';
import { topKFromLogits, type RowPrediction } from './topk';

/** input_ids, plus attention_mask (all ones) and position_ids (0..L-1) when the graph declares them. */
export function fullLogitsFeeds(
  inputNames: readonly string[],
  ids: ort.Tensor,
  length: number,
): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = { input_ids: ids };
  if (inputNames.includes('attention_mask')) {
    feeds.attention_mask = new ort.Tensor('int64', new BigInt64Array(length).fill(1n), [1, length]);
  }
  if (inputNames.includes('position_ids')) {
    feeds.position_ids = new ort.Tensor(
      'int64',
      BigInt64Array.from({ length }, (_, i) => BigInt(i)),
      [1, length],
    );
  }
  const unknown = inputNames.filter((n) => !(n in feeds));
  if (unknown.length > 0) {
    // e.g. past_key_values.*: an autoregressive decoder export with a KV cache, not a full-attention graph
    throw new EngineError(
      'model-invalid',
      `graph inputs ${unknown.join(', ')} are not supported (expected input_ids, attention_mask, position_ids; ` +
        'export without past key values)',
    );
  }
  return feeds;
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}

/** Top-k of each requested row of `logits` [1, L, V'] over the first `vocab` ids (V' may be padded). */
export function reduceLogitRows(
  logits: ort.Tensor,
  rows: readonly number[],
  vocab: number,
  k: number,
  maskId: number,
): RowPrediction[] {
  const width = logits.dims[logits.dims.length - 1];
  if (width < vocab) {
    throw new EngineError(
      'tokenizer-mismatch',
      `the graph's logits have ${width} entries per row but the tokenizer has ${vocab} tokens`,
    );
  }
  if (logits.type === 'float32') {
    const data = logits.data as Float32Array;
    return rows.map((row) => topKFromLogits(data, row * width, vocab, k, [maskId]));
  }
  if (logits.type === 'float16') {
    const data = logits.data as ArrayLike<number>;
    // onnxruntime-node hands float16 out as raw uint16 bits (or a Float16Array where the runtime has one)
    const bits = data instanceof Uint16Array;
    const row32 = new Float32Array(vocab);
    return rows.map((row) => {
      const base = row * width;
      for (let v = 0; v < vocab; v++) {
        row32[v] = bits ? halfToFloat(data[base + v]) : data[base + v];
      }
      return topKFromLogits(row32, 0, vocab, k, [maskId]);
    });
  }
  throw new EngineError(
    'model-invalid',
    `logits of type ${logits.type} are not supported (float32 or float16)`,
  );
}
