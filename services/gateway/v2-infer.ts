/**
 * A V2 inference request as a core `Query`, and the core's `Answer` as V2
 * output tensors: the tensor names, datatypes and parameters are the contract
 * (README "Open Inference Protocol"). Pure and shared by REST and gRPC; the
 * limits, d, ranges and finiteness are the core's checks (query.ts), only what
 * is V2's own (names, datatypes, shapes, parameter types) is checked here.
 *
 * Unknown request parameters are ignored, as V2 servers do with parameters
 * meant for others (clients and proxies add their own); unknown tensors are refused.
 */
import { invalidField } from "../../shared/errors.js";
import { quoteShort } from "../../shared/text/quote-short.js";
import { type Answer, DEFAULT_TOP_K, type Query } from "./query.js";
import type { SampleRequest } from "./sampling.js";
import { numbersOf, shape2, type V2Input, type V2Param, type V2Params } from "./v2-tensors.js";

export const V2_INPUTS = { hidden: ["FP32", "FP16", "FP64"], targets: ["INT64"] } as const;
export const V2_OUTPUTS = {
  logsumexp: "FP64",
  top_ids: "INT64",
  top_logprobs: "FP64",
  target_logprobs: "FP64",
  sample_ids: "INT64",
  sample_logprobs: "FP64",
  sample_seeds: "INT64",
} as const;
export type V2OutputName = keyof typeof V2_OUTPUTS;

export interface V2RequestedOutput {
  name: string;
  parameters?: V2Params;
}

export interface V2InferRequest {
  inputs: V2Input[];
  outputs?: V2RequestedOutput[];
  parameters?: V2Params;
}

/** What the answer is turned into: which outputs, in which order, which of them as bytes (REST), where targets were padding. */
export interface V2Plan {
  outputs: { name: V2OutputName; binary: boolean }[];
  /** Per row, per target column: false where the request had −1. */
  targetSent: boolean[][];
}

export interface V2OutputTensor {
  name: V2OutputName;
  datatype: "FP64" | "INT64";
  shape: number[];
  values: Float64Array;
  binary: boolean;
}

export function queryFromV2(request: V2InferRequest): { query: Query; plan: V2Plan } {
  const inputs = new Map<string, V2Input>();
  for (const input of request.inputs) {
    if (!Object.hasOwn(V2_INPUTS, input.name)) throw invalidField(`inputs`, `${quote(input.name)} is not an input of this model (hidden, targets)`);
    if (inputs.has(input.name)) throw invalidField(`inputs`, `${quote(input.name)} is given twice`);
    const allowed: readonly string[] = V2_INPUTS[input.name as keyof typeof V2_INPUTS];
    if (!allowed.includes(input.datatype)) throw invalidField(`${input.name}.datatype`, `must be ${allowed.join(" or ")}, got ${quote(input.datatype)}`);
    inputs.set(input.name, input);
  }
  const hiddenInput = inputs.get("hidden");
  if (!hiddenInput) throw invalidField("inputs", "hidden is required");
  const [rows, dim] = shape2(hiddenInput);
  const hidden = Float32Array.from(numbersOf(hiddenInput, rows * dim, false));
  const targetsInput = inputs.get("targets");
  const { targets, targetSent } = targetsInput ? targetsFrom(targetsInput, rows) : { targets: [], targetSent: [] };
  const params = request.parameters ?? {};
  const query: Query = { rows, dim, hidden, topK: int(params, "top_k") ?? DEFAULT_TOP_K, targets, temperature: num(params, "temperature") ?? 1 };
  const sample = sampleFrom(params);
  if (sample) query.sample = sample;
  return { query, plan: { outputs: outputsFrom(request, targetsInput !== undefined, sample !== undefined), targetSent } };
}

/** Targets [rows, t]: −1 is padding (answered NaN); any other id goes to the core, which checks its range. */
function targetsFrom(input: V2Input, rows: number): { targets: number[][]; targetSent: boolean[][] } {
  const [targetRows, t] = shape2(input);
  if (targetRows !== rows) throw invalidField("targets.shape", `has ${targetRows} rows, hidden has ${rows}`);
  const ids = numbersOf(input, rows * t, true);
  const targets: number[][] = [];
  const targetSent: boolean[][] = [];
  for (let r = 0; r < rows; r++) {
    const list: number[] = [];
    const sent: boolean[] = [];
    for (let j = 0; j < t; j++) {
      const id = ids[r * t + j]!;
      if (id < -1) throw invalidField(`targets[${r}][${j}]`, `must be a class id ≥ 0, or −1 for padding, got ${id}`);
      sent.push(id !== -1);
      if (id !== -1) list.push(id);
    }
    targets.push(list);
    targetSent.push(sent);
  }
  return { targets, targetSent };
}

function sampleFrom(params: V2Params): SampleRequest | undefined {
  const n = int(params, "sample_n");
  const rest = { seed: int(params, "seed"), topK: int(params, "sample_top_k"), topP: num(params, "top_p"), minP: num(params, "min_p") };
  if (n === undefined) {
    const stray = Object.entries({ seed: rest.seed, sample_top_k: rest.topK, top_p: rest.topP, min_p: rest.minP }).find(([, v]) => v !== undefined);
    if (stray) throw invalidField(`parameters.${stray[0]}`, "is a sampling parameter: send sample_n too");
    return undefined;
  }
  const sample: SampleRequest = { n };
  for (const [key, value] of Object.entries(rest)) if (value !== undefined) Object.assign(sample, { [key]: value });
  return sample;
}

