/**
 * The error table: every code maps to a real gRPC status and an HTTP error
 * status, and ShardmaxError.from keeps a failure's meaning across a gRPC hop.
 */
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { codeFromGrpc, ERROR_CODES, type ErrorCode, invalidField, ShardmaxError } from "../../shared/errors.js";

const { status } = grpc;
const CODES = Object.keys(ERROR_CODES) as ErrorCode[];
/** The numeric members of grpc-js's `status` enum (a TS enum also maps numbers back to names). */
const GRPC_STATUSES = new Set(Object.values(status).filter((v): v is number => typeof v === "number"));

describe("ERROR_CODES", () => {
  it("is not empty and holds the codes the architecture names", () => {
    for (const code of ["INVALID_ARGUMENT", "UNAVAILABLE", "MODEL_MISMATCH", "DEADLINE_EXCEEDED", "RESOURCE_EXHAUSTED", "INTERNAL"]) {
      expect(CODES).toContain(code);
    }
  });

  it.each(CODES)("%s maps to a gRPC error status and an HTTP 4xx/5xx, and is documented", (code) => {
    const { grpc: grpcStatus, http, doc } = ERROR_CODES[code];
    expect(GRPC_STATUSES.has(grpcStatus), `gRPC status ${grpcStatus}`).toBe(true);
    expect(grpcStatus).not.toBe(status.OK);
    expect(Number.isInteger(http)).toBe(true);
    expect(http).toBeGreaterThanOrEqual(400);
    expect(http).toBeLessThanOrEqual(599);
    // 499 is nginx's "client closed request": right for CANCELLED only.
    if (http === 499) expect(code).toBe("CANCELLED");
    expect(doc.trim().length).toBeGreaterThan(0);
    const err = new ShardmaxError(code, "boom");
    expect(err.grpcStatus).toBe(grpcStatus);
    expect(err.httpStatus).toBe(http);
  });

  it.each([
    ["INVALID_ARGUMENT", status.INVALID_ARGUMENT, 400],
    ["UNAVAILABLE", status.UNAVAILABLE, 503],
    ["MODEL_MISMATCH", status.FAILED_PRECONDITION, 409],
    ["DEADLINE_EXCEEDED", status.DEADLINE_EXCEEDED, 504],
    ["RESOURCE_EXHAUSTED", status.RESOURCE_EXHAUSTED, 429],
    ["BODY_TOO_LARGE", status.RESOURCE_EXHAUSTED, 413],
    ["CANCELLED", status.CANCELLED, 499],
    ["INTERNAL", status.INTERNAL, 500],
  ] as const)("%s is gRPC %i and HTTP %i, as ARCHITECTURE.md §6 says", (code, grpcStatus, http) => {
    expect(ERROR_CODES[code].grpc).toBe(grpcStatus);
    expect(ERROR_CODES[code].http).toBe(http);
  });

  it.each(CODES)("%s keeps its gRPC status across a hop (codeFromGrpc of its status carries the same status)", (code) => {
    const back = codeFromGrpc(ERROR_CODES[code].grpc);
    expect(ERROR_CODES[back].grpc).toBe(ERROR_CODES[code].grpc);
  });
});

