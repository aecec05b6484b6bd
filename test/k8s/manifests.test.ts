/**
 * The kustomize base and overlays, rendered by `kubectl kustomize` exactly as
 * `kubectl apply -k` would send them, validated strictly against the
 * Kubernetes schema and tied to the code: every SHARDMAX_* variable is a flag
 * of the command it configures and parses with the CLI's own parser, pod I of
 * the StatefulSet serves range I mod N, probes hit the ports and health
 * services the processes really serve, and the gateway's DNS name is the
 * headless Service's.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { envName, parseFlags } from "../../services/cli/flags.js";
import { GATEWAY_FLAGS } from "../../services/cli/gateway-command.js";
import { SHARD_FLAGS, shardConfig } from "../../services/cli/shard-command.js";
import { LIVENESS_SERVICE } from "../../services/shard/server.js";
import { container, containerProcess, find, hasKubectl, K8S, type K8sObject, NO_KUBECTL, onlyOf, parseYaml, portOf, render } from "../helpers/k8s-manifests.js";
import { schemaProblems } from "../helpers/k8s-schema.js";

if (!hasKubectl) console.warn(NO_KUBECTL);

const LAYOUTS = { base: { ranges: 2, perRange: 1 }, "overlays/dev": { ranges: 2, perRange: 1 }, "overlays/prod": { ranges: 8, perRange: 2 } } as const;

/** The flags part of a container's argv: after `node /app/dist/services/cli/main.js <command>`. */
function cliArgs(argv: string[]): { command: string; flags: string[] } {
  const at = argv.findIndex((a) => a.endsWith("dist/services/cli/main.js"));
  expect(at, `argv ${argv.join(" ")} runs the shardmax CLI`).toBeGreaterThanOrEqual(0);
  return { command: argv[at + 1]!, flags: argv.slice(at + 2) };
}

/**
 * File flags (TLS, API keys) are parsed by a parser that reads the file, and
 * the files exist only in a pod: each path must lie under a mounted Secret
 * (its key names the file); the test parses with a stand-in file instead.
 */
const standIn = join(mkdtempSync(join(tmpdir(), "shardmax-k8s-")), "file");
writeFileSync(standIn, "stand-in");
function secretFiles(
  workload: K8sObject,
  env: Record<string, string>,
): { env: Record<string, string>; files: Record<string, { secret: string; key: string }> } {
  const c = container(workload);
  const volumes = workload.spec.template.spec.volumes as { name: string; secret?: { secretName: string } }[];
  const files: Record<string, { secret: string; key: string }> = {};
  const out = { ...env };
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith("SHARDMAX_") || !value.startsWith("/etc/")) continue;
    const mount = (c.volumeMounts as { name: string; mountPath: string; subPath?: string }[]).find((m) => value.startsWith(`${m.mountPath}/`));
    expect(mount, `${name}=${value} lies under a volume mount`).toBeDefined();
    expect(mount!.subPath, `${name}: a folder mount, so Secret updates reach the file`).toBeUndefined();
    const secret = volumes.find((v) => v.name === mount!.name)?.secret;
    expect(secret, `${name}: the mount is a Secret`).toBeDefined();
    files[name] = { secret: secret!.secretName, key: value.slice(mount!.mountPath.length + 1) };
    out[name] = standIn;
  }
  return { env: out, files };
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
    // cert-manager's kinds are custom resources with no schema here; the TLS test checks them field by field.
    expect(objects.filter((o) => !o.apiVersion.startsWith("cert-manager.io/")).flatMap(schemaProblems)).toEqual([]);
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
      const config = shardConfig(parseFlags(SHARD_FLAGS, flags, secretFiles(shards, env).env));
      expect(config.range).toEqual({ kind: "split", index: i % layout.ranges, count: layout.ranges });
      served.set(i % layout.ranges, (served.get(i % layout.ranges) ?? 0) + 1);
    }
    expect([...served.values()]).toEqual(Array(layout.ranges).fill(layout.perRange));
  });

  it("shards: gRPC health probes on the served port (or the plaintext health port under mTLS), readiness on the loaded slice, liveness on the process", () => {
    const port = portOf(shardContainer, "grpc");
    expect(shardEnv.SHARDMAX_LISTEN).toBe(`0.0.0.0:${port}`);
    const headless = find(objects, "Service", shards.spec.serviceName);
    expect(headless.spec.ports).toEqual([expect.objectContaining({ port, targetPort: "grpc" })]);
    // Kubelet's gRPC probe speaks plaintext: under TLS it must go to --health-listen.
    const probed = shardEnv.SHARDMAX_TLS_CERT ? portOf(shardContainer, "health") : port;
    if (shardEnv.SHARDMAX_TLS_CERT) expect(shardEnv.SHARDMAX_HEALTH_LISTEN).toBe(`0.0.0.0:${probed}`);
    expect(shardContainer.readinessProbe.grpc).toEqual({ port: probed }); // service "": SERVING once loaded, NOT_SERVING from SIGTERM
    expect(shardContainer.livenessProbe.grpc).toEqual({ port: probed, service: LIVENESS_SERVICE });
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
    // Under TLS the probes speak HTTPS; the gateway then must not require client certificates (kubelet has none).
    const scheme = gatewayEnv.SHARDMAX_TLS_CERT ? { scheme: "HTTPS" } : {};
    if (gatewayEnv.SHARDMAX_TLS_CERT) expect(gatewayEnv.SHARDMAX_TLS_CLIENT_CA).toBeUndefined();
    expect(gatewayContainer.readinessProbe.httpGet).toEqual({ path: "/readyz", port: "http", ...scheme });
    expect(gatewayContainer.livenessProbe.httpGet).toEqual({ path: "/healthz", port: "http", ...scheme });
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
      expect(
        Object.entries(GATEWAY_FLAGS).map(([flag, spec]) => spec.env ?? envName(flag)),
        `${name} is a gateway flag`,
      ).toContain(name);
    }
    expect(parseFlags(GATEWAY_FLAGS, flags, secretFiles(gateway, env).env).values.shards).toEqual([gatewayEnv.SHARDMAX_SHARDS]);
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

  it("network: only gateway pods reach the shards' gRPC port; monitoring reaches metrics ports; gateways take only their own ports", () => {
    const policies = objects.filter((o) => o.kind === "NetworkPolicy");
    const forShards = policies.find((p) => JSON.stringify(p.spec.podSelector.matchLabels) === JSON.stringify(shards.spec.selector.matchLabels))!;
    expect(forShards.spec.policyTypes).toEqual(["Ingress"]);
    const grpcRule = forShards.spec.ingress.find((r: any) => r.ports.some((p: any) => p.port === "grpc"));
    expect(grpcRule.from).toEqual([{ podSelector: { matchLabels: gateway.spec.selector.matchLabels } }]);
    expect(portOf(shardContainer, grpcRule.ports[0].port)).toBe(portOf(shardContainer, "grpc"));
    const monitoring = forShards.spec.ingress.filter((r: any) => r !== grpcRule);
    expect(monitoring).toEqual([
      { from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } } }], ports: [{ port: "metrics", protocol: "TCP" }] },
    ]);
    const forGateway = policies.find((p) => JSON.stringify(p.spec.podSelector.matchLabels) === JSON.stringify(gateway.spec.selector.matchLabels))!;
    const open = forGateway.spec.ingress.find((r: any) => r.from === undefined);
    expect(open.ports.map((p: any) => p.port).sort()).toEqual(["grpc", "http"]);
  });

  it("API keys: the gateway reads them from the mounted Secret shardmax-api-keys", () => {
    const { files } = secretFiles(gateway, gatewayEnv);
    expect(files.SHARDMAX_API_KEYS_FILE).toEqual({ secret: "shardmax-api-keys", key: "keys" });
    const generated = objects.find((o) => o.kind === "Secret" && o.metadata.name === "shardmax-api-keys");
    // dev generates a throw-away key; prod and base expect the operator's Secret and never carry a key.
    if (dir === "overlays/dev") expect(Buffer.from(generated!.data.keys, "base64").toString()).toMatch(/^dev-key-/m);
    else expect(generated).toBeUndefined();
  });
});

