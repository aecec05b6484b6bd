/**
 * The kustomize base and overlays, rendered by `kubectl kustomize` exactly as
 * `kubectl apply -k` would send them, validated strictly against the
 * Kubernetes schema and tied to the code: every SHARDMAX_* variable is a flag
 * of the command it configures and parses with the CLI's own parser, pod I of
 * the StatefulSet serves range I mod N, probes hit the ports and health
 * services the processes really serve, and the gateway's DNS name is the
 * headless Service's.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { envName, parseFlags } from "../../services/cli/flags.js";
import { GATEWAY_FLAGS } from "../../services/cli/gateway-command.js";
import { SHARD_FLAGS, shardConfig } from "../../services/cli/shard-command.js";
import { LIVENESS_SERVICE } from "../../services/shard/server.js";
import { K8S, NO_KUBECTL, container, containerProcess, find, hasKubectl, onlyOf, parseYaml, portOf, render, type K8sObject } from "../helpers/k8s-manifests.js";
import { schemaProblems } from "../helpers/k8s-schema.js";

if (!hasKubectl) console.warn(NO_KUBECTL);

const LAYOUTS = { base: { ranges: 2, perRange: 1 }, "overlays/dev": { ranges: 2, perRange: 1 }, "overlays/prod": { ranges: 8, perRange: 2 } } as const;

/** The flags part of a container's argv: after `node /app/dist/services/cli/main.js <command>`. */
function cliArgs(argv: string[]): { command: string; flags: string[] } {
  const at = argv.findIndex((a) => a.endsWith("dist/services/cli/main.js"));
  expect(at, `argv ${argv.join(" ")} runs the shardmax CLI`).toBeGreaterThanOrEqual(0);
  return { command: argv[at + 1]!, flags: argv.slice(at + 2) };
}

const pod = (index: number, name = `pod-${index}`) => ({ index, name, namespace: "ns", ip: "10.0.0.1" });
const msOf = (value: string | undefined, fallback: number) => (value === undefined ? fallback : Number(value));

