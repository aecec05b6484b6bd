/**
 * Admission by rows: every query the gateway holds, from admission to answer,
 * counts its rows; past `maxInflightRows` a query is refused at once
 * (OVERLOADED: 503 with Retry-After, gRPC RESOURCE_EXHAUSTED) instead of
 * queueing, so memory stays bounded and admitted queries keep their latency.
 */
import { ShardmaxError } from "../../shared/errors.js";

export class RowAdmission {
  private held = 0;

  constructor(readonly maxInflightRows: number) {}

  get inflightRows(): number {
    return this.held;
  }

  async run<T>(rows: number, work: () => Promise<T>): Promise<T> {
    // A single query over the bound would never be admitted: it is refused as too large by the row limit first.
    if (this.held > 0 && this.held + rows > this.maxInflightRows) {
      throw new ShardmaxError("OVERLOADED", `the gateway holds ${this.held} rows in flight; ${rows} more would pass --max-inflight-rows ${this.maxInflightRows}`);
    }
    this.held += rows;
    try {
      return await work();
    } finally {
      this.held -= rows;
    }
  }
}