function outputsFrom(request: V2InferRequest, hasTargets: boolean, sampled: boolean): V2Plan["outputs"] {
  const binaryAll = bool(request.parameters ?? {}, "binary_data_output") ?? false;
  const available = (Object.keys(V2_OUTPUTS) as V2OutputName[]).filter(
    (name) => (name !== "target_logprobs" || hasTargets) && (!name.startsWith("sample_") || sampled),
  );
  if (!request.outputs || request.outputs.length === 0) return available.map((name) => ({ name, binary: binaryAll }));
  const seen = new Set<string>();
  return request.outputs.map((output, i) => {
    const name = output.name as V2OutputName;
    const field = `outputs[${i}].name`;
    if (!Object.hasOwn(V2_OUTPUTS, name))
      throw invalidField(field, `${quote(output.name)} is not an output of this model (${Object.keys(V2_OUTPUTS).join(", ")})`);
    if (!available.includes(name)) throw invalidField(field, `${name} needs ${name === "target_logprobs" ? "the targets input" : "the sample_n parameter"}`);
    if (seen.has(name)) throw invalidField(`outputs[${i}].name`, `${name} is asked twice`);
    seen.add(name);
    return { name, binary: bool(output.parameters ?? {}, "binary_data", `outputs[${i}].parameters`) ?? binaryAll };
  });
}

/** The answer's tensors, in the plan's order; padding targets and any non-finite value stay as they are (NaN, ±∞). */
export function v2Outputs(answer: Answer, plan: V2Plan): V2OutputTensor[] {
  const rows = answer.results;
  const B = rows.length;
  const k = rows[0]?.top.length ?? 0;
  const n = rows[0]?.samples?.length ?? 0;
  const t = plan.targetSent[0]?.length ?? 0;
  const grid = (width: number, at: (r: number, j: number) => number) => {
    const values = new Float64Array(B * width);
    for (let r = 0; r < B; r++) for (let j = 0; j < width; j++) values[r * width + j] = at(r, j);
    return values;
  };
  const targetLogprobs = () =>
    Float64Array.from(
      plan.targetSent.flatMap((sent, r) => {
        let next = 0;
        return sent.map((isSent) => (isSent ? rows[r]!.targets[next++]!.logprob : NaN));
      }),
    );
  const tensors: Record<V2OutputName, () => { shape: number[]; values: Float64Array }> = {
    logsumexp: () => ({ shape: [B], values: Float64Array.from(rows, (r) => r.logZ) }),
    top_ids: () => ({ shape: [B, k], values: grid(k, (r, j) => rows[r]!.top[j]!.id) }),
    top_logprobs: () => ({ shape: [B, k], values: grid(k, (r, j) => rows[r]!.top[j]!.logprob) }),
    target_logprobs: () => ({ shape: [B, t], values: targetLogprobs() }),
    sample_ids: () => ({ shape: [B, n], values: grid(n, (r, j) => rows[r]!.samples![j]!.id) }),
    sample_logprobs: () => ({ shape: [B, n], values: grid(n, (r, j) => rows[r]!.samples![j]!.logprob) }),
    sample_seeds: () => ({ shape: [B], values: Float64Array.from(rows, (r) => r.seed ?? 0) }),
  };
  return plan.outputs.map(({ name, binary }) => ({ name, datatype: V2_OUTPUTS[name], binary, ...tensors[name]() }));
}

/** Little-endian bytes of an output: IEEE doubles, or two's-complement int64. */
export function outputBytes(tensor: V2OutputTensor): Buffer {
  if (tensor.datatype === "FP64") return Buffer.from(tensor.values.buffer, tensor.values.byteOffset, tensor.values.byteLength);
  const ints = BigInt64Array.from(tensor.values, (v) => BigInt(v));
  return Buffer.from(ints.buffer, ints.byteOffset, ints.byteLength);
}

/** JSON cannot carry NaN or ±∞: they go as the strings "NaN", "Infinity", "-Infinity" (numpy reads them as floats). */
export function outputJson(tensor: V2OutputTensor): (number | string)[] {
  return Array.from(tensor.values, (v) => (Number.isFinite(v) ? v : String(v)));
}

function param(params: V2Params, name: string): V2Param | undefined {
  return Object.hasOwn(params, name) ? params[name] : undefined;
}

function int(params: V2Params, name: string): number | undefined {
  const v = param(params, name);
  if (v !== undefined && (typeof v !== "number" || !Number.isInteger(v))) throw invalidField(`parameters.${name}`, `must be an integer, got ${show(v)}`);
  return v as number | undefined;
}

function num(params: V2Params, name: string): number | undefined {
  const v = param(params, name);
  if (v !== undefined && typeof v !== "number") throw invalidField(`parameters.${name}`, `must be a number, got ${show(v)}`);
  return v as number | undefined;
}

function bool(params: V2Params, name: string, where = "parameters"): boolean | undefined {
  const v = param(params, name);
  if (v !== undefined && typeof v !== "boolean") throw invalidField(`${where}.${name}`, `must be true or false, got ${show(v)}`);
  return v as boolean | undefined;
}

function show(v: V2Param): string {
  return typeof v === "string" ? quote(v) : String(v);
}

function quote(s: unknown): string {
  return quoteShort(String(s));
}
