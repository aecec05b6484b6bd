/**
 * The gateway's gRPC door: `shardmax.v1.Softmax` (Info, Query) and the
 * standard health service, answering from the same topology as REST.
 */
import * as grpc from "@grpc/grpc-js";
import { HealthImplementation } from "grpc-health-check";
import { invalidField } from "../../shared/errors.js";
import type { QueryRequestMessage, QueryResponse, SampleSpecMessage } from "../../shared/grpc/messages.js";
import { shardmaxDefinition, shardmaxProto } from "../../shared/grpc/proto.js";
import { addReflection, type ServiceModule } from "../../shared/grpc/reflection.js";
import { bind, drainWithin } from "../../shared/grpc/server-lifecycle.js";
import { type ServerTlsHandle, type ServingTls, serverCredentials } from "../../shared/grpc/tls.js";
import type { Logger } from "../../shared/log.js";
import { float32From } from "../../shared/tensor-bytes.js";
import type { Gatekeeper } from "./auth.js";
import type { GatewayCore } from "./core.js";
import { distributionHandler } from "./distribution-grpc.js";
import { grpcAuthInterceptor } from "./grpc-auth.js";
import { grpcUnary } from "./grpc-unary.js";
import { type Answer, DEFAULT_TOP_K, type Query } from "./query.js";
import { recordGrpcRequest } from "./request-metrics.js";
import type { SampleRequest } from "./sampling.js";

const SERVICE_NAME = "shardmax.v1.Softmax";

export interface SoftmaxServerOptions {
  core: GatewayCore;
  maxReceiveBytes: number;
  maxSendBytes: number;
  log: Logger;
  /** Other services on the same server and port (the Open Inference Protocol's, grpc-inference.ts). */
  services?: ServiceModule[];
  /** TLS on the listener (unset: plaintext). */
  tls?: ServingTls | undefined;
  /** API keys and quotas on every service but health (auth.ts). */
  auth?: Gatekeeper | undefined;
}

export class SoftmaxServer {
  private readonly server: grpc.Server;
  private readonly health = new HealthImplementation({ "": "SERVING", [SERVICE_NAME]: "NOT_SERVING" });
  private stopping = false;
  private tls: ServerTlsHandle | null = null;

  constructor(private readonly options: SoftmaxServerOptions) {
    this.server = new grpc.Server({
      "grpc.max_receive_message_length": options.maxReceiveBytes,
      "grpc.max_send_message_length": options.maxSendBytes,
      ...(options.auth ? { interceptors: [grpcAuthInterceptor(options.auth)] } : {}),
    });
    this.health.addToServer(this.server);
    this.server.addService(shardmaxProto().Softmax.service, {
      info: grpcUnary(async () => options.core.model()),
      query: grpcUnary((request: QueryRequestMessage, deadline, requestId) =>
        recordGrpcRequest(options.core, "grpc_softmax", requestId, async () => toMessage(await this.query(request, deadline))),
      ),
      distribution: distributionHandler(options.core, options.maxSendBytes),
    });
    const services = options.services ?? [];
    for (const service of services) service.addTo(this.server);
    addReflection(this.server, [{ definition: shardmaxDefinition(), names: [SERVICE_NAME] }, ...services]);
    options.core.onReadinessChange((readiness) => {
      if (!this.stopping) this.health.setStatus(SERVICE_NAME, readiness.ready ? "SERVING" : "NOT_SERVING");
    });
  }

  listen(address: string): Promise<number> {
    this.tls = serverCredentials(this.options.tls, this.options.log.child("tls"));
    return bind(this.server, address, this.tls.credentials);
  }

  setServing(serving: boolean): void {
    this.stopping = !serving;
    const status = serving ? "SERVING" : "NOT_SERVING";
    this.health.setStatus("", status);
    this.health.setStatus(SERVICE_NAME, status);
  }

  async shutdown(graceMs: number): Promise<void> {
    await drainWithin(this.server, graceMs);
    this.tls?.close();
  }

  private query(request: QueryRequestMessage, callDeadline: Date | undefined): Promise<Answer> {
    const query: Query = {
      rows: request.rows,
      dim: request.dim,
      hidden: float32From(request.hidden, "hidden"),
      topK: request.topK ?? DEFAULT_TOP_K,
      targets: request.targets.map((t) => t.ids),
      temperature: request.temperature ?? 1,
      ...(request.sample ? { sample: sampleFromMessage(request.sample) } : {}),
    };
    if (query.hidden.length !== query.rows * query.dim) {
      throw invalidField("hidden", `has ${query.hidden.length} floats, rows×dim = ${query.rows * query.dim}`);
    }
    return this.options.core.query(query, callDeadline);
  }
}

function toMessage(answer: Answer): QueryResponse {
  return {
    model: answer.model,
    results: answer.results.map((r) => ({ logZ: r.logZ, top: r.top, targets: r.targets, seed: r.seed, samples: r.samples ?? [] })),
  };
}

/** proto3 optional fields arrive as undefined when unset; `seeds` and `seed` are the REST `seed` (array or integer). */
function sampleFromMessage(m: SampleSpecMessage): SampleRequest {
  if (m.seeds.length > 0 && m.seed !== undefined) throw invalidField("sample.seed", "give seed or seeds, not both");
  const seed = m.seeds.length > 0 ? m.seeds : m.seed;
  const out: SampleRequest = { n: m.n };
  if (seed !== undefined) out.seed = seed;
  if (m.topK !== undefined) out.topK = m.topK;
  if (m.topP !== undefined) out.topP = m.topP;
  if (m.minP !== undefined) out.minP = m.minP;
  return out;
}