describe.skipIf(!hasKubectl).each(Object.entries(LAYOUTS))("k8s/%s", (dir, layout) => {
  let objects: K8sObject[];
  let shards: K8sObject;
  let gateway: K8sObject;
  let shardContainer: Record<string, any>;
  let gatewayContainer: Record<string, any>;
  let shardEnv: Record<string, string>;
  let gatewayEnv: Record<string, string>;

  beforeAll(() => {
    objects = render(dir);
    shards = onlyOf(objects, "StatefulSet");
    gateway = onlyOf(objects, "Deployment");
    shardContainer = container(shards);
    gatewayContainer = container(gateway);
    shardEnv = containerProcess(objects, shards, pod(0)).env;
    gatewayEnv = containerProcess(objects, gateway, pod(0)).env;
  });

  it("renders objects that are valid, field by field, against the Kubernetes schema", () => {
    expect(objects.length).toBeGreaterThanOrEqual(9);
    expect(objects.flatMap(schemaProblems)).toEqual([]);
  });

  it("shards: a Parallel StatefulSet behind a headless Service, each pod's range from its ordinal", () => {
    expect(shards.spec.podManagementPolicy).toBe("Parallel");
    const headless = find(objects, "Service", shards.spec.serviceName);
    expect(headless.spec.clusterIP).toBe("None");
    expect(headless.spec.publishNotReadyAddresses ?? false).toBe(false);
    expect(headless.spec.selector).toEqual(shards.spec.selector.matchLabels);
    expect(shards.spec.template.metadata.labels).toMatchObject(shards.spec.selector.matchLabels);
    const index = shardContainer.env.find((e: { name: string }) => e.name === envName("pod-index"));
    expect(index.valueFrom.fieldRef.fieldPath).toBe("metadata.labels['apps.kubernetes.io/pod-index']");
    expect(shards.spec.replicas).toBe(layout.ranges * layout.perRange);
    expect(Number(shardEnv.SHARDMAX_RANGES)).toBe(layout.ranges);

    // Every pod's environment parses with the shard command's own flags; pod I serves range I mod N.
    const served = new Map<number, number>();
    for (let i = 0; i < shards.spec.replicas; i++) {
      const { argv, env } = containerProcess(objects, shards, pod(i, `${shards.metadata.name}-${i}`));
      const { command, flags } = cliArgs(argv);
      expect(command).toBe("shard");
      for (const name of Object.keys(env).filter((n) => n.startsWith("SHARDMAX_"))) {
        expect(Object.keys(SHARD_FLAGS).map(envName), `${name} is a shard flag`).toContain(name);
      }
      const config = shardConfig(parseFlags(SHARD_FLAGS, flags, env));
      expect(config.range).toEqual({ kind: "split", index: i % layout.ranges, count: layout.ranges });
      served.set(i % layout.ranges, (served.get(i % layout.ranges) ?? 0) + 1);
    }
    expect([...served.values()]).toEqual(Array(layout.ranges).fill(layout.perRange));
  });

  it("shards: gRPC health probes on the served port, readiness on the loaded slice, liveness on the process", () => {
    const port = portOf(shardContainer, "grpc");
    expect(shardEnv.SHARDMAX_LISTEN).toBe(`0.0.0.0:${port}`);
    const headless = find(objects, "Service", shards.spec.serviceName);
    expect(headless.spec.ports).toEqual([expect.objectContaining({ port, targetPort: "grpc" })]);
    expect(shardContainer.readinessProbe.grpc).toEqual({ port }); // service "": SERVING once loaded, NOT_SERVING from SIGTERM
    expect(shardContainer.livenessProbe.grpc).toEqual({ port, service: LIVENESS_SERVICE });
  });

  it("shards: the checkpoint from a read-only PersistentVolumeClaim, its path a flag under the mount", () => {
    const mount = shardContainer.volumeMounts.find((m: { mountPath: string }) => shardEnv.SHARDMAX_WEIGHTS!.startsWith(`${m.mountPath}/`));
    expect(mount, `SHARDMAX_WEIGHTS=${shardEnv.SHARDMAX_WEIGHTS} lies under a volume mount`).toBeDefined();
    expect(mount.readOnly).toBe(true);
    const volume = shards.spec.template.spec.volumes.find((v: { name: string }) => v.name === mount.name);
    expect(volume.persistentVolumeClaim.readOnly).toBe(true);
    find(objects, "PersistentVolumeClaim", volume.persistentVolumeClaim.claimName);
  });

  it("gateway: a Deployment behind a Service (HTTP and gRPC), HTTP probes, an HPA and a PodDisruptionBudget", () => {
    const http = portOf(gatewayContainer, "http");
    const grpc = portOf(gatewayContainer, "grpc");
    expect(gatewayEnv.SHARDMAX_HTTP).toBe(`0.0.0.0:${http}`);
    expect(gatewayEnv.SHARDMAX_GRPC).toBe(`0.0.0.0:${grpc}`);
    expect(gatewayContainer.readinessProbe.httpGet).toEqual({ path: "/readyz", port: "http" });
    expect(gatewayContainer.livenessProbe.httpGet).toEqual({ path: "/healthz", port: "http" });
    const service = find(objects, "Service", gateway.metadata.name);
    expect(service.spec.selector).toEqual(gateway.spec.selector.matchLabels);
    expect(service.spec.ports.map((p: { targetPort: string }) => portOf(gatewayContainer, p.targetPort)).sort()).toEqual([grpc, http].sort());
    const hpa = onlyOf(objects, "HorizontalPodAutoscaler");
    expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: "apps/v1", kind: "Deployment", name: gateway.metadata.name });
    expect(gateway.spec.replicas).toBeUndefined(); // the HPA owns the count
    const budgets = objects.filter((o) => o.kind === "PodDisruptionBudget");
    expect(budgets.map((b) => b.spec.selector.matchLabels)).toContainEqual(gateway.spec.selector.matchLabels);
    expect(budgets.map((b) => b.spec.selector.matchLabels)).toContainEqual(shards.spec.selector.matchLabels);
  });

  it("gateway: finds the shards through the headless Service's DNS name; its environment parses with the gateway's flags", () => {
    const headless = find(objects, "Service", shards.spec.serviceName);
    expect(gatewayEnv.SHARDMAX_SHARDS).toBe(`dns:${headless.metadata.name}:${headless.spec.ports[0].port}`);
    const { argv, env } = containerProcess(objects, gateway, pod(0));
    const { command, flags } = cliArgs(argv);
    expect(command).toBe("gateway");
    for (const name of Object.keys(env).filter((n) => n.startsWith("SHARDMAX_"))) {
      expect(Object.keys(GATEWAY_FLAGS).map(envName), `${name} is a gateway flag`).toContain(name);
    }
    expect(parseFlags(GATEWAY_FLAGS, flags, env).values.shards).toEqual([gatewayEnv.SHARDMAX_SHARDS]);
  });

  it("configuration comes from ConfigMaps and the pod, nothing from Service links or the image", () => {
    for (const workload of [shards, gateway]) {
      expect(workload.spec.template.spec.enableServiceLinks).toBe(false);
      const c = container(workload);
      expect(c.command).toBeUndefined(); // the image's entry point, the shardmax CLI
      expect(c.envFrom.map((e: { configMapRef: { name: string } }) => find(objects, "ConfigMap", e.configMapRef.name).kind)).toEqual(["ConfigMap"]);
    }
    expect(shards.spec.template.spec.containers[0].image).toBe(gateway.spec.template.spec.containers[0].image);
  });

  it("both roles: non-root, read-only root filesystem, no privilege escalation, requests and limits", () => {
    for (const workload of [shards, gateway]) {
      const spec = workload.spec.template.spec;
      const c = container(workload);
      expect(spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: expect.any(Number) });
      expect(spec.securityContext.runAsUser).toBeGreaterThan(0);
      expect(c.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } });
      expect(c.resources.requests).toMatchObject({ cpu: expect.anything(), memory: expect.anything() });
      expect(c.resources.limits).toMatchObject({ memory: expect.anything() });
    }
    expect(shardContainer.resources.limits.cpu).toBeDefined();
  });

  it("graceful shutdown and rolls: the grace period covers pause and drain, shards outlast a query, gateways see new pods in time", () => {
    for (const [workload, env] of [
      [shards, shardEnv],
      [gateway, gatewayEnv],
    ] as const) {
      const pauseMs = 1000 * (container(workload).lifecycle.preStop.sleep.seconds as number);
      const drainMs = msOf(env.SHARDMAX_DRAIN_MS, 10_000);
      expect(1000 * workload.spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(pauseMs + drainMs + 1000);
    }
    expect(msOf(shardEnv.SHARDMAX_DRAIN_MS, 10_000)).toBeGreaterThanOrEqual(msOf(gatewayEnv.SHARDMAX_DEADLINE_MS, 10_000));
    // A roll waits until gateways have seen a new pod (cluster DNS caches headless answers 5 s) before the next goes.
    const discoveryMs = 5000 + msOf(gatewayEnv.SHARDMAX_RESOLVE_INTERVAL_MS, 5000) + msOf(gatewayEnv.SHARDMAX_REFRESH_MS, 1000);
    expect(1000 * shards.spec.minReadySeconds).toBeGreaterThanOrEqual(discoveryMs);
    // A query the gateway accepts must fit in one Partial.
    expect(msOf(shardEnv.SHARDMAX_MAX_ROWS, 4096)).toBeGreaterThanOrEqual(msOf(gatewayEnv.SHARDMAX_MAX_ROWS, 1024));
  });
});

