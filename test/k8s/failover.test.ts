/**
 * Replicas and failover, on the dev overlay scaled to two replicas per range
 * (`kubectl scale statefulset shardmax-shard --replicas 4`): shard pods
 * started from the rendered manifest, listed in the headless Service's DNS
 * answer while their readiness probe passes, and a gateway that discovers
 * them with `--shards dns:…`. Under a stream of queries, each answer checked
 * against float64: a replica killed outright, one stopped gracefully, one
 * hung — no query fails and none is wrong; a whole range killed gives 503
 * naming it; a restarted replica is served again.
 *
 * The printed table is the failover note's figures; for a longer drill:
 *   FAILOVER_QUERIES=3000 npx vitest run test/k8s/failover.test.ts
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { splitRange } from "../../shared/ranges.js";
import { startGateway, type TestGateway } from "../helpers/gateway.js";
import { tempDir, writeHead } from "../helpers/heads.js";
import { container, find, hasKubectl, NO_KUBECTL, onlyOf, portOf, render } from "../helpers/k8s-manifests.js";
import { checkpointPath, closeHealthClients, Endpoints, LocalPod, loopbackBlock } from "../helpers/k8s-pods.js";
import { type DrillResult, drill, ReferenceRows, summary } from "../helpers/load-drill.js";
import { waitFor } from "../helpers/processes.js";
import { type Head, randomHead, randomHidden } from "../helpers/reference-softmax.js";

if (!hasKubectl) console.warn(NO_KUBECTL);

const QUERIES = Number(process.env.FAILOVER_QUERIES ?? 400);
const CONCURRENCY = 4;
const DEADLINE_MS = 2000;
const V = 4001;
const D = 64;
const head: Head = randomHead(31, V, D);
const reference = new ReferenceRows(
  head,
  randomHidden(32, 32, D).map((row) => Array.from(row, Math.fround)),
  5,
);

describe.skipIf(!hasKubectl)("two replicas per range, discovered through the headless Service", () => {
  let pods: LocalPod[];
  let endpoints: Endpoints;
  let gateway: TestGateway;
  let ranges: number;
  const figures: string[] = [];

  /** Pod i serves range i mod ranges. */
  const replicasOf = (range: number) => pods.filter((_, i) => i % ranges === range);
  const allHealthy = async () => {
    const model = (await gateway.get("/v1/model")).body;
    return model.ready && model.ranges.flatMap((r: any) => r.replicas).filter((x: any) => x.healthy).length === pods.length;
  };

  async function run(name: string, action?: () => void | Promise<void>): Promise<DrillResult> {
    const before = { ...gateway.stats };
    const result = await drill(gateway.url, reference, { queries: QUERIES, concurrency: CONCURRENCY, actAfter: Math.floor(QUERIES / 3), action });
    figures.push(summary(name, result, gateway.stats.retries - before.retries, gateway.stats.failedAttemptMs - before.failedAttemptMs));
    return result;
  }

  beforeAll(async () => {
    const objects = render("overlays/dev");
    const statefulSet = onlyOf(objects, "StatefulSet");
    ranges = statefulSet.spec.replicas as number; // the dev overlay: one replica per range
    const scaled = { ...statefulSet, spec: { ...statefulSet.spec, replicas: 2 * ranges } };
    const headless = find(objects, "Service", statefulSet.spec.serviceName);
    const dir = await tempDir("shardmax-failover-");
    const { weights, mount } = checkpointPath(objects, statefulSet);
    await writeHead(join(dir, weights.slice(mount.length)), head);
    const net = loopbackBlock(6);
    pods = Array.from(
      { length: 2 * ranges },
      (_, i) => new LocalPod(`${statefulSet.metadata.name}-${i}`, `${net}.${10 + i}`, objects, scaled, i, { mounts: { [mount]: dir } }),
    );
    pods.forEach((p) => p.start());
    const hosts = join(dir, "hosts");
    endpoints = new Endpoints(hosts, headless, pods);
    await Promise.all(pods.map((p) => p.waitUntil("readinessProbe")));
    const port = portOf(container(statefulSet), "grpc");
    gateway = await startGateway([`dns:${headless.metadata.name}:${port}`], {
      hostsFile: hosts,
      resolveIntervalMs: 200,
      refreshMs: 200,
      deadlineMs: DEADLINE_MS,
    });
    await waitFor(allHealthy, 20_000, "every replica healthy");
  });

  afterAll(async () => {
    if (figures.length)
      console.log(`failover drill: ${QUERIES} queries per scenario, ${CONCURRENCY} in flight, deadline ${DEADLINE_MS} ms\n${figures.join("\n")}`);
    await gateway?.stop();
    await endpoints?.stop();
    await Promise.all((pods ?? []).map((p) => p.stop("SIGKILL")));
    closeHealthClients();
  });

  it("groups the four pods into two ranges of two replicas", async () => {
    const model = (await gateway.get("/v1/model")).body;
    expect(model.ranges).toHaveLength(ranges);
    for (const [r, range] of model.ranges.entries())
      expect(range.replicas.map((x: any) => x.address.split(":")[0]).sort()).toEqual(
        replicasOf(r)
          .map((p) => p.ip)
          .sort(),
      );
  });

  it("steady state: every answer exact", async () => {
    const result = await run("steady (no failure)");
    expect(result).toMatchObject({ failed: 0, wrong: 0 });
  });

  it("one replica killed (SIGKILL) while queries are in flight: none fails, none is wrong", async () => {
    const victim = replicasOf(0)[1]!;
    const result = await run("SIGKILL one replica of range 0", () => void victim.stop("SIGKILL"));
    expect(result.failures).toEqual([]);
    expect(result).toMatchObject({ failed: 0, wrong: 0 });
  });

  it("the killed replica, restarted, is served again", async () => {
    replicasOf(0)[1]!.start();
    await waitFor(allHealthy, 20_000, "the restarted replica healthy");
    const result = await run("after the restart");
    expect(result).toMatchObject({ failed: 0, wrong: 0 });
  });

  it("one replica stopped gracefully (SIGTERM) under load: none fails", async () => {
    const victim = replicasOf(1)[0]!;
    const result = await run("SIGTERM one replica of range 1", () => void victim.stop("SIGTERM"));
    expect(result.failures).toEqual([]);
    expect(result).toMatchObject({ failed: 0, wrong: 0 });
    expect(await victim.exited()).toEqual({ code: 0, signal: null });
    victim.start();
    await waitFor(allHealthy, 20_000, "the stopped replica back");
  });

  it("one replica hung (SIGSTOP): its calls move on after their share of the deadline, none fails", async () => {
    const victim = replicasOf(0)[0]!;
    const result = await run("SIGSTOP one replica of range 0", () => victim.signal("SIGSTOP"));
    victim.signal("SIGCONT");
    expect(result.failures).toEqual([]);
    expect(result).toMatchObject({ failed: 0, wrong: 0 });
    expect(Math.max(...result.after)).toBeLessThan(DEADLINE_MS);
    await waitFor(allHealthy, 20_000, "the hung replica back");
  });

  it("every replica of a range killed: 503 naming the range, and not ready", async () => {
    await Promise.all(replicasOf(1).map((p) => p.stop("SIGKILL")));
    const res = await gateway.post("/v1/softmax", { hidden: [reference.rows[0]], topK: 5 });
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe("UNAVAILABLE");
    expect(res.body.error.message).toContain(`${splitRange(V, 1, ranges)}`);
    await waitFor(async () => (await gateway.get("/readyz")).status === 503, 5000, "readyz 503");
  });

  it("one replica of that range restarted: served again, exactly", async () => {
    replicasOf(1)[0]!.start();
    await waitFor(async () => (await gateway.get("/readyz")).status === 200, 20_000, "readyz 200");
    const result = await drill(gateway.url, reference, { queries: 50, concurrency: CONCURRENCY });
    expect(result).toMatchObject({ failed: 0, wrong: 0 });
  });
});
