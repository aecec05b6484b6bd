/**
 * Sequential and closed-loop latency drivers shared by the fixed-cost,
 * scale-out and hedging probes: one function that times `ask` (any async call)
 * and the REST and SDK calls a user would make.
 */
import { Agent, request } from "node:http";
import { ShardmaxClient } from "../../sdk/index.js";
import { percentile } from "../load.js";

export interface Timing {
  count: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Answers per second over the measured window (all callers). */
  perS: number;
  errors: number;
}

/** `callers` closed-loop callers of `ask` for `warmup` then `measured` calls each (1 caller: sequential). */
export async function timeCalls(ask: (i: number) => Promise<unknown>, options: { warmup: number; measured: number; callers?: number }): Promise<Timing> {
  const callers = options.callers ?? 1;
  const latencies: number[] = [];
  let errors = 0;
  let next = 0;
  const one = async (record: boolean) => {
    const sent = performance.now();
    try {
      await ask(next++);
    } catch {
      errors++;
      return;
    }
    if (record) latencies.push(performance.now() - sent);
  };
  await Promise.all(
    Array.from({ length: callers }, async () => {
      for (let i = 0; i < options.warmup; i++) await one(false);
    }),
  );
  const start = performance.now();
  await Promise.all(
    Array.from({ length: callers }, async () => {
      for (let i = 0; i < options.measured; i++) await one(true);
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    count: latencies.length,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    maxMs: latencies.at(-1) ?? NaN,
    perS: latencies.length / seconds,
    errors,
  };
}

/** POST /v1/softmax with keep-alive, as a REST user would: one row of `hidden`, topK. */
export function restAsker(port: number, rows: number[][], topK: number): { ask: (i: number) => Promise<unknown>; close: () => void } {
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const bodies = rows.map((row) => JSON.stringify({ hidden: [row], topK }));
  return { ask: (i) => postSoftmax(agent, port, bodies[i % bodies.length]!), close: () => agent.destroy() };
}

/** POST /v1/softmax with keep-alive, the body serialised per request from the rows of `hidden` (`dim` wide), as a REST user's code would. */
export function restSender(port: number, dim: number, topK: number): { send: (hidden: Float32Array) => Promise<unknown>; close: () => void } {
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const send = (hidden: Float32Array) => {
    const rows = Array.from({ length: hidden.length / dim }, (_, r) => Array.from(hidden.subarray(r * dim, (r + 1) * dim)));
    return postSoftmax(agent, port, JSON.stringify({ hidden: rows, topK }));
  };
  return { send, close: () => agent.destroy() };
}

function postSoftmax(agent: Agent, port: number, body: string): Promise<unknown> {
  return new Promise<unknown>((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        path: "/v1/softmax",
        method: "POST",
        agent,
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          res.statusCode === 200
            ? resolve(JSON.parse(Buffer.concat(chunks).toString()))
            : reject(new Error(`HTTP ${res.statusCode}: ${Buffer.concat(chunks)}`)),
        );
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/** The SDK's Query (gRPC), one row of `hidden`, topK. */
export function sdkAsker(port: number, rows: number[][], topK: number): { ask: (i: number) => Promise<unknown>; close: () => void } {
  const client = new ShardmaxClient(`127.0.0.1:${port}`, { defaultDeadlineMs: 60_000 });
  const hidden = rows.map((row) => Float32Array.from(row));
  const dim = rows[0]!.length;
  return { ask: (i) => client.query({ hidden: hidden[i % hidden.length]!, dim, topK }), close: () => client.close() };
}

/** Rows of N(0,1)-like numbers, deterministic. */
export function randomRows(count: number, dim: number, seed = 7): number[][] {
  let state = seed >>> 0;
  const next = () => ((state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32 - 0.5) * 3.4;
  return Array.from({ length: count }, () => Array.from({ length: dim }, () => Math.fround(next())));
}

/** utime + stime of a process in ms, from /proc (Linux; clock ticks of 10 ms). */
export async function cpuMsOf(pid: number): Promise<number> {
  const { readFileSync } = await import("node:fs");
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const after = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(after[11]) + Number(after[12])) * 10;
}
