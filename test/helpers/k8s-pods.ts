/**
 * "Pods" on loopback, started from the rendered manifests: each runs exactly
 * the container's process (the image entry point mapped onto this checkout,
 * its args, its resolved environment) with the few values a cluster would
 * supply substituted — the pod's own address for 0.0.0.0 (every 127.x.y.z is
 * loopback on Linux, so pods share a port as they do behind a headless
 * Service), and a local folder for the checkpoint volume's mount path. The
 * headless Service's DNS name is a hosts-format file that lists the ready
 * pods, which the gateway reads through its test-only SHARDMAX_HOSTS_FILE.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { rename, writeFile } from "node:fs/promises";
import * as grpc from "@grpc/grpc-js";
import { service as healthService } from "grpc-health-check";
import { container, containerProcess, imageEntrypoint, type K8sObject, portOf, ROOT } from "./k8s-manifests.js";

export interface Substitutions {
  /** The volume mount path of the checkpoint → a local folder holding the test's head. */
  mounts: Record<string, string>;
  /** Extra environment, e.g. SHARDMAX_HOSTS_FILE for the gateway. */
  env?: Record<string, string>;
}

/** A per-run block of loopback addresses, so parallel runs on one machine do not collide. */
export function loopbackBlock(salt: number): string {
  return `127.${20 + (process.pid % 200)}.${salt}`;
}

export class LocalPod {
  /** Set when the pod is being deleted: the endpoints controller drops it while it still runs. */
  terminating = false;
  private child: ChildProcess | null = null;
  private log = "";
  private exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }> = Promise.resolve({ code: null, signal: null });
  readonly argv: string[];
  readonly env: Record<string, string>;

  constructor(
    readonly name: string,
    readonly ip: string,
    objects: readonly K8sObject[],
    readonly workload: K8sObject,
    index: number,
    subs: Substitutions,
  ) {
    const namespace = workload.metadata.namespace ?? "default";
    const resolved = containerProcess(objects, workload, { index, name, namespace, ip });
    const { workdir } = imageEntrypoint();
    const local = (value: string) => {
      let out = value.replace(/^0\.0\.0\.0:/, `${ip}:`);
      for (const [mount, folder] of Object.entries(subs.mounts)) if (out.startsWith(`${mount}/`)) out = folder + out.slice(mount.length);
      return out;
    };
    // The image runs `node /app/…`; here node is this node and /app this checkout (whose dist/ npm test has built).
    this.argv = resolved.argv.map((a, i) =>
      i === 0 && a === "node" ? process.execPath : a.startsWith(`${workdir}/`) ? `${ROOT}/${a.slice(workdir.length + 1)}` : local(a),
    );
    this.env = { ...Object.fromEntries(Object.entries(resolved.env).map(([k, v]) => [k, local(v)])), ...subs.env };
  }

  start(): void {
    // Only PATH from this process: no SHARDMAX_* of the test's own environment leaks into the pod.
    const child = spawn(this.argv[0]!, this.argv.slice(1), { env: { PATH: process.env.PATH ?? "", ...this.env }, stdio: ["ignore", "ignore", "pipe"] });
    child.stderr!.on("data", (chunk: Buffer) => (this.log = (this.log + chunk.toString()).slice(-20_000)));
    this.exit = once(child, "exit").then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }));
    this.child = child;
  }

  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  stderr(): string {
    return this.log;
  }

  signal(signal: NodeJS.Signals): void {
    if (this.running) this.child!.kill(signal);
  }

  /** Sends `signal` and waits for the exit. */
  async stop(signal: NodeJS.Signals = "SIGKILL"): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.running) {
      if (signal !== "SIGCONT") this.child!.kill("SIGCONT");
      this.child!.kill(signal);
    }
    return this.exit;
  }

  exited(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    return this.exit;
  }

  /** What the kubelet's readiness (or liveness) probe of the rendered manifest would see now. */
  async probe(kind: "readinessProbe" | "livenessProbe"): Promise<boolean> {
    const c = container(this.workload);
    const probe = c[kind] as Record<string, any>;
    if (probe.grpc) return (await grpcHealth(`${this.ip}:${probe.grpc.port}`, probe.grpc.service ?? "")) === "SERVING";
    const port = portOf(c, probe.httpGet.port);
    try {
      const res = await fetch(`http://${this.ip}:${port}${probe.httpGet.path}`, { signal: AbortSignal.timeout(2000) });
      return res.status >= 200 && res.status < 400;
    } catch {
      return false;
    }
  }

  async waitUntil(kind: "readinessProbe" | "livenessProbe", timeoutMs = 30_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      if (!this.running) throw new Error(`pod ${this.name} exited\n${this.log}`);
      if (await this.probe(kind)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`pod ${this.name}: ${kind} did not pass in ${timeoutMs} ms\n${this.log}`);
  }
}

