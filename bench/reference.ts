/**
 * The float64 reference the bench checks every system against, written from
 * the formula, not from the code under test:
 *
 *   z_i = W_i · h + b_i   (float64 sums of the float32 weights),   logZ = M + log Σ exp(z_i − M)
 *
 * W is streamed from the head in chunks, so the reference never holds it.
 */
import { openHead } from "../shared/checkpoint/open-head.js";
import { ClassRange } from "../shared/ranges.js";

export interface ReferenceRow {
  logits: Float64Array;
  logZ: number;
  topIds: number[];
}

const CHUNK_ROWS = 16384;

export async function referenceRows(spec: string, hidden: Float32Array, rows: number, k: number): Promise<ReferenceRow[]> {
  const head = await openHead(spec);
  const { vocabSize: V, dim: d } = head.description;
  const logits = Array.from({ length: rows }, () => new Float64Array(V));
  for (let start = 0; start < V; start += CHUNK_ROWS) {
    const range = ClassRange.of(start, Math.min(V, start + CHUNK_ROWS));
    const { weight, bias } = await head.readRows(range);
    for (let r = 0; r < rows; r++) {
      const out = logits[r]!;
      const h = hidden.subarray(r * d, (r + 1) * d);
      for (let i = 0; i < range.size; i++) {
        let dot = 0;
        for (let j = 0; j < d; j++) dot += weight[i * d + j]! * h[j]!;
        out[start + i] = dot + (bias ? bias[i]! : 0);
      }
    }
  }
  await head.close();
  return logits.map((z) => ({ logits: z, logZ: logSumExp(z), topIds: topIds(z, k) }));
}

function logSumExp(z: Float64Array): number {
  let max = -Infinity;
  for (const x of z) if (x > max) max = x;
  let sum = 0;
  for (const x of z) sum += Math.exp(x - max);
  return max + Math.log(sum);
}

/** The k largest, best first, ties by smaller id: one pass with a small sorted list. */
function topIds(z: Float64Array, k: number): number[] {
  const ids: number[] = [];
  const better = (a: number, b: number) => z[a]! > z[b]! || (z[a] === z[b] && a < b);
  for (let i = 0; i < z.length; i++) {
    if (ids.length === k && !better(i, ids[k - 1]!)) continue;
    let at = ids.length === k ? k - 1 : ids.length;
    while (at > 0 && better(i, ids[at - 1]!)) at--;
    ids.splice(at, 0, i);
    if (ids.length > k) ids.pop();
  }
  return ids;
}

export interface AnswerRow {
  logZ: number;
  top: { id: number; logprob: number }[];
}

export interface ErrorSummary {
  /** Largest |log p − log p_ref| over every returned top-k entry, and |logZ − logZ_ref|. */
  maxLogProbError: number;
  /** Rows whose top-k ids differ from the reference's (order included). */
  topMismatches: number;
  rows: number;
}

export function compareToReference(answers: readonly AnswerRow[], refs: readonly ReferenceRow[]): ErrorSummary {
  let maxLogProbError = 0;
  let topMismatches = 0;
  answers.forEach((answer, r) => {
    const ref = refs[r]!;
    maxLogProbError = Math.max(maxLogProbError, Math.abs(answer.logZ - ref.logZ));
    for (const { id, logprob } of answer.top) maxLogProbError = Math.max(maxLogProbError, Math.abs(logprob - (ref.logits[id]! - ref.logZ)));
    const ids = answer.top.map((t) => t.id);
    if (ids.length !== ref.topIds.length || ids.some((id, j) => id !== ref.topIds[j])) topMismatches++;
  });
  return { maxLogProbError, topMismatches, rows: answers.length };
}
