/** What every door of the gateway (REST, gRPC) needs to answer a query. */

import type { Labels } from "../../shared/checkpoint/labels.js";
import type { Logger } from "../../shared/log.js";
import type { GatewayMetrics } from "../../shared/metrics/gateway-metrics.js";
import type { Tracing } from "../../shared/tracing/tracing.js";
import type { RowAdmission } from "./admission.js";
import type { DistributionService } from "./distribution.js";
import type { FanOut } from "./fanout.js";
import type { QueryLimits } from "./query.js";
import type { ShardSet } from "./shard-set.js";

export interface GatewayContext {
  shardSet: ShardSet;
  /** The fan-out, or the coalescer in front of it: anything that answers `partials`. */
  fanOut: Pick<FanOut, "partials" | "stats">;
  limits: QueryLimits;
  deadlineMs: number;
  /** Class labels for results (--labels), or null. */
  labels: Labels | null;
  /** Bounds the rows held at once across REST and gRPC (--max-inflight-rows). */
  admission: RowAdmission;
  /** Whether /v1/model, Info and errors may show shard addresses and socket errors (--expose-topology). */
  exposeTopology: boolean;
  /** POST /v1/distribution and Softmax.Distribution (distribution.ts); unset: those answer NOT_FOUND. */
  distribution?: DistributionService;
  /** The gateway's instruments; unset: nothing is recorded. */
  metrics?: GatewayMetrics;
  /** Where per-request lines (slow requests) go. */
  log?: Logger;
  /** A request slower than this is logged; unset: never. */
  slowQueryMs?: number;
  /** A span per query when enabled (--otlp-endpoint). */
  tracing?: Tracing;
}
