/**
 * What `shardmax local` prints on stdout: addresses a user can connect to,
 * loading progress readable in a plain log (one line per shard per 10%, no
 * carriage-return tricks), and a request they can paste as is.
 */
import { splitHostPort } from "./values.js";

/** The host:port a local client should use for a listen address and its bound port. */
export function connectAddress(listen: string, boundPort: number): string {
  const { host } = splitHostPort(listen);
  const wildcard = host === "0.0.0.0" ? "127.0.0.1" : host === "::" ? "::1" : host;
  return `${wildcard.includes(":") ? `[${wildcard}]` : wildcard}:${boundPort}`;
}

/**
 * A working POST /v1/softmax for a head of dimension `dim`: node (which the
 * user has, since they run shardmax) generates one row of `dim` finite
 * numbers; curl posts it from stdin. Single quotes keep it shell-safe.
 */
export function curlExample(restAddress: string, dim: number, tls?: CurlTls): string {
  const body = `console.log(JSON.stringify({hidden: [Array.from({length: ${dim}}, (_, i) => Math.sin(i + 1))], topK: 5}))`;
  return `node -e '${body}' | curl -sS ${curlTlsFlags(tls)}-H 'content-type: application/json' -d @- ${tls ? "https" : "http"}://${restAddress}/v1/softmax`;
}

/** PEM files curl needs for a mutual-TLS gateway. */
export interface CurlTls {
  ca: string;
  cert: string;
  key: string;
}

/** `--cacert … --cert … --key … ` (single-quoted paths), or "" without TLS. */
export function curlTlsFlags(tls: CurlTls | undefined): string {
  if (!tls) return "";
  const q = (path: string) => `'${path.replace(/'/g, "'\\''")}'`;
  return `--cacert ${q(tls.ca)} --cert ${q(tls.cert)} --key ${q(tls.key)} `;
}

/**
 * Prints a shard's loading progress when it crosses the next 10%. Held until
 * `start()`: a shard may report progress before the parent has printed where
 * everything listens.
 */
export class ProgressLines {
  private readonly printed = new Map<string, number>();
  private readonly latest = new Map<string, number>();
  private started = false;

  constructor(private readonly out: (line: string) => void) {}

  start(): void {
    this.started = true;
    for (const [label, percent] of this.latest) this.update(label, percent);
  }

  update(label: string, percent: number): void {
    this.latest.set(label, percent);
    const decile = Math.floor(Math.min(100, Math.max(0, percent)) / 10);
    if (!this.started || decile <= (this.printed.get(label) ?? -1)) return;
    this.printed.set(label, decile);
    this.out(`  shard ${label} loading ${Math.floor(percent)}%`);
  }
}

export function formatSeconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
