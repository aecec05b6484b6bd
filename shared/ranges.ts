/**
 * Class ranges: half-open `[start, end)` slices of the vocabulary `[0, V)`.
 * A range is immutable and checked when it is built; a RangeMap proves at
 * construction that its ranges tile `[0, V)` with no gap and no overlap, so a
 * merge over a RangeMap can never be a softmax over a subset of the classes.
 */
import { invalidField, ShardmaxError } from "./errors.js";

export class ClassRange {
  private constructor(
    readonly start: number,
    readonly end: number,
  ) {}

  static of(start: number, end: number): ClassRange {
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end <= start) {
      throw invalidField("range", `[${start}, ${end}) is not a non-empty range of class ids`);
    }
    return new ClassRange(start, end);
  }

  get size(): number {
    return this.end - this.start;
  }

  contains(id: number): boolean {
    return id >= this.start && id < this.end;
  }

  equals(other: ClassRange): boolean {
    return this.start === other.start && this.end === other.end;
  }

  toString(): string {
    return `[${this.start}, ${this.end})`;
  }
}

/**
 * Range i of n over `[0, vocabSize)`: contiguous, sizes differ by at most one,
 * the first `vocabSize mod n` ranges are the longer ones.
 */
export function splitRange(vocabSize: number, index: number, count: number): ClassRange {
  if (!Number.isSafeInteger(count) || count < 1) throw invalidField("shard", `count ${count} must be a positive integer`);
  if (!Number.isSafeInteger(index) || index < 0 || index >= count) {
    throw invalidField("shard", `index ${index} must be in [0, ${count})`);
  }
  if (count > vocabSize) throw invalidField("shard", `${count} shards cannot split ${vocabSize} classes`);
  const base = Math.floor(vocabSize / count);
  const extra = vocabSize % count;
  const start = index * base + Math.min(index, extra);
  return ClassRange.of(start, start + base + (index < extra ? 1 : 0));
}

export function splitAll(vocabSize: number, count: number): ClassRange[] {
  return Array.from({ length: count }, (_, i) => splitRange(vocabSize, i, count));
}

/** A set of ranges proven to tile `[0, vocabSize)`, sorted by start. */
export class RangeMap {
  private constructor(
    readonly vocabSize: number,
    readonly ranges: readonly ClassRange[],
  ) {}

  /** Throws MODEL_MISMATCH naming the first gap or overlap. Duplicates must be removed first. */
  static tile(vocabSize: number, ranges: readonly ClassRange[]): RangeMap {
    const problem = tilingProblem(vocabSize, ranges);
    if (problem) throw new ShardmaxError("MODEL_MISMATCH", `shard ranges do not tile the vocabulary: ${problem.reason}`);
    return new RangeMap(vocabSize, Object.freeze(sortRanges(ranges)));
  }

  /** Index of the range owning class `id` (binary search). */
  owner(id: number): number {
    let lo = 0;
    let hi = this.ranges.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.ranges[mid]!.start <= id) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }
}

function sortRanges(ranges: readonly ClassRange[]): ClassRange[] {
  return [...ranges].sort((a, b) => a.start - b.start || a.end - b.end);
}

/** The first gap or overlap when `ranges` are laid over `[0, vocabSize)`, or null when they tile it. */
export function tilingProblem(vocabSize: number, ranges: readonly ClassRange[]): { kind: "gap" | "overlap"; reason: string } | null {
  let next = 0;
  for (const range of sortRanges(ranges)) {
    if (range.start > next) return { kind: "gap", reason: `gap: no shard serves [${next}, ${range.start})` };
    if (range.start < next) return { kind: "overlap", reason: `overlap: ${range} overlaps classes below ${next}` };
    next = range.end;
  }
  if (next < vocabSize) return { kind: "gap", reason: `gap: no shard serves [${next}, ${vocabSize})` };
  if (next > vocabSize) return { kind: "overlap", reason: `overlap: ranges reach ${next}, beyond V=${vocabSize}` };
  return null;
}
