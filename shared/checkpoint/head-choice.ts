/**
 * Which tensors of a checkpoint are the head: `--tensor` (default
 * `lm_head.weight`) and its bias, chosen by name before any tensor is read;
 * then rank, shape and dtype are checked with messages that say what to do.
 * Models that tie the head to the input embeddings store no `lm_head.weight`;
 * the refusal names the embedding tensor and the flag that serves it.
 */
import { isServedDtype, SERVED_DTYPE_LIST } from "./dtypes.js";
import { TensorHead } from "./tensor-head.js";
import { checkpointError, type TensorInfo } from "./tensor-info.js";

export const DEFAULT_WEIGHT = "lm_head.weight";
/** BART, Marian, mBART, Pegasus add this [1, V] buffer to the head's output. */
const FINAL_LOGITS_BIAS = "final_logits_bias";

/**
 * Output heads stored under other names (GPT-NeoX, RoBERTa, BERT-MLM; "=" marks an
 * exact name, since e.g. "output.weight" also ends many layer names).
 */
const HEAD_NAMES = ["lm_head.weight", "embed_out.weight", "lm_head.decoder.weight", "cls.predictions.decoder.weight", "=output.weight"];
/** Input embeddings: the head of a model with tied embeddings (Llama, GPT-2, BERT, BLOOM, original Llama, T5). */
const EMBEDDING_NAMES = [
  "embed_tokens.weight",
  "wte.weight",
  "word_embeddings.weight",
  "tok_embeddings.weight",
  "embed_in.weight",
  "=shared.weight",
  "=model.shared.weight",
];

const matches = (name: string, pattern: string) => (pattern.startsWith("=") ? name === pattern.slice(1) : name === pattern || name.endsWith(`.${pattern}`));
const matchesAny = (name: string, patterns: readonly string[]) => patterns.some((p) => matches(name, p));

export type TensorRole = "head" | "tied-embedding" | "head-bias";

/** How `inspect` marks a tensor: a likely output head, an embedding that may be a tied head, or a head's bias. */
export function tensorRole(name: string, shape: readonly number[]): TensorRole | null {
  if (shape.length === 2 && matchesAny(name, HEAD_NAMES)) return "head";
  if (shape.length === 2 && matchesAny(name, EMBEDDING_NAMES)) return "tied-embedding";
  const isVector = shape.length === 1 || (shape.length === 2 && shape[0] === 1);
  const headBias = matchesAny(
    name,
    HEAD_NAMES.map((p) => p.replace(/weight$/, "bias")),
  );
  if (isVector && (name === FINAL_LOGITS_BIAS || headBias)) return "head-bias";
  return null;
}

export interface TensorNames {
  /** Weight tensor name; default "lm_head.weight". */
  tensor?: string;
  /** Bias tensor name; default `<prefix>.bias` of the weight, else final_logits_bias, when present. Naming an absent one is an error. */
  bias?: string;
}

export interface HeadChoice {
  weight: string;
  bias: string | null;
}

/** Picks the weight and bias names among `names`; `where` is the checkpoint path for messages. */
export function chooseTensors(names: readonly string[], options: TensorNames, where: string): HeadChoice {
  const has = new Set(names);
  const weight = options.tensor ?? DEFAULT_WEIGHT;
  if (!has.has(weight)) throw checkpointError(where, missingWeight(weight, names, options.tensor === undefined));
  if (options.bias !== undefined) {
    if (!has.has(options.bias)) throw checkpointError(where, `no bias tensor "${options.bias}"; available: ${nearestNames(options.bias, names)}`);
    return { weight, bias: options.bias };
  }
  const ownBias = weight.endsWith(".weight") ? `${weight.slice(0, -".weight".length)}.bias` : null;
  if (ownBias !== null && has.has(ownBias)) return { weight, bias: ownBias };
  return { weight, bias: has.has(FINAL_LOGITS_BIAS) ? FINAL_LOGITS_BIAS : null };
}

function missingWeight(weight: string, names: readonly string[], byDefault: boolean): string {
  if (byDefault) {
    const heads = names.filter((n) => matchesAny(n, HEAD_NAMES));
    if (heads.length > 0) return `no tensor "${weight}"; the head looks like "${heads[0]}": serve it with --tensor ${heads[0]}`;
    const embeddings = names.filter((n) => matchesAny(n, EMBEDDING_NAMES));
    if (embeddings.length > 0) {
      return `no tensor "${weight}": this model ties its output head to the input embeddings "${embeddings[0]}"; serve them with --tensor ${embeddings[0]}`;
    }
  }
  return `no tensor "${weight}"; available: ${nearestNames(weight, names)}`;
}

/** Rank, shape and dtype of the chosen tensors, each refusal saying what was expected. */
export function checkHead(weight: TensorInfo, bias: TensorInfo | null, where: string): void {
  const fail = (reason: string) => checkpointError(where, reason);
  if (!isServedDtype(weight.dtype)) throw fail(`tensor "${weight.name}" has dtype ${weight.dtype}; supported: ${SERVED_DTYPE_LIST}`);
  const [vocabSize, dim] = weight.shape;
  if (weight.shape.length !== 2 || vocabSize! < 1 || dim! < 1) {
    throw fail(`tensor "${weight.name}" has shape [${weight.shape}]; expected rank 2 [V, d] with V, d ≥ 1`);
  }
  if (!bias) return;
  if (!isServedDtype(bias.dtype)) throw fail(`bias "${bias.name}" has dtype ${bias.dtype}; supported: ${SERVED_DTYPE_LIST}`);
  const isVector = (bias.shape.length === 1 && bias.shape[0] === vocabSize) || (bias.shape.length === 2 && bias.shape[0] === 1 && bias.shape[1] === vocabSize);
  if (!isVector) throw fail(`bias "${bias.name}" has shape [${bias.shape}]; expected rank 1 [${vocabSize}] (or [1, ${vocabSize}])`);
}

/** Up to ten names, closest (edit distance) first, so a typo shows its fix. */
export function nearestNames(wanted: string, names: readonly string[]): string {
  if (names.length === 0) return "(none)";
  const ranked = names.map((n) => ({ n, d: editDistance(wanted, n) })).sort((a, b) => a.d - b.d || a.n.localeCompare(b.n));
  const shown = ranked
    .slice(0, 10)
    .map((r) => r.n)
    .join(", ");
  return names.length > 10 ? `${shown} (and ${names.length - 10} more)` : shown;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length]!;
}

/**
 * Chooses by name, reads only the chosen tensors' headers (`locate`), checks
 * them, and opens the head. `names` may come from an index, before any
 * tensor file has been opened.
 */
export async function openChosenHead(
  names: readonly string[],
  locate: (name: string) => Promise<TensorInfo>,
  options: TensorNames & { chunkBytes?: number },
  where: string,
): Promise<TensorHead> {
  const choice = chooseTensors(names, options, where);
  const weight = await locate(choice.weight);
  const bias = choice.bias === null ? null : await locate(choice.bias);
  checkHead(weight, bias, where);
  return new TensorHead(weight, bias, where, options.chunkBytes);
}
