/**
 * Class labels on results (`--labels FILE`): a text file whose line i is the
 * label of class i, or a Hugging Face `tokenizer.json` (or a folder holding
 * one). Loaded once when the gateway starts; a label file whose size is not
 * the head's V is refused, since labels shifted by one class are worse than
 * none.
 */
import { stat } from "node:fs/promises";
import { join } from "node:path";
import { ShardmaxError } from "../errors.js";
import type { LabelsKind, ModelInfo, ModelRef, RowResult } from "../results.js";
import { parseJson, readSmallFile } from "./tensor-info.js";
import { tokenizerLabels } from "./tokenizer-labels.js";

export interface Labels {
  /** The file the labels came from. */
  readonly source: string;
  readonly kind: LabelsKind;
  readonly count: number;
  /** Bytes of the longest label as JSON, for the cost of an answer. */
  readonly maxBytes: number;
  label(id: number): string;
}

/** Label files hold a few MB (tokenizer.json of a 256k vocabulary: ~20 MB); the bound only stops a wrong path. */
const MAX_LABEL_FILE_BYTES = 1024 * 1024 * 1024;

export async function loadLabels(path: string): Promise<Labels> {
  const info = await stat(path).catch(() => null);
  const file = info?.isDirectory() ? join(path, "tokenizer.json") : path;
  const kind: LabelsKind = file.toLowerCase().endsWith(".json") ? "tokenizer.json" : "text";
  const field = `labels ${file}`;
  try {
    const bytes = await readSmallFile(file, MAX_LABEL_FILE_BYTES);
    const list = kind === "tokenizer.json" ? tokenizerLabels(parseJson(bytes, file, "the file"), field) : textLabels(bytes, field);
    if (list.length === 0) throw new ShardmaxError("INVALID_ARGUMENT", `${field}: has no labels`);
    const maxBytes = list.reduce((most, label) => Math.max(most, Buffer.byteLength(JSON.stringify(label))), 0);
    return Object.freeze({ source: file, kind, count: list.length, maxBytes, label: (id: number) => list[id] ?? "" });
  } catch (err) {
    throw relabel(err);
  }
}

/** One label per line; "\r\n" endings and a final newline are allowed, a UTF-8 BOM is dropped. */
function textLabels(bytes: Buffer, field: string): string[] {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new ShardmaxError("INVALID_ARGUMENT", `${field}: is not UTF-8 text`);
  }
  const lines = text
    .replace(/^\uFEFF/, "")
    .split("\n")
    .map((line) => line.replace(/\r$/, ""));
  if (lines.at(-1) === "") lines.pop();
  return lines;
}

/** Why these labels cannot serve this head, or null when they can (or there are none). */
export function labelProblem(labels: Labels | null, model: ModelRef | null): string | null {
  if (!labels || !model || labels.count === model.vocabSize) return null;
  return `labels ${labels.source}: has ${labels.count} ${labels.kind === "text" ? "lines" : "tokens"}, but the head has V=${model.vocabSize} classes`;
}

/** What GET /v1/model says about labels. */
export function labelsInfo(labels: Labels | null): ModelInfo["labels"] {
  return labels && { source: labels.source, kind: labels.kind, count: labels.count };
}

/** Adds `label` to every top-k, target and sample entry (left out when empty, as proto3 leaves it out of gRPC). */
export function withLabels(results: RowResult[], labels: Labels | null): RowResult[] {
  if (!labels) return results;
  const labeled = <T extends { id: number }>({ id, ...rest }: T) => {
    const label = labels.label(id);
    return label === "" ? { id, ...rest } : { id, label, ...rest };
  };
  return results.map((row) => {
    const out: RowResult = { logZ: row.logZ, top: row.top.map(labeled), targets: row.targets.map(labeled) };
    if (row.samples) Object.assign(out, { seed: row.seed, samples: row.samples.map(labeled) });
    return out;
  });
}

/** Errors from reading the file come out phrased for weights; say "labels" instead. */
function relabel(err: unknown): unknown {
  if (err instanceof ShardmaxError && err.message.startsWith("weights "))
    return new ShardmaxError(err.code, `labels ${err.message.slice("weights ".length)}`, { cause: err });
  return err;
}
