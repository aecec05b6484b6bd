/** The shard's bound on logits held by all Shard.Logits streams at once: grants in order, waits, aborts. */
import { expect, it } from "vitest";
import { ByteBudget } from "../../../services/shard/byte-budget.js";

const never = new AbortController().signal;
const settled = async (p: Promise<unknown>) => {
  let done = false;
  void p.then(
    () => (done = true),
    () => (done = true),
  );
  await new Promise((r) => setImmediate(r));
  return done;
};

it("grants within the budget at once and makes the rest wait, first come first served", async () => {
  const budget = new ByteBudget(100);
  await budget.acquire(60, never);
  const second = budget.acquire(60, never);
  const third = budget.acquire(10, never); // would fit, but waits behind the second: no starving of large groups
  expect(await settled(second)).toBe(false);
  expect(await settled(third)).toBe(false);
  budget.release(60);
  expect(await settled(second)).toBe(true);
  expect(await settled(third)).toBe(true);
  expect(budget.usedBytes).toBe(70);
});

it("a waiter whose call goes away leaves the queue and the next one is served", async () => {
  const budget = new ByteBudget(100);
  await budget.acquire(100, never);
  const gone = new AbortController();
  const first = budget.acquire(50, gone.signal);
  const second = budget.acquire(50, never);
  gone.abort();
  await expect(first).rejects.toMatchObject({ code: "CANCELLED" });
  budget.release(100);
  expect(await settled(second)).toBe(true);
  expect(budget.usedBytes).toBe(50);
});

it("a request larger than the whole budget is granted alone", async () => {
  const budget = new ByteBudget(100);
  await budget.acquire(500, never);
  const next = budget.acquire(1, never);
  expect(await settled(next)).toBe(false);
  budget.release(500);
  expect(await settled(next)).toBe(true);
});
