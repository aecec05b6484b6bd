/**
 * Cutting a batched partial back into the partials of the requests that
 * shared it, and joining a request's parts that came from several batches,
 * for every column PARTIAL_COLUMNS declares. Pure; per row and per entry
 * only, never per class.
 *
 * A batch runs with the largest top-k of its requests. A row's top-k list is
 * sorted best first, so its first min(topK, k) entries are exactly that
 * row's smaller top-k: the cut is exact.
 */
import { type BatchPartial, COLUMN_NAMES, newColumn, PARTIAL_COLUMNS, unitOffsets } from "./partial.js";

/** Rows [row, row + rows) of a batch, cut to topK per row. */
export interface PartialSlot {
  row: number;
  rows: number;
  topK: number;
}

/** A batch is cut once per caller that shared it: its offsets are computed once, not once per cut. */
const offsetsOf = new WeakMap<BatchPartial, ReturnType<typeof unitOffsets>>();

export function slicePartial(batch: BatchPartial, slot: PartialSlot): BatchPartial {
  const { row, rows } = slot;
  const k = Math.min(slot.topK, batch.k);
  let offsets = offsetsOf.get(batch);
  if (!offsets) offsetsOf.set(batch, (offsets = unitOffsets(batch)));
  const out: Record<string, unknown> = { rows, k };
  for (const name of COLUMN_NAMES) {
    const { unit, dtype } = PARTIAL_COLUMNS[name];
    const column = batch[name];
    // An empty column (no draws, no points …) is empty in every cut: share it.
    if (column.length === 0) out[name] = column;
    else if (unit === "top" && k !== batch.k) {
      const cut = newColumn(dtype, rows * k);
      for (let r = 0; r < rows; r++) {
        const from = (row + r) * batch.k;
        cut.set(column.subarray(from, from + k) as never, r * k);
      }
      out[name] = cut;
    } else {
      const at = offsets[unit];
      out[name] = column.slice(at[row]!, at[row + rows]!);
    }
  }
  return out as unknown as BatchPartial;
}

/** Consecutive rows of one request, answered by consecutive batches, put back together. */
export function joinPartials(parts: readonly BatchPartial[]): BatchPartial {
  const out: Record<string, unknown> = { rows: parts.reduce((n, p) => n + p.rows, 0), k: parts[0]!.k };
  for (const name of COLUMN_NAMES) {
    const arrays = parts.map((p) => p[name]);
    const joined = newColumn(
      PARTIAL_COLUMNS[name].dtype,
      arrays.reduce((n, a) => n + a.length, 0),
    );
    let at = 0;
    for (const a of arrays) {
      joined.set(a as never, at);
      at += a.length;
    }
    out[name] = joined;
  }
  return out as unknown as BatchPartial;
}
