/**
 * What a V2 client sees of the gateway: the server's metadata, the one model
 * (named by --model-name) and its one version, "1" — the served head may
 * change under a running gateway, but its tensors do not, and V2 clients
 * address a version they can write down in advance; the head's fingerprint
 * is in the model's properties. Shared by REST /v2 and gRPC inference.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ShardmaxError } from "../../shared/errors.js";
import { packageRoot } from "../../shared/package-root.js";
import { quoteShort } from "../../shared/text/quote-short.js";
import type { GatewayCore } from "./core.js";
import { V2_INPUTS, V2_OUTPUTS } from "./v2-infer.js";

export const DEFAULT_MODEL_NAME = "shardmax";
export const MODEL_VERSION = "1";
/** Triton's name for the binary tensor extension, as clients look it up in the server metadata. */
export const V2_EXTENSIONS = ["binary_tensor_data"];

let serverVersion: string | undefined;

export function v2ServerMetadata(): { name: string; version: string; extensions: string[] } {
  serverVersion ??= (JSON.parse(readFileSync(join(packageRoot(), "package.json"), "utf8")) as { version: string }).version;
  return { name: "shardmax", version: serverVersion, extensions: V2_EXTENSIONS };
}

/** NOT_FOUND unless the name is the served model's and the version (when given) is one it has. */
export function checkModel(modelName: string, name: string, version: string | undefined): void {
  if (name !== modelName) throw new ShardmaxError("NOT_FOUND", `model ${quoteShort(name)}: no such model (this gateway serves ${quoteShort(modelName)})`);
  if (version !== undefined && version !== "" && version !== MODEL_VERSION) {
    throw new ShardmaxError("NOT_FOUND", `model ${quoteShort(name)} version ${quoteShort(version)}: no such version (it has ${MODEL_VERSION})`);
  }
}

export interface V2TensorMetadata {
  name: string;
  datatype: string;
  shape: number[];
}

/** The model's metadata: tensors with −1 for the batch and for the free widths; d once the head is known. */
export function v2ModelMetadata(core: GatewayCore, modelName: string) {
  const model = core.requireReady();
  const width = (name: string): number[] => (name === "logsumexp" || name === "sample_seeds" ? [-1] : [-1, -1]);
  return {
    name: modelName,
    versions: [MODEL_VERSION],
    platform: "shardmax",
    inputs: [
      { name: "hidden", datatype: V2_INPUTS.hidden[0], shape: [-1, model.dim] },
      { name: "targets", datatype: V2_INPUTS.targets[0], shape: [-1, -1] },
    ] as V2TensorMetadata[],
    outputs: Object.entries(V2_OUTPUTS).map(([name, datatype]) => ({ name, datatype, shape: width(name) })) as V2TensorMetadata[],
    properties: { fingerprint: model.fingerprint, vocab_size: String(model.vocabSize), dim: String(model.dim) },
  };
}
