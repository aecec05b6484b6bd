/**
 * How a shard's slice is cut into onnxruntime blocks, each its own session.
 *
 * Why blocks: onnxruntime copies a block's weights once more while it
 * prepacks them for Gemm, so building a whole slice at once peaks at ~3× the
 * slice (measured: 854 MB for a 256 MB slice). Built block by block through
 * one reused read buffer, the peak is the slice plus about two blocks, so
 * ~8 blocks keep a shard near 1.25× its slice. Blocks also keep every
 * buffer handed to onnxruntime far below protobuf's and V8's size limits, so a
 * slice of any size (e.g. 100k × 8192 F32 = 3.3 GB) is served.
 *
 * Why not smaller: every block is one more onnxruntime run per batch (~35 µs
 * measured) and one more session. Blocks of at least 32 MiB are also at
 * glibc's largest mmap threshold, so their buffers go back to the OS when freed
 * instead of fragmenting the heap.
 */
import { ClassRange } from "../../shared/ranges.js";
import { paddedRows } from "./augmented-block.js";

export const TARGET_BLOCKS = 8;
export const MIN_BLOCK_BYTES = 32 * 1024 * 1024;
export const MAX_BLOCK_BYTES = 1024 * 1024 * 1024;

/**
 * Rows per block: `requested` when given (the --block-rows flag), else from
 * the slice size, rounded up to whole exp-sum groups so that only the last
 * block carries padding rows (augmented-block.ts).
 */
export function rowsPerBlock(sliceRows: number, dim: number, requested?: number): number {
  if (requested !== undefined) return Math.max(1, Math.min(requested, sliceRows));
  const rowBytes = dim * 4;
  const blockBytes = Math.min(MAX_BLOCK_BYTES, Math.max(MIN_BLOCK_BYTES, Math.ceil((sliceRows * rowBytes) / TARGET_BLOCKS)));
  return Math.max(1, Math.min(sliceRows, paddedRows(Math.floor(blockBytes / rowBytes))));
}

/** Consecutive blocks of `perBlock` rows (the last may be shorter) tiling `range`. */
export function planBlocks(range: ClassRange, perBlock: number): ClassRange[] {
  const blocks: ClassRange[] = [];
  for (let start = range.start; start < range.end; start += perBlock) blocks.push(ClassRange.of(start, Math.min(range.end, start + perBlock)));
  return blocks;
}
