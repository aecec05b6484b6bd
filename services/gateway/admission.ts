/**
 * Admission by rows and by answer bytes: every query the gateway holds, from
 * admission to answer, counts its rows and the estimated bytes of its answer
 * (shared/limits/query-cost.ts); past `maxInflightRows` or
 * `maxInflightAnswerBytes` a query is refused at once
 * (OVERLOADED: 503 with Retry-After, gRPC RESOURCE_EXHAUSTED) instead of
 * queueing, so memory stays bounded and admitted queries keep their latency.
 */
import { ShardmaxError } from "../../shared/errors.js";

export class RowAdmission {
  private held = 0;
  private heldBytes = 0;

  constructor(
    readonly maxInflightRows: number,
    readonly maxInflightAnswerBytes: number = Infinity,
  ) {}

  get inflightRows(): number {
    return this.held;
  }

  /** `answerBytes` 0 leaves the query to the row bound alone (a query refused later for its size costs nothing). */
  async run<T>(rows: number, work: () => Promise<T>, answerBytes = 0): Promise<T> {
    // A query alone over a bound is refused as too large by the per-request limits, never here: the first one always goes.
    if (this.held > 0 && this.held + rows > this.maxInflightRows) {
      throw new ShardmaxError(
        "OVERLOADED",
        `the gateway holds ${this.held} rows in flight; ${rows} more would pass --max-inflight-rows ${this.maxInflightRows}`,
      );
    }
    if (this.heldBytes > 0 && this.heldBytes + answerBytes > this.maxInflightAnswerBytes) {
      throw new ShardmaxError(
        "OVERLOADED",
        `the gateway is building answers of about ${this.heldBytes} bytes; this one would pass ${this.maxInflightAnswerBytes} (2 × --max-response-bytes)`,
      );
    }
    this.held += rows;
    this.heldBytes += answerBytes;
    try {
      return await work();
    } finally {
      this.held -= rows;
      this.heldBytes -= answerBytes;
    }
  }
}
