/**
 * The Kubernetes manifests as the cluster would receive them: `kubectl
 * kustomize` output parsed into objects, and a container's process (image
 * entry point, args, environment) resolved the way the kubelet does it —
 * envFrom ConfigMaps, env values, ConfigMap keys, downward-API fields and
 * `$(VAR)` expansion — with the pod's own values (index, name, namespace).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { DockerfileParser, type JSONInstruction } from "dockerfile-ast";
import { parseAllDocuments } from "yaml";

export const ROOT = join(import.meta.dirname, "..", "..");
export const K8S = join(ROOT, "k8s");

/** A rendered object; fields are read by path, so loosely typed on purpose. */
export type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> } } & Record<
  string,
  any
>;

export const hasKubectl = spawnSync("kubectl", ["version", "--client"], { stdio: "ignore" }).status === 0;
export const NO_KUBECTL = "kubectl is not on PATH: the manifest checks are skipped (install kubectl to run them)";

export function render(dir: string): K8sObject[] {
  const yaml = execFileSync("kubectl", ["kustomize", join(K8S, dir)], { encoding: "utf8" });
  return parseYaml(yaml);
}

export function parseYaml(text: string): K8sObject[] {
  return parseAllDocuments(text)
    .map((doc) => doc.toJSON() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null);
}

export function find(objects: readonly K8sObject[], kind: string, name: string): K8sObject {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name} among ${objects.map((o) => `${o.kind}/${o.metadata.name}`).join(", ")}`);
  return found;
}

export function onlyOf(objects: readonly K8sObject[], kind: string): K8sObject {
  const all = objects.filter((o) => o.kind === kind);
  if (all.length !== 1) throw new Error(`expected one ${kind}, found ${all.length}`);
  return all[0]!;
}

/** The image's entry point from the Dockerfile's last stage, and its working directory. */
export function imageEntrypoint(): { entrypoint: string[]; workdir: string } {
  const dockerfile = DockerfileParser.parse(readFileSync(join(ROOT, "Dockerfile"), "utf8"));
  const last = dockerfile.getFROMs().at(-1)!.getRange().start.line;
  const runtime = dockerfile.getInstructions().filter((i) => i.getRange().start.line >= last);
  const entry = runtime.find((i) => i.getKeyword() === "ENTRYPOINT") as JSONInstruction | undefined;
  const workdir =
    runtime
      .filter((i) => i.getKeyword() === "WORKDIR")
      .at(-1)
      ?.getArguments()[0]
      ?.getValue() ?? "/";
  if (!entry) throw new Error("the Dockerfile's last stage has no ENTRYPOINT");
  return { entrypoint: entry.getJSONStrings().map((s) => s.getJSONValue()), workdir };
}

export interface PodValues {
  index: number;
  name: string;
  namespace: string;
  ip: string;
}

export interface ContainerProcess {
  /** Entry point + args, as the container runtime runs them. */
  argv: string[];
  env: Record<string, string>;
}

/** The one container of a workload's pod template. */
export function container(workload: K8sObject): Record<string, any> {
  const containers = workload.spec.template.spec.containers as Record<string, any>[];
  if (containers.length !== 1) throw new Error(`${workload.kind}/${workload.metadata.name}: expected one container`);
  return containers[0]!;
}

/** What the kubelet would run in pod `pod` of `workload`: the image entry point (unless command is set), args, env. */
export function containerProcess(objects: readonly K8sObject[], workload: K8sObject, pod: PodValues): ContainerProcess {
  const c = container(workload);
  const env: Record<string, string> = {};
  for (const source of (c.envFrom ?? []) as Record<string, any>[]) {
    const map = find(objects, "ConfigMap", source.configMapRef.name);
    for (const [key, value] of Object.entries((map.data ?? {}) as Record<string, string>)) env[`${source.prefix ?? ""}${key}`] = value;
  }
  for (const item of (c.env ?? []) as Record<string, any>[]) {
    if (item.value !== undefined) env[item.name] = expand(String(item.value), env);
    else if (item.valueFrom?.configMapKeyRef)
      env[item.name] = find(objects, "ConfigMap", item.valueFrom.configMapKeyRef.name).data[item.valueFrom.configMapKeyRef.key];
    else if (item.valueFrom?.fieldRef) env[item.name] = downwardField(item.valueFrom.fieldRef.fieldPath, workload, pod);
    else throw new Error(`env ${item.name}: unsupported source ${JSON.stringify(item.valueFrom)}`);
  }
  const entry = imageEntrypoint().entrypoint;
  const command = (c.command as string[] | undefined) ?? entry;
  const args = (c.args as string[] | undefined) ?? [];
  return { argv: [...command, ...args].map((a) => expand(a, env)), env };
}

/** The downward-API fields the manifests use; pod-index is the label the StatefulSet controller sets. */
function downwardField(path: string, workload: K8sObject, pod: PodValues): string {
  const labels: Record<string, string> = {
    ...workload.spec.template.metadata?.labels,
    "apps.kubernetes.io/pod-index": String(pod.index),
    "statefulset.kubernetes.io/pod-name": pod.name,
  };
  const label = /^metadata\.labels\['([^']+)'\]$/.exec(path);
  if (label) {
    const value = labels[label[1]!];
    if (value === undefined) throw new Error(`downward API: the pod has no label ${label[1]}`);
    return value;
  }
  const fields: Record<string, string> = { "metadata.name": pod.name, "metadata.namespace": pod.namespace, "status.podIP": pod.ip };
  const value = fields[path];
  if (value === undefined) throw new Error(`downward API: field ${path} is not simulated`);
  return value;
}

/** Kubernetes' `$(VAR)` expansion: defined variables are replaced, `$$` escapes, anything else stays as written. */
export function expand(text: string, env: Record<string, string>): string {
  return text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (whole, name: string | undefined) => {
    if (whole === "$$") return "$";
    return env[name!] ?? whole;
  });
}

/** A container port by name or number. */
export function portOf(c: Record<string, any>, port: string | number): number {
  if (typeof port === "number") return port;
  const found = (c.ports as { name: string; containerPort: number }[]).find((p) => p.name === port);
  if (!found) throw new Error(`container ${c.name} has no port named ${port}`);
  return found.containerPort;
}