const HealthClient = grpc.makeGenericClientConstructor(healthService as unknown as grpc.ServiceDefinition, "Health");
type Health = grpc.Client & Record<string, (...args: unknown[]) => unknown>;
const healthClients = new Map<string, Health>();

/**
 * grpc.health.v1 Check, as the kubelet's gRPC probe does it; an unreachable
 * server is "DOWN". One channel per address, kept (a new one per probe would
 * cost more CPU than the processes under test), reconnecting quickly.
 */
export function grpcHealth(address: string, serviceName: string): Promise<string> {
  let client = healthClients.get(address);
  if (!client) {
    client = new HealthClient(address, grpc.credentials.createInsecure(), {
      "grpc.initial_reconnect_backoff_ms": 50,
      "grpc.max_reconnect_backoff_ms": 200,
    }) as Health;
    healthClients.set(address, client);
  }
  return new Promise<string>((resolve) => {
    client.Check!({ service: serviceName }, { deadline: new Date(Date.now() + 2000) }, (err: grpc.ServiceError | null, res?: { status: string | number }) => {
      if (err) resolve(err.code === grpc.status.NOT_FOUND ? "SERVICE_UNKNOWN" : "DOWN");
      else resolve(typeof res!.status === "number" ? ["UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN"][res!.status]! : res!.status);
    });
  });
}

/** Closes the probe channels (end of a test file). */
export function closeHealthClients(): void {
  for (const client of healthClients.values()) client.close();
  healthClients.clear();
}

let writes = 0;

/**
 * The headless Service as DNS would answer it: the ready pods' addresses under
 * the Service's names. Written aside and renamed into place, so a reader never
 * sees a half-written (or empty) answer.
 */
export async function writeHostsFile(path: string, service: K8sObject, pods: readonly LocalPod[]): Promise<void> {
  const name = service.metadata.name;
  const fqdn = `${name}.${service.metadata.namespace ?? "default"}.svc.cluster.local`;
  const aside = `${path}.${process.pid}.${writes++}`;
  await writeFile(aside, pods.map((p) => `${p.ip} ${name} ${fqdn}\n`).join(""));
  await rename(aside, path);
}

/**
 * The endpoints controller and cluster DNS in one loop: each pod's rendered
 * readiness probe runs every periodMs, and the hosts file lists exactly the
 * pods whose last probe passed, so killed, stopped and restarted pods leave
 * and rejoin the headless Service's answer as they would in a cluster.
 */
export class Endpoints {
  private readonly ready = new Set<number>();
  private stopped = false;
  private written = "";
  private writing: Promise<void> = Promise.resolve();
  private readonly loops: Promise<void>[];

  /** `pods` is read at every round: a slot may be given a new pod (a rolling update). */
  constructor(
    private readonly path: string,
    private readonly service: K8sObject,
    private readonly pods: readonly LocalPod[],
    periodMs = 200,
  ) {
    this.loops = pods.map(async (_, slot) => {
      while (!this.stopped) {
        const pod = this.pods[slot]!;
        // A terminating pod leaves the Service at once, before its preStop pause and SIGTERM.
        const ok = pod.running && !pod.terminating && (await pod.probe("readinessProbe"));
        if (ok && pod === this.pods[slot]) this.ready.add(slot);
        else this.ready.delete(slot);
        await this.write();
        await new Promise((r) => setTimeout(r, periodMs));
      }
    });
  }

  listed(): LocalPod[] {
    return this.pods.filter((_, slot) => this.ready.has(slot));
  }

  private async write(): Promise<void> {
    const listed = this.listed();
    const key = listed.map((p) => p.ip).join();
    if (key === this.written) return;
    this.written = key;
    // One write at a time, in order: the file always ends up with the latest list.
    this.writing = this.writing.then(() => writeHostsFile(this.path, this.service, listed));
    await this.writing;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.loops);
  }
}

/** The checkpoint file the shards are configured with, and the volume mount path it lies under. */
export function checkpointPath(objects: readonly K8sObject[], statefulSet: K8sObject): { weights: string; mount: string } {
  const weights = containerProcess(objects, statefulSet, { index: 0, name: "pod-0", namespace: "ns", ip: "10.0.0.1" }).env.SHARDMAX_WEIGHTS;
  const mount = (container(statefulSet).volumeMounts as { mountPath: string }[]).find((m) => weights?.startsWith(`${m.mountPath}/`));
  if (!weights || !mount) throw new Error("the shards' SHARDMAX_WEIGHTS does not lie under a volume mount");
  return { weights, mount: mount.mountPath };
}
