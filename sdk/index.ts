/** `import { ShardmaxClient } from "shardmax/sdk"` */
export { ShardmaxClient, collectDistribution, type ClientOptions } from "./client.js";
export { ShardmaxError, ERROR_CODES, type ErrorCode } from "../shared/errors.js";
export type * from "./types.js";
