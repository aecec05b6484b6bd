/** Admission by rows: past --max-inflight-rows a query is refused at once, and rows are released when it ends, failed or not. */
import { describe, expect, it } from "vitest";
import { RowAdmission } from "../../../services/gateway/admission.js";
import { ShardmaxError } from "../../../shared/errors.js";

describe("RowAdmission", () => {
  it("refuses a query that would pass the bound while others are held, and admits again once they finish", async () => {
    const admission = new RowAdmission(10);
    let release: () => void = () => {};
    const held = admission.run(8, () => new Promise<string>((resolve) => (release = () => resolve("first"))));
    expect(admission.inflightRows).toBe(8);
    const refused = await admission.run(3, async () => "second").catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ShardmaxError);
    expect((refused as ShardmaxError).code).toBe("OVERLOADED");
    expect((refused as ShardmaxError).message).toMatch(/holds 8 rows.*--max-inflight-rows 10/);
    expect((refused as ShardmaxError).httpStatus).toBe(503);
    expect(await admission.run(2, async () => "fits")).toBe("fits");
    release();
    expect(await held).toBe("first");
    expect(admission.inflightRows).toBe(0);
    expect(await admission.run(10, async () => "again")).toBe("again");
  });

  it("releases the rows of a query that failed", async () => {
    const admission = new RowAdmission(4);
    await expect(admission.run(4, async () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    expect(admission.inflightRows).toBe(0);
  });
});

describe("RowAdmission by answer bytes", () => {
  it("refuses a query whose answer would pass the byte bound while others are built", async () => {
    const admission = new RowAdmission(1000, 100);
    let release: () => void = () => {};
    const held = admission.run(1, () => new Promise<void>((resolve) => (release = resolve)), 80);
    const refused = await admission.run(1, async () => "no", 30).catch((e: unknown) => e);
    expect((refused as ShardmaxError).code).toBe("OVERLOADED");
    expect(await admission.run(1, async () => "fits", 20)).toBe("fits");
    release();
    await held;
    expect(await admission.run(1, async () => "alone", 500)).toBe("alone");
  });
});