describe.skipIf(!hasKubectl)("k8s/overlays/prod TLS", () => {
  it("runs mutual TLS between gateways and shards, from cert-manager Certificates whose Secrets are mounted", () => {
    const objects = render("overlays/prod");
    const shards = onlyOf(objects, "StatefulSet");
    const gateway = onlyOf(objects, "Deployment");
    const shardFiles = secretFiles(shards, containerProcess(objects, shards, pod(0)).env).files;
    const gatewayFiles = secretFiles(gateway, containerProcess(objects, gateway, pod(0)).env).files;
    const gatewayEnv = containerProcess(objects, gateway, pod(0)).env;
    const certificates = objects.filter((o) => o.kind === "Certificate");
    const bySecret = (secret: string) => certificates.find((c) => c.spec.secretName === secret)!;
    // Shards: their certificate and key, and the CA that must have signed their clients' (mutual TLS).
    expect(shardFiles.SHARDMAX_TLS_CERT).toMatchObject({ key: "tls.crt" });
    expect(shardFiles.SHARDMAX_TLS_KEY).toEqual({ ...shardFiles.SHARDMAX_TLS_CERT, key: "tls.key" });
    expect(shardFiles.SHARDMAX_TLS_CLIENT_CA).toEqual({ ...shardFiles.SHARDMAX_TLS_CERT, key: "ca.crt" });
    const shardCert = bySecret(shardFiles.SHARDMAX_TLS_CERT!.secret);
    expect(shardCert.spec.usages).toContain("server auth");
    // Gateways: a client certificate of the same issuer, and the name the shards' certificate carries.
    expect(gatewayFiles.SHARDMAX_SHARD_TLS_CERT).toMatchObject({ key: "tls.crt" });
    expect(gatewayFiles.SHARDMAX_SHARD_TLS_KEY).toEqual({ ...gatewayFiles.SHARDMAX_SHARD_TLS_CERT, key: "tls.key" });
    expect(gatewayFiles.SHARDMAX_SHARD_TLS_CA).toEqual({ ...gatewayFiles.SHARDMAX_SHARD_TLS_CERT, key: "ca.crt" });
    const clientCert = bySecret(gatewayFiles.SHARDMAX_SHARD_TLS_CERT!.secret);
    expect(clientCert.spec.usages).toContain("client auth");
    expect(clientCert.spec.issuerRef).toEqual(shardCert.spec.issuerRef);
    expect(shardCert.spec.dnsNames).toContain(gatewayEnv.SHARDMAX_SHARD_TLS_SERVER_NAME);
    // Clients reach the gateway over TLS too.
    expect(bySecret(gatewayFiles.SHARDMAX_TLS_CERT!.secret).spec.usages).toContain("server auth");
    const issuer = onlyOf(objects, "Issuer");
    for (const c of certificates) expect(c.spec.issuerRef).toEqual({ name: issuer.metadata.name, kind: "Issuer" });
    for (const c of certificates) expect(c.spec.renewBefore).toBeDefined();
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
