/** Assertions on how a call fails, shared by the test files that check refusals. */
import { expect } from "vitest";
import { UsageError } from "../../services/cli/flags.js";
import { ShardmaxError } from "../../shared/errors.js";

/** Resolves to the one-line INVALID_ARGUMENT ShardmaxError the promise rejects with; fails the test otherwise. */
export async function invalidArgument(promise: Promise<unknown>): Promise<ShardmaxError> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ShardmaxError);
  expect((err as ShardmaxError).code).toBe("INVALID_ARGUMENT");
  expect((err as ShardmaxError).message).not.toContain("\n");
  return err as ShardmaxError;
}

/** The message of the UsageError `fn` throws; fails the test when it throws nothing or something else. */
export function usageMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as Error).message;
  }
  throw new Error("expected a UsageError");
}