describe.skipIf(!hasKubectl)("k8s/tools", () => {
  it("the checkpoint loader pod is valid and mounts the base's checkpoint claim read-write", () => {
    const [loader] = parseYaml(readFileSync(join(K8S, "tools", "checkpoint-loader.yaml"), "utf8"));
    expect(schemaProblems(loader!)).toEqual([]);
    const claim = onlyOf(render("base"), "PersistentVolumeClaim").metadata.name;
    expect(loader!.spec.volumes[0].persistentVolumeClaim.claimName).toBe(claim);
  });

  it("the strict schema check catches a misspelt field and a wrong type", () => {
    const shards = structuredClone(onlyOf(render("overlays/dev"), "StatefulSet"));
    const c = shards.spec.template.spec.containers[0];
    c.readinesProbe = c.readinessProbe;
    c.ports[0].containerPort = "50051";
    const problems = schemaProblems(shards).join("\n");
    expect(problems).toMatch(/containerPort must be integer/);
    const second = structuredClone(onlyOf(render("overlays/dev"), "StatefulSet"));
    second.spec.template.spec.containers[0].readinesProbe = {};
    expect(schemaProblems(second)).toEqual([expect.stringMatching(/unknown field spec\.template\.spec\.containers\[0\]\.readinesProbe/)]);
  });
});
