/**
 * The JSON schemas of REST /v1's answers: they document the API in
 * /openapi.json and let fastify serialize answers without a generic
 * JSON.stringify. They follow the answer types of shared/results.ts.
 */

const modelRef = {
  type: "object",
  required: ["fingerprint", "vocabSize", "dim"],
  properties: { fingerprint: { type: "string" }, vocabSize: { type: "integer" }, dim: { type: "integer" } },
} as const;

const classScore = (extra: Record<string, object> = {}, required: string[] = []) =>
  ({
    type: "object",
    required: ["id", "logit", "logprob", ...required],
    properties: {
      id: { type: "integer" },
      label: { type: "string", description: "present with --labels" },
      logit: { type: "number", description: "the temperature-scaled logit" },
      logprob: { type: "number" },
      ...extra,
    },
  }) as const;

export const QUERY_RESULT_SCHEMA = {
  type: "object",
  required: ["model", "results"],
  properties: {
    model: modelRef,
    results: {
      type: "array",
      items: {
        type: "object",
        required: ["logZ", "top", "targets"],
        properties: {
          logZ: { type: "number" },
          top: { type: "array", items: classScore({ prob: { type: "number" } }, ["prob"]) },
          targets: { type: "array", items: classScore() },
          seed: { type: "integer", description: "when sampled: the row's seed" },
          samples: { type: "array", items: classScore(), description: "when sampled: the draws in order" },
        },
      },
    },
  },
} as const;

export const MODEL_INFO_SCHEMA = {
  type: "object",
  required: ["model", "ready", "reason", "dtype", "hasBias", "maxTopK", "maxRows", "ranges", "labels"],
  properties: {
    model: { ...modelRef, nullable: true },
    ready: { type: "boolean" },
    reason: { type: "string" },
    dtype: { type: "string" },
    hasBias: { type: "boolean" },
    maxTopK: { type: "integer" },
    maxRows: { type: "integer" },
    ranges: {
      type: "array",
      items: {
        type: "object",
        required: ["start", "end", "replicas"],
        properties: {
          start: { type: "integer" },
          end: { type: "integer" },
          replicas: {
            type: "array",
            items: {
              type: "object",
              required: ["address", "healthy", "error"],
              properties: { address: { type: "string" }, healthy: { type: "boolean" }, error: { type: "string", nullable: true } },
            },
          },
        },
      },
    },
    labels: {
      type: "object",
      nullable: true,
      required: ["source", "kind", "count"],
      properties: { source: { type: "string" }, kind: { type: "string", enum: ["text", "tokenizer.json"] }, count: { type: "integer" } },
    },
  },
} as const;

export const ERROR_SCHEMA = {
  type: "object",
  required: ["error"],
  properties: {
    error: {
      type: "object",
      required: ["code", "message"],
      properties: { code: { type: "string", description: "a code of the README's error table" }, message: { type: "string" } },
    },
  },
} as const;

/** The error answers every /v1 route may give, by status. */
export const ERROR_RESPONSES = { "4xx": ERROR_SCHEMA, "5xx": ERROR_SCHEMA } as const;

export const STATUS_SCHEMA = {
  type: "object",
  required: ["status"],
  properties: { status: { type: "string" }, ranges: { type: "integer" } },
} as const;
