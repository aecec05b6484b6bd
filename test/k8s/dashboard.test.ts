/**
 * The Grafana dashboard (k8s/grafana/shardmax-dashboard.json) against what a
 * live cluster exports: every metric name in every PromQL expression is a
 * family (or a histogram's _bucket/_sum/_count) that the gateway's /metrics
 * or a shard's --metrics-listen really declares, so no panel is silently empty.
 * Also: the pods' scrape annotations name the ports their processes serve
 * metrics on.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseFlags } from "../../services/cli/flags.js";
import { GATEWAY_FLAGS } from "../../services/cli/gateway-command.js";
import { SHARD_FLAGS, shardConfig } from "../../services/cli/shard-command.js";
import { startGateway, type TestGateway } from "../helpers/gateway.js";
import { tempDir, writeHead } from "../helpers/heads.js";
import { container, containerProcess, hasKubectl, K8S, onlyOf, portOf, render } from "../helpers/k8s-manifests.js";
import { type ShardProcess, startShard } from "../helpers/processes.js";
import { type Exposition, scrape } from "../helpers/prometheus-text.js";
import { randomHead } from "../helpers/reference-softmax.js";

interface Panel {
  title: string;
  targets: { expr: string }[];
}

const dashboard = JSON.parse(readFileSync(join(K8S, "grafana", "shardmax-dashboard.json"), "utf8")) as { panels: Panel[] };
let shard: ShardProcess;
let gateway: TestGateway;
let exported: Set<string>;

/** Series names a family of this exposition answers to (a histogram also by its _bucket, _sum and _count). */
function seriesNames(exposition: Exposition): string[] {
  return [...exposition.types].flatMap(([name, type]) => (type === "histogram" ? [name, `${name}_bucket`, `${name}_sum`, `${name}_count`] : [name]));
}

beforeAll(async () => {
  const file = await writeHead(join(await tempDir(), "head.safetensors"), randomHead(3, 64, 4));
  shard = await startShard(["--weights", file, "--shard", "0/1", "--listen", "127.0.0.1:0", "--threads", "1", "--metrics-listen", "127.0.0.1:0"]);
  gateway = await startGateway([shard.address]);
  const both = [await scrape(`${gateway.url}/metrics`), await scrape(`http://127.0.0.1:${shard.metricsPort}/metrics`)];
  exported = new Set(both.flatMap(seriesNames));
}, 60_000);

afterAll(async () => {
  await gateway?.stop();
  await shard?.kill("SIGKILL");
});

describe("the Grafana dashboard", () => {
  it("has panels for rates, latency quantiles, batch sizes, queues and healthy ranges", () => {
    const exprs = dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr)).join("\n");
    for (const name of [
      "shardmax_requests_total",
      "shardmax_request_duration_seconds_bucket",
      "shardmax_batch_rows",
      "shardmax_queue_rows",
      "shardmax_ranges_healthy",
    ]) {
      expect(exprs).toContain(name);
    }
  });

  it.each(dashboard.panels.map((p) => [p.title, p] as const))("%s: every metric it queries is exported", (_title, panel) => {
    expect(panel.targets.length).toBeGreaterThan(0);
    for (const { expr } of panel.targets) {
      const names = expr.match(/\bshardmax_[a-zA-Z0-9_:]*/g) ?? [];
      expect(names.length, expr).toBeGreaterThan(0);
      for (const name of names) expect(exported.has(name), `${name} in ${expr}`).toBe(true);
    }
  });
});

describe.skipIf(!hasKubectl)("scrape annotations", () => {
  it("point at the ports the gateway and the shards serve /metrics on", () => {
    const objects = render("base");
    const shards = onlyOf(objects, "StatefulSet");
    const gatewayDeployment = onlyOf(objects, "Deployment");
    const pod = { index: 0, name: "pod-0", namespace: "ns", ip: "10.0.0.1" };
    const shardEnv = containerProcess(objects, shards, pod).env;
    const gatewayEnv = containerProcess(objects, gatewayDeployment, pod).env;
    const shardAnnotations = shards.spec.template.metadata.annotations as Record<string, string>;
    const config = shardConfig(parseFlags(SHARD_FLAGS, [], shardEnv));
    expect(shardAnnotations["prometheus.io/scrape"]).toBe("true");
    expect(shardAnnotations["prometheus.io/path"]).toBe("/metrics");
    expect(config.metricsListen).toBe(`0.0.0.0:${shardAnnotations["prometheus.io/port"]}`);
    expect(portOf(container(shards), "metrics")).toBe(Number(shardAnnotations["prometheus.io/port"]));
    const gatewayAnnotations = gatewayDeployment.spec.template.metadata.annotations as Record<string, string>;
    // The key file is a mounted Secret, not readable here; only the listen address matters.
    const { SHARDMAX_API_KEYS_FILE: _keys, ...listenEnv } = gatewayEnv;
    const http = parseFlags(GATEWAY_FLAGS, [], listenEnv).values.http;
    expect(gatewayAnnotations["prometheus.io/path"]).toBe("/metrics");
    expect(http).toBe(`0.0.0.0:${gatewayAnnotations["prometheus.io/port"]}`);
    expect(portOf(container(gatewayDeployment), "http")).toBe(Number(gatewayAnnotations["prometheus.io/port"]));
  });

  it("say https in prod, where the gateway and the shards serve TLS", () => {
    const objects = render("overlays/prod");
    for (const kind of ["StatefulSet", "Deployment"]) {
      const workload = onlyOf(objects, kind);
      expect(workload.spec.template.metadata.annotations["prometheus.io/scheme"], kind).toBe("https");
    }
  });
});
