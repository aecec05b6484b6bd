/**
 * JSON schemas of the REST /v2 routes, written from the specification's
 * open_inference_rest.yaml: request bodies are checked against them before
 * any work, and responses serialized by them (and documented from them in
 * the OpenAPI document). Every status a route can answer has a schema.
 */
const error = { type: "object", required: ["error"], properties: { error: { type: "string" } } } as const;
const errors = { "4xx": error, "5xx": error } as const;
const parameters = { type: "object", additionalProperties: { anyOf: [{ type: "boolean" }, { type: "number" }, { type: "string" }] } } as const;
const tensorMetadata = {
  type: "object",
  required: ["name", "datatype", "shape"],
  properties: { name: { type: "string" }, datatype: { type: "string" }, shape: { type: "array", items: { type: "integer" } } },
} as const;

export const V2_SCHEMAS = {
  params: { type: "object", properties: { name: { type: "string" }, version: { type: "string" } } },
  health: { 200: { type: "null" }, ...errors },
  serverMetadata: {
    200: {
      type: "object",
      required: ["name", "version", "extensions"],
      properties: { name: { type: "string" }, version: { type: "string" }, extensions: { type: "array", items: { type: "string" } } },
    },
    ...errors,
  },
  modelMetadata: {
    200: {
      type: "object",
      required: ["name", "platform"],
      properties: {
        name: { type: "string" },
        versions: { type: "array", items: { type: "string" } },
        platform: { type: "string" },
        inputs: { type: "array", items: tensorMetadata },
        outputs: { type: "array", items: tensorMetadata },
        properties: { type: "object", additionalProperties: { type: "string" } },
      },
    },
    ...errors,
  },
  inferRequest: {
    type: "object",
    required: ["inputs"],
    properties: {
      id: { type: "string" },
      parameters,
      inputs: {
        type: "array",
        items: {
          type: "object",
          required: ["name", "shape", "datatype"],
          properties: { ...tensorMetadata.properties, parameters, data: {} },
        },
      },
      outputs: { type: "array", items: { type: "object", required: ["name"], properties: { name: { type: "string" }, parameters } } },
    },
  },
  infer: {
    200: {
      type: "object",
      required: ["model_name", "outputs"],
      properties: {
        model_name: { type: "string" },
        model_version: { type: "string" },
        id: { type: "string" },
        parameters,
        outputs: {
          type: "array",
          items: {
            type: "object",
            required: ["name", "shape", "datatype"],
            // data: numbers, and "NaN" / "Infinity" / "-Infinity" where JSON has no number; absent when binary.
            properties: { ...tensorMetadata.properties, parameters, data: { type: "array" } },
          },
        },
      },
    },
    ...errors,
  },
} as const;
