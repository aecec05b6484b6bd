/**
 * A rolling update of the head, as a StatefulSet rolls it: two replicas per
 * range, pods replaced one at a time from the highest ordinal down, each
 * leaving the Service, draining on SIGTERM and coming back on the new head.
 * Under a steady stream of queries, every answer is exact for the head it
 * names (`model.fingerprint`), the old head is served until the new one
 * covers [0, V), the switch happens once, and no query fails.
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGateway, type TestGateway } from "../helpers/gateway.js";
import { tempDir, writeHead } from "../helpers/heads.js";
import { container, find, hasKubectl, type K8sObject, NO_KUBECTL, onlyOf, portOf, render } from "../helpers/k8s-manifests.js";
import { checkpointPath, closeHealthClients, Endpoints, LocalPod, loopbackBlock } from "../helpers/k8s-pods.js";
import { ReferenceRows } from "../helpers/load-drill.js";
import { waitFor } from "../helpers/processes.js";
import { randomHead, randomHidden } from "../helpers/reference-softmax.js";

if (!hasKubectl) console.warn(NO_KUBECTL);

const V = 3001;
const D = 32;
const rows = randomHidden(51, 16, D).map((row) => Array.from(row, Math.fround));
const oldHead = new ReferenceRows(randomHead(52, V, D), rows, 5);
const newHead = new ReferenceRows(randomHead(53, V, D), rows, 5);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** The manifests' preStop pause and minReadySeconds, scaled to this gateway's 200 ms resolve and refresh intervals. */
const PRE_STOP_MS = 400;
const MIN_READY_MS = 500;

interface Answer {
  sentAt: number;
  doneAt: number;
  fingerprint: string | null;
  ok: boolean;
  error?: string;
}

describe.skipIf(!hasKubectl)("a rolling update of the head, two replicas per range", () => {
  let objects: K8sObject[];
  let scaled: K8sObject;
  let pods: LocalPod[];
  let endpoints: Endpoints;
  let gateway: TestGateway;
  let mount: string;
  let dirs: { old: string; new: string };

  beforeAll(async () => {
    objects = render("overlays/dev");
    const statefulSet = onlyOf(objects, "StatefulSet");
    scaled = { ...statefulSet, spec: { ...statefulSet.spec, replicas: 2 * statefulSet.spec.replicas } };
    const checkpoint = checkpointPath(objects, statefulSet);
    mount = checkpoint.mount;
    dirs = { old: await tempDir("shardmax-roll-old-"), new: await tempDir("shardmax-roll-new-") };
    await writeHead(join(dirs.old, checkpoint.weights.slice(mount.length)), oldHead.head);
    await writeHead(join(dirs.new, checkpoint.weights.slice(mount.length)), newHead.head);
    const net = loopbackBlock(7);
    pods = Array.from(
      { length: scaled.spec.replicas },
      (_, i) => new LocalPod(`${scaled.metadata.name}-${i}`, `${net}.${10 + i}`, objects, scaled, i, { mounts: { [mount]: dirs.old } }),
    );
    pods.forEach((p) => p.start());
    const headless = find(objects, "Service", statefulSet.spec.serviceName);
    const hosts = join(dirs.old, "hosts");
    endpoints = new Endpoints(hosts, headless, pods);
    await Promise.all(pods.map((p) => p.waitUntil("readinessProbe")));
    gateway = await startGateway([`dns:${headless.metadata.name}:${portOf(container(statefulSet), "grpc")}`], {
      hostsFile: hosts,
      resolveIntervalMs: 200,
      refreshMs: 200,
    });
    await waitFor(async () => (await gateway.get("/readyz")).status === 200, 20_000, "gateway ready");
  });

  afterAll(async () => {
    await gateway?.stop();
    await endpoints?.stop();
    await Promise.all((pods ?? []).map((p) => p.stop("SIGKILL")));
    closeHealthClients();
  });

  it("answers from the old head until the new one covers every range, then from the new one; never a mix, none fails", async () => {
    const fingerprintOf = async () => (await gateway.get("/v1/model")).body.model?.fingerprint as string;
    const oldFingerprint = await fingerprintOf();
    const answers: Answer[] = [];
    let rolling = true;
    const client = async (seed: number) => {
      for (let n = seed; rolling; n += 4) {
        const r = n % rows.length;
        const sentAt = performance.now();
        const res = await gateway.post("/v1/softmax", { hidden: [rows[r]], topK: 5 });
        const fingerprint = res.body.model?.fingerprint ?? null;
        const reference = fingerprint === oldFingerprint ? oldHead : newHead;
        const ok = res.status === 200 && reference.check(r, res.body.results[0]);
        answers.push({
          sentAt,
          doneAt: performance.now(),
          fingerprint,
          ok,
          ...(res.status === 200 ? {} : { error: `${res.status} ${res.body.error?.message}` }),
        });
      }
    };
    const load = Promise.all([0, 1, 2, 3].map(client));

    // Highest ordinal first, one pod at a time, each back and ready before the next, as a StatefulSet rolls.
    for (let i = pods.length - 1; i >= 0; i--) {
      const old = pods[i]!;
      old.terminating = true;
      await sleep(PRE_STOP_MS); // the gateway re-resolves without the pod before SIGTERM
      expect(await old.stop("SIGTERM"), `${old.name} drains and exits 0\n${old.stderr()}`).toEqual({ code: 0, signal: null });
      pods[i] = new LocalPod(old.name, old.ip, objects, scaled, i, { mounts: { [mount]: dirs.new } });
      pods[i]!.start();
      await pods[i]!.waitUntil("readinessProbe");
      await sleep(MIN_READY_MS);
    }
    await waitFor(async () => (await fingerprintOf()) !== oldFingerprint, 10_000, "the new head served");
    await sleep(300);
    rolling = false;
    await load;

    expect(answers.filter((a) => !a.ok).map((a) => a.error ?? `wrong answer for ${a.fingerprint}`)).toEqual([]);
    const newFingerprint = await fingerprintOf();
    expect(new Set(answers.map((a) => a.fingerprint))).toEqual(new Set([oldFingerprint, newFingerprint]));
    // Once an answer came from the new head, every query sent after it is answered by the new head: one switch, no flapping.
    const firstNew = Math.min(...answers.filter((a) => a.fingerprint === newFingerprint).map((a) => a.doneAt));
    const flapped = answers.filter((a) => a.sentAt > firstNew && a.fingerprint === oldFingerprint);
    expect(
      flapped.length,
      `old-head answers to queries sent after the first new-head answer (at ${firstNew.toFixed(0)} ms): ${flapped.map((a) => a.sentAt.toFixed(0)).join(", ")}`,
    ).toBe(0);
    console.log(
      `rolling update: ${answers.length} queries, ${answers.filter((a) => a.fingerprint === oldFingerprint).length} on the old head, then ${answers.filter((a) => a.fingerprint === newFingerprint).length} on the new; retried ${gateway.stats.retries}, run again on the new head ${gateway.stats.reruns}`,
    );
  });
});
