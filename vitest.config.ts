import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // End-to-end tests start real shard processes; onnxruntime sessions need a few seconds on 2 cores.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Process-level isolation: each file may start servers and child processes of its own.
    pool: "forks",
    maxWorkers: 2,
  },
});
