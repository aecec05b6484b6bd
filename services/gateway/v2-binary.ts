/**
 * Triton's binary tensor extension over HTTP (extension_binary_data.md): a
 * body is a JSON header of `Inference-Header-Content-Length` bytes followed by
 * the raw tensors, each input with `binary_data_size` taking its bytes in
 * order; a response with binary outputs is built the same way. Pure: bytes
 * and JSON in, JSON and bytes out.
 */
import { invalidField, ShardmaxError } from "../../shared/errors.js";
import { boundText } from "../../shared/text/quote-short.js";
import type { V2InferRequest } from "./v2-infer.js";
import { outputBytes, outputJson, type V2OutputTensor } from "./v2-infer.js";

export const HEADER_LENGTH = "inference-header-content-length";

/** The JSON header and the raw tail of a body; without the header length the whole body is JSON. */
export function splitBody(body: Buffer, headerLength: string | string[] | undefined): { header: unknown; tail: Buffer } {
  let cut = body.length;
  if (headerLength !== undefined) {
    const text = Array.isArray(headerLength) ? headerLength.join(",") : headerLength;
    if (!/^\d{1,15}$/.test(text.trim()) || Number(text) > body.length) {
      const got = boundText(JSON.stringify(text), 40);
      throw invalidField("Inference-Header-Content-Length", `must be an integer from 0 to the body's ${body.length} bytes, got ${got}`);
    }
    cut = Number(text);
  }
  if (cut === 0) throw new ShardmaxError("MALFORMED_REQUEST", "body: the JSON header is empty");
  let header: unknown;
  try {
    header = JSON.parse(body.subarray(0, cut).toString("utf8"));
  } catch (err) {
    throw new ShardmaxError("MALFORMED_REQUEST", `body: the JSON header is not valid JSON (${boundText((err as Error).message, 200)})`);
  }
  return { header, tail: body.subarray(cut) };
}

/** Gives each input with `binary_data_size` its bytes from the tail, in order; every tail byte must be claimed. */
export function attachBinary(request: V2InferRequest, tail: Buffer): V2InferRequest {
  let at = 0;
  const inputs = request.inputs.map((input) => {
    const size = input.parameters?.binary_data_size;
    if (size === undefined) return input;
    const field = `${input.name}.parameters.binary_data_size`;
    if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 0) throw invalidField(field, `must be an integer ≥ 0, got ${JSON.stringify(size)}`);
    if (input.data !== undefined) throw invalidField(`${input.name}.data`, "must be left out when binary_data_size is given");
    if (at + size > tail.length) throw invalidField(field, `${size} bytes from byte ${at} runs past the ${tail.length} bytes after the JSON header`);
    const raw = tail.subarray(at, at + size);
    at += size;
    return { ...input, raw };
  });
  if (at !== tail.length) throw invalidField("body", `${tail.length - at} bytes after the JSON header belong to no input (binary_data_size adds up to ${at})`);
  return { ...request, inputs };
}

/** The response: JSON alone, or (when any output is binary) a JSON header and the binary outputs' bytes. */
export function encodeResponse(head: Record<string, unknown>, tensors: V2OutputTensor[]): { json: object } | { headerLength: number; body: Buffer } {
  const parts: Buffer[] = [];
  const outputs = tensors.map((t) => {
    const base = { name: t.name, datatype: t.datatype, shape: t.shape };
    if (!t.binary) return { ...base, data: outputJson(t) };
    const bytes = outputBytes(t);
    parts.push(bytes);
    return { ...base, parameters: { binary_data_size: bytes.length } };
  });
  const json = { ...head, outputs };
  if (parts.length === 0) return { json };
  const header = Buffer.from(JSON.stringify(json), "utf8");
  return { headerLength: header.length, body: Buffer.concat([header, ...parts]) };
}
