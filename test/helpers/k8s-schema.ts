/**
 * Validates rendered objects against the Kubernetes OpenAPI schema, through
 * the `kubernetes-models` classes (types, required fields, enums, formats),
 * and strictly: a field the schema does not know is an error, as with
 * `kubectl apply`'s default `--validate=strict`. The models' validators do
 * not reject unknown fields themselves, but they read every field the schema
 * declares; so the object is handed over behind proxies that record each
 * field read, and any field never read is one the schema does not have (a
 * typo such as `readinesProbe` would otherwise pass silently).
 */
import * as models from "kubernetes-models";
import type { K8sObject } from "./k8s-manifests.js";

type ModelClass = { prototype: { validate(): void } };

/** apiVersion "networking.k8s.io/v1" → models.networkingK8sIo.v1; "v1" → models.v1. */
function modelClass(apiVersion: string, kind: string): ModelClass | undefined {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  const groupKey = group!.replace(/\.([a-z0-9])/g, (_, c: string) => c.toUpperCase());
  const all = models as unknown as Record<string, Record<string, Record<string, ModelClass>>>;
  const versions = group === "" ? { [version!]: all[version!] as unknown as Record<string, ModelClass> } : all[groupKey];
  return versions?.[version!]?.[kind];
}

interface Visited {
  path: string;
  value: Record<string, unknown>;
  read: Set<string>;
}

function watched(value: unknown, path: string, visited: Visited[]): unknown {
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map((v, i) => watched(v, `${path}[${i}]`, visited));
  const record = value as Record<string, unknown>;
  const read = new Set<string>();
  visited.push({ path, value: record, read });
  const copy = Object.fromEntries(Object.entries(record).map(([k, v]) => [k, watched(v, path ? `${path}.${k}` : k, visited)]));
  return new Proxy(copy, {
    get(target, key, receiver) {
      if (typeof key === "string") read.add(key);
      return Reflect.get(target, key, receiver);
    },
  });
}

/** Every problem with one object: no schema for its kind, schema violations, unknown fields. */
export function schemaProblems(object: K8sObject): string[] {
  const where = `${object.kind}/${object.metadata?.name}`;
  const model = modelClass(object.apiVersion, object.kind);
  if (!model) return [`${where}: no Kubernetes schema for ${object.apiVersion} ${object.kind}`];
  const visited: Visited[] = [];
  try {
    model.prototype.validate.call(watched(object, "", visited));
  } catch (err) {
    return [`${where}: ${err instanceof Error ? err.message : String(err)}`];
  }
  const unknown = visited.flatMap((v) =>
    Object.keys(v.value)
      .filter((k) => !v.read.has(k))
      .map((k) => (v.path ? `${v.path}.${k}` : k)),
  );
  return unknown.map((field) => `${where}: unknown field ${field}`);
}
