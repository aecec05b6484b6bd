/**
 * What one query costs the gateway, from its shape alone, so that a request
 * too big on its own is refused before any work. The answer is what grows
 * without bound: B rows × (k top entries + t targets), each entry a JSON
 * object of ~100 bytes (id, label, logit, logprob, prob) and, while it is
 * built, a JS object of about the same size. Hidden rows cost B × d × 4 bytes
 * and are already bounded by the body and message limits.
 */

/** Bytes of one top-k or target entry in a JSON answer, without its label (five numbers at full precision and the keys). */
export const ENTRY_JSON_BYTES = 110;
/** Bytes of a row's frame in a JSON answer (logZ, braces, keys). */
export const ROW_JSON_BYTES = 64;

export interface QueryShape {
  rows: number;
  topK: number;
  /** Target ids over all rows. */
  targets: number;
  /** Sampled draws per row (0 without sampling). */
  draws: number;
  /** Longest label in bytes, 0 without labels. */
  labelBytes: number;
}

/** An upper estimate of the JSON answer; the protobuf answer is smaller. */
export function answerBytes(q: QueryShape): number {
  const entries = q.rows * (q.topK + q.draws) + q.targets;
  return q.rows * ROW_JSON_BYTES + entries * (ENTRY_JSON_BYTES + q.labelBytes);
}
