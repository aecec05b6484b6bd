/**
 * Which record of a draw's chain is the sample, once the chain of the whole
 * vocabulary and the row's exact merged top list are known (the gateway).
 *
 * The restrictions, applied in this order, each keep a prefix of class order
 * (larger logit first, ties by smaller id), so together they keep the
 * shortest of the three prefixes:
 *
 *   top-k   the first K classes
 *   top-p   the smallest prefix of what top-k kept whose mass, renormalised
 *           over what top-k kept, reaches p: class i stays iff the mass of the
 *           classes before it is < p · P(top-k set)
 *   min-p   classes with p_i ≥ minP · p_max, i.e. z_i − z_max ≥ log(minP)
 *
 * The sample is the last record of the chain inside that prefix (sample-records.ts).
 * top-k and min-p are decided from the merged top list and the global max
 * alone. top-p is decided from the merged top list when the mass of the list
 * already reaches the target (the nucleus lies inside it) or the record lies
 * in the list, else from the row's mass grid (sample-grid.ts) unless the
 * record sits in the grid cell where the nucleus ends; only then is its
 * mass-before asked of the shards in a second round (`pending`), after which
 * every record is decided.
 */
import { comesBefore } from "../math/partial.js";
import { massBracket } from "./sample-grid.js";
import type { DrawRecord } from "./sample-records.js";

export interface Restrictions {
  /** 0: none. */
  topK: number;
  /** 0 or ≥ 1: none. */
  topP: number;
  /** 0: none. */
  minP: number;
}

/** A row after the merge: its logZ and max, and the merged top list (the exact prefix of class order). */
export interface MergedRow {
  logZ: number;
  max: number;
  topIds: ArrayLike<number>;
  topLogits: ArrayLike<number>;
  topCount: number;
  /** The row's merged mass grid (sample-grid.ts), when its shards sent one. */
  grid?: ArrayLike<number>;
}

export type Inside = boolean | "unknown";

export class RowRestriction {
  /** prefixMass[t] = mass of the top list's first t entries (float64, in class order). */
  private readonly prefixMass: Float64Array;
  private readonly target: number;

  constructor(
    private readonly row: MergedRow,
    private readonly restrictions: Restrictions,
  ) {
    this.prefixMass = new Float64Array(row.topCount + 1);
    for (let t = 0; t < row.topCount; t++) this.prefixMass[t + 1] = this.prefixMass[t]! + Math.exp(row.topLogits[t]! - row.logZ);
    const kept = restrictions.topK > 0 ? this.prefixMass[Math.min(restrictions.topK, row.topCount)]! : 1;
    this.target = restrictions.topP * kept;
  }

  /** Whether `record` is inside the allowed prefix; "unknown" when only its mass-before (log Σ exp z) can tell. */
  inside(record: DrawRecord, logMassBefore?: number): Inside {
    const { topK, topP, minP } = this.restrictions;
    const at = this.position(record);
    if (topK > 0 && (at < 0 || at >= topK)) return false;
    if (minP > 0 && !(record.logit - this.row.max >= Math.log(minP))) return false;
    if (topP > 0 && topP < 1) {
      const before = at >= 0 ? this.prefixMass[at]! : logMassBefore === undefined ? undefined : Math.exp(logMassBefore - this.row.logZ);
      if (before !== undefined) return before < this.target;
      // Past the list: every candidate comes before the record, and the grid brackets the rest.
      let low = this.prefixMass[this.row.topCount]!;
      const bracket = this.row.grid ? massBracket(this.row.grid, record.logit) : null;
      if (bracket) low = Math.max(low, Math.exp(bracket.low - this.row.logZ));
      if (low >= this.target) return false;
      if (bracket && Math.exp(bracket.high - this.row.logZ) < this.target) return true;
      return "unknown";
    }
    return true;
  }

  /** The record's index in the merged top list, or −1 when it lies beyond it. */
  private position(record: DrawRecord): number {
    const { topIds, topLogits, topCount } = this.row;
    for (let t = 0; t < topCount; t++) {
      if (topIds[t] === record.id) return t;
      if (comesBefore(record.logit, record.id, topLogits[t]!, topIds[t]!)) return -1;
    }
    return -1;
  }
}

/**
 * The sample of a chain: its last record inside the allowed prefix; or the
 * records whose mass-before must be asked first. `massOf` answers records
 * already asked (log Σ exp z over the classes before them).
 */
export function pick(
  chain: readonly DrawRecord[],
  restriction: RowRestriction,
  massOf?: (r: DrawRecord) => number | undefined,
): DrawRecord | { pending: DrawRecord[] } | null {
  const pending: DrawRecord[] = [];
  for (let i = chain.length - 1; i >= 0; i--) {
    const record = chain[i]!;
    const inside = restriction.inside(record, massOf?.(record));
    if (inside === "unknown") pending.push(record);
    else if (inside) return pending.length > 0 ? { pending } : record;
  }
  return pending.length > 0 ? { pending } : null;
}
