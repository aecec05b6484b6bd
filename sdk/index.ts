/** `import { ShardmaxClient } from "shardmax/sdk"` */

export { ERROR_CODES, type ErrorCode, ShardmaxError } from "../shared/errors.js";
export { type ClientOptions, collectDistribution, ShardmaxClient } from "./client.js";
export type * from "./types.js";
