/**
 * The dev overlay, run: every shard pod of the rendered StatefulSet and a pod
 * of the gateway Deployment started as the exact processes their containers
 * describe, on loopback. The shard pods share the manifest's port on their
 * own addresses, the gateway finds them through the headless Service's name
 * (`--shards dns:…`, resolved from a hosts-format file that lists the pods
 * whose rendered readiness probe passes, as cluster DNS would), and the answers
 * are checked against a float64 softmax. SIGTERM then drains and exits 0.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ShardmaxClient } from "../../sdk/index.js";
import { tempDir, writeHead } from "../helpers/heads.js";
import { container, find, hasKubectl, type K8sObject, NO_KUBECTL, onlyOf, portOf, render } from "../helpers/k8s-manifests.js";
import { checkpointPath, closeHealthClients, Endpoints, grpcHealth, LocalPod, loopbackBlock, writeHostsFile } from "../helpers/k8s-pods.js";
import { logProbTolerance, logZTolerance, randomHead, randomHidden, referenceSoftmax } from "../helpers/reference-softmax.js";

if (!hasKubectl) console.warn(NO_KUBECTL);

const V = 2003; // prime: the two ranges differ in size
const D = 24;
const K = 8;
const head = randomHead(21, V, D);
const hidden = randomHidden(22, 6, D).map((row) => Array.from(row, Math.fround));
const targets = hidden.map((_, r) => [0, V - 1, (r * 389) % V]);

describe.skipIf(!hasKubectl)("the dev overlay, launched from its rendered manifests", () => {
  let objects: K8sObject[];
  let shards: LocalPod[];
  let gateway: LocalPod;
  let endpoints: Endpoints;
  let url: string;
  let apiKey: string;
  const auth = () => ({ authorization: `Bearer ${apiKey}` });

  beforeAll(async () => {
    objects = render("overlays/dev");
    const statefulSet = onlyOf(objects, "StatefulSet");
    const deployment = onlyOf(objects, "Deployment");
    const headless = find(objects, "Service", statefulSet.spec.serviceName);
    const dir = await tempDir("shardmax-k8s-");
    const { weights, mount } = checkpointPath(objects, statefulSet);
    await writeHead(join(dir, weights.slice(mount.length)), head);

    const net = loopbackBlock(5);
    const pods = statefulSet.spec.replicas as number;
    shards = Array.from(
      { length: pods },
      (_, i) => new LocalPod(`${statefulSet.metadata.name}-${i}`, `${net}.${10 + i}`, objects, statefulSet, i, { mounts: { [mount]: dir } }),
    );
    shards.forEach((p) => p.start());
    const hosts = join(dir, "hosts");
    await writeHostsFile(hosts, headless, []);
    endpoints = new Endpoints(hosts, headless, shards);
    // The gateway's Secret volumes (the API keys) as folders of their keys' files, as the kubelet mounts them.
    const secretMounts: Record<string, string> = {};
    for (const mount of container(deployment).volumeMounts as { name: string; mountPath: string }[]) {
      const secret = (deployment.spec.template.spec.volumes as { name: string; secret?: { secretName: string } }[]).find((v) => v.name === mount.name)?.secret;
      if (!secret) continue;
      const folder = await tempDir("shardmax-secret-");
      for (const [key, value] of Object.entries(find(objects, "Secret", secret.secretName).data as Record<string, string>))
        writeFileSync(join(folder, key), Buffer.from(value, "base64"));
      secretMounts[mount.mountPath] = folder;
    }
    apiKey = Buffer.from(find(objects, "Secret", "shardmax-api-keys").data.keys, "base64")
      .toString()
      .trim()
      .split("\n")[0]!;
    gateway = new LocalPod(`${deployment.metadata.name}-0`, `${net}.100`, objects, deployment, 0, {
      mounts: secretMounts,
      env: { SHARDMAX_HOSTS_FILE: hosts },
    });
    gateway.start();
    await Promise.all(shards.map((p) => p.waitUntil("readinessProbe")));
    await gateway.waitUntil("readinessProbe");
    url = `http://${gateway.ip}:${portOf(container(deployment), "http")}`;
  });

  afterAll(async () => {
    await endpoints?.stop();
    await Promise.all([gateway, ...shards].filter(Boolean).map((p) => p.stop("SIGKILL")));
    closeHealthClients();
  });

  it("runs the containers' exact argv: the image entry point and the role", () => {
    for (const pod of shards) expect(pod.argv.slice(1)).toEqual([expect.stringMatching(/\/dist\/services\/cli\/main\.js$/), "shard"]);
    expect(gateway.argv.slice(2)).toEqual(["gateway"]);
    expect(shards.map((p) => p.env.SHARDMAX_POD_INDEX)).toEqual(shards.map((_, i) => String(i)));
  });

  it("the gateway found every shard pod through the Service name and grouped them into the ranges of the ordinals", async () => {
    const model: any = await (await fetch(`${url}/v1/model`, { headers: auth() })).json();
    expect(model.ready).toBe(true);
    expect(model.model).toMatchObject({ vocabSize: V, dim: D });
    expect(model.ranges.map((r: any) => [r.start, r.end])).toEqual([
      [0, 1002],
      [1002, 2003],
    ]);
    const port = portOf(container(onlyOf(objects, "StatefulSet")), "grpc");
    expect(model.ranges.map((r: any) => r.replicas.map((x: any) => x.address))).toEqual(shards.map((p) => [`${p.ip}:${port}`]));
  });

  it("answers exactly (float64 reference) over REST and over gRPC", async () => {
    const res = await fetch(`${url}/v1/softmax`, {
      method: "POST",
      headers: { "content-type": "application/json", ...auth() },
      body: JSON.stringify({ hidden, topK: K, targets }),
    });
    expect(res.status).toBe(200);
    const body: any = await res.json();
    const refs = referenceSoftmax(head, hidden, K);
    body.results.forEach((row: any, r: number) => {
      const ref = refs[r]!;
      expect(Math.abs(row.logZ - ref.logZ)).toBeLessThanOrEqual(logZTolerance(ref));
      expect(row.top.map((t: any) => t.id)).toEqual(ref.topIds);
      for (const t of [...row.top, ...row.targets]) expect(Math.abs(t.logprob - ref.logProbs[t.id]!)).toBeLessThanOrEqual(logProbTolerance(ref, t.id));
    });
    const grpcPort = portOf(container(onlyOf(objects, "Deployment")), "grpc");
    const client = new ShardmaxClient(`${gateway.ip}:${grpcPort}`, { apiKey });
    try {
      expect(await client.query({ hidden, dim: D, topK: K, targets })).toEqual(body);
    } finally {
      client.close();
    }
  });

  it("liveness probes pass; a shard's readiness is its slice being served", async () => {
    for (const pod of [...shards, gateway]) expect(await pod.probe("livenessProbe")).toBe(true);
    expect(await grpcHealth(`${shards[0]!.ip}:${portOf(container(onlyOf(objects, "StatefulSet")), "grpc")}`, "shardmax.v1.Shard")).toBe("SERVING");
  });

  it("on SIGTERM the gateway stops accepting, finishes the queries in flight, exits 0; so do the shards", async () => {
    // A stopped shard holds the queries inside the gateway: they are in flight for certain when SIGTERM arrives.
    const post = () =>
      fetch(`${url}/v1/softmax`, { method: "POST", headers: { "content-type": "application/json", ...auth() }, body: JSON.stringify({ hidden, topK: K }) });
    shards[1]!.signal("SIGSTOP");
    const inFlight = Array.from({ length: 8 }, () => post().then((r) => r.status));
    await new Promise((r) => setTimeout(r, 500));
    const gatewayExit = gateway.stop("SIGTERM");
    await new Promise((r) => setTimeout(r, 500));
    const late = await post().then(
      (r) => r.status,
      () => "refused",
    );
    expect([503, "refused"]).toContain(late);
    shards[1]!.signal("SIGCONT");
    expect(await Promise.all(inFlight)).toEqual(Array(8).fill(200));
    expect(await gatewayExit).toEqual({ code: 0, signal: null });
    expect(gateway.stderr()).toMatch(/draining/);
    const exits = await Promise.all(shards.map((p) => p.stop("SIGTERM")));
    expect(exits).toEqual(shards.map(() => ({ code: 0, signal: null })));
  });
});
