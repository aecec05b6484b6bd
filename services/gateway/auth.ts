/**
 * Who may ask: the one rule every door (REST plugins, gRPC services) applies
 * before any work. With API keys on, a request needs `Bearer KEY` in its
 * authorization header/metadata and, with quotas on, room in its key's
 * buckets. Probes (liveness, readiness, health, reflection) stay open so
 * orchestrators need no key; /metrics is open unless --metrics-auth.
 */
import { ShardmaxError } from "../../shared/errors.js";
import type { ApiKeys } from "./api-keys.js";
import type { KeyQuota } from "./key-quota.js";

export interface AuthOptions {
  keys: ApiKeys;
  quota: KeyQuota | null;
  /** /metrics needs a key too. */
  metricsAuth: boolean;
}

const OPEN_REST = new Set(["/healthz", "/readyz", "/livez", "/v2/health/live", "/v2/health/ready"]);
const OPEN_GRPC_PREFIXES = ["/grpc.health.v1.Health/", "/grpc.reflection."];

export class Gatekeeper {
  constructor(private readonly options: AuthOptions) {}

  /** Whether a REST path (query string included or not) needs a key. */
  guardsPath(url: string): boolean {
    const path = url.split("?", 1)[0]!;
    if (OPEN_REST.has(path)) return false;
    if (path === "/metrics") return this.options.metricsAuth;
    return true;
  }

  /** Whether a gRPC method (`/package.Service/Method`) needs a key. */
  guardsMethod(path: string): boolean {
    return !OPEN_GRPC_PREFIXES.some((prefix) => path.startsWith(prefix));
  }

  /** The caller of an `authorization` value; throws UNAUTHENTICATED, or RATE_LIMITED (key-quota.ts) over quota. */
  admit(authorization: string | undefined): string {
    const match = /^\s*Bearer\s+(\S+)\s*$/i.exec(authorization ?? "");
    if (!match)
      throw new ShardmaxError(
        "UNAUTHENTICATED",
        authorization === undefined ? "authorization: missing; send Bearer KEY" : "authorization: expected Bearer KEY",
      );
    const caller = this.options.keys.identify(match[1]!);
    if (caller === null) throw new ShardmaxError("UNAUTHENTICATED", "authorization: unknown API key");
    this.options.quota?.admit(caller);
    return caller;
  }

  chargeRows(caller: string, message: unknown): void {
    this.options.quota?.chargeRows(caller, rowsOf(message));
  }

  close(): void {
    this.options.keys.close();
  }
}

/**
 * Rows a request asks for, read from its parsed body or message before
 * validation (so a malformed one counts as one row): `rows` (gRPC), `hidden`
 * (REST /v1), or the first dimension of the first input's shape (V2).
 */
export function rowsOf(message: unknown): number {
  if (typeof message !== "object" || message === null) return 1;
  const m = message as { rows?: unknown; hidden?: unknown; inputs?: unknown };
  const rows = typeof m.rows === "number" ? m.rows : Array.isArray(m.hidden) ? m.hidden.length : firstShape(m.inputs);
  return Number.isSafeInteger(rows) && rows > 0 ? rows : 1;
}

function firstShape(inputs: unknown): number {
  if (!Array.isArray(inputs)) return 1;
  const shape = (inputs[0] as { shape?: unknown } | undefined)?.shape;
  return Array.isArray(shape) ? Number(shape[0]) : 1;
}