describe("ShardmaxError", () => {
  it("is an Error with a name, a code, a message and a cause", () => {
    const cause = new Error("root");
    const err = new ShardmaxError("UNAVAILABLE", "no shard serves [0, 10)", { cause });
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe("ShardmaxError");
    expect(err.code).toBe("UNAVAILABLE");
    expect(err.message).toBe("no shard serves [0, 10)");
    expect(err.cause).toBe(cause);
  });

  it("invalidField is INVALID_ARGUMENT naming the field", () => {
    const err = invalidField("topK", "must be ≤ 1000");
    expect(err.code).toBe("INVALID_ARGUMENT");
    expect(err.message).toContain("topK");
  });

  describe("from", () => {
    it("returns a ShardmaxError unchanged", () => {
      const err = new ShardmaxError("MODEL_MISMATCH", "fingerprints differ");
      expect(ShardmaxError.from(err)).toBe(err);
      expect(ShardmaxError.from(err, "UNAVAILABLE")).toBe(err);
    });

    it("wraps a plain Error as INTERNAL, keeping message and cause", () => {
      const plain = new TypeError("x is undefined");
      const err = ShardmaxError.from(plain);
      expect(err).toBeInstanceOf(ShardmaxError);
      expect(err.code).toBe("INTERNAL");
      expect(err.message).toBe("x is undefined");
      expect(err.cause).toBe(plain);
    });

    it("wraps a thrown non-Error, and honours the fallback code", () => {
      expect(ShardmaxError.from("oops").code).toBe("INTERNAL");
      expect(ShardmaxError.from("oops").message).toBe("oops");
      expect(ShardmaxError.from(new Error("late"), "DEADLINE_EXCEEDED").code).toBe("DEADLINE_EXCEEDED");
    });

    it("does not mistake a Node system error (string code) for a gRPC error", () => {
      const sys = Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
      expect(ShardmaxError.from(sys).code).toBe("INTERNAL");
    });

    it.each([
      [status.INVALID_ARGUMENT, "INVALID_ARGUMENT"],
      [status.OUT_OF_RANGE, "INVALID_ARGUMENT"],
      [status.UNAVAILABLE, "UNAVAILABLE"],
      [status.FAILED_PRECONDITION, "MODEL_MISMATCH"],
      [status.DEADLINE_EXCEEDED, "DEADLINE_EXCEEDED"],
      [status.CANCELLED, "CANCELLED"],
      [status.RESOURCE_EXHAUSTED, "RESOURCE_EXHAUSTED"],
      [status.NOT_FOUND, "NOT_FOUND"],
      [status.UNIMPLEMENTED, "NOT_FOUND"],
      [status.INTERNAL, "INTERNAL"],
      [status.DATA_LOSS, "INTERNAL"],
      [status.UNKNOWN, "INTERNAL"],
    ] as const)("maps a gRPC-like error with status %i to %s, details as message", (grpcStatus, code) => {
      const grpcErr = Object.assign(new Error(`${grpcStatus} X: shard said no`), { code: grpcStatus, details: "shard said no" });
      const err = ShardmaxError.from(grpcErr);
      expect(err.code).toBe(code);
      expect(err.message).toBe("shard said no");
      expect(err.cause).toBe(grpcErr);
    });

    it("uses the message when a gRPC error has empty details", () => {
      const err = ShardmaxError.from({ code: status.UNAVAILABLE, details: "", message: "14 UNAVAILABLE: No connection established" });
      expect(err.code).toBe("UNAVAILABLE");
      expect(err.message).toBe("14 UNAVAILABLE: No connection established");
    });
  });
});

describe("ShardmaxError.from on a real grpc-js error (server on port 0)", () => {
  const passthrough = (b: Buffer) => b;
  const definition: grpc.ServiceDefinition = {
    Fail: {
      path: "/shardmax.test.Errors/Fail",
      requestStream: false,
      responseStream: false,
      requestSerialize: passthrough,
      requestDeserialize: passthrough,
      responseSerialize: passthrough,
      responseDeserialize: passthrough,
    },
  };
  const server = new grpc.Server();
  let client: grpc.Client & Record<string, (req: Buffer, cb: (err: grpc.ServiceError | null) => void) => void>;

  beforeAll(async () => {
    // The request body is the status to fail with, one byte.
    server.addService(definition, {
      Fail: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
        const code = call.request[0]!;
        callback({ code, details: `failed with ${code}` });
      },
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    const Client = grpc.makeGenericClientConstructor(definition, "Errors");
    client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as typeof client;
  });

  afterAll(() => {
    client?.close();
    server.forceShutdown();
  });

  it.each([
    [status.INVALID_ARGUMENT, "INVALID_ARGUMENT"],
    [status.UNAVAILABLE, "UNAVAILABLE"],
    [status.FAILED_PRECONDITION, "MODEL_MISMATCH"],
    [status.DEADLINE_EXCEEDED, "DEADLINE_EXCEEDED"],
  ] as const)("status %i from a shard becomes %s", async (grpcStatus, code) => {
    const received = await new Promise<grpc.ServiceError | null>((resolve) => client.Fail(Buffer.from([grpcStatus]), resolve));
    expect(received).not.toBeNull();
    expect(received!.code).toBe(grpcStatus);
    const err = ShardmaxError.from(received);
    expect(err.code).toBe(code);
    expect(err.message).toBe(`failed with ${grpcStatus}`);
  });
});

describe("documentation", () => {
  it("every error code is in the README's table with its HTTP status", async () => {
    const { readFileSync } = await import("node:fs");
    const { join } = await import("node:path");
    const readme = readFileSync(join(import.meta.dirname, "..", "..", "README.md"), "utf8");
    for (const [code, { http }] of Object.entries(ERROR_CODES)) {
      // Cells may be padded: the formatter aligns the table.
      expect(readme, code).toMatch(new RegExp(`\\| \`${code}\` +\\| ${http} +\\|`));
    }
  });
});
