/**
 * Hidden rows as REST sends them, `[[h0 … h(d-1)], …]`: the JSON schema of the
 * field and its conversion to one row-major Float32Array, shared by every
 * route that takes them. Ragged rows and too many rows are refused here,
 * before the rows are copied; a wrong d and non-finite values by the core's
 * checks (query.ts).
 */
import { invalidField } from "../../shared/errors.js";
import { checkRowCount } from "./query.js";

export const HIDDEN_SCHEMA = { type: "array", items: { type: "array", items: { type: "number" } } } as const;

export function hiddenFromJson(rowsJson: number[][], maxRows: number): { rows: number; dim: number; hidden: Float32Array } {
  const rows = rowsJson.length;
  if (rows === 0) throw invalidField("hidden", "is empty: send at least one row");
  checkRowCount(rows, maxRows);
  const dim = rowsJson[0]!.length;
  const hidden = new Float32Array(rows * dim);
  rowsJson.forEach((row, r) => {
    if (row.length !== dim) throw invalidField(`hidden[${r}]`, `has ${row.length} numbers, hidden[0] has ${dim} (rows must all have d numbers)`);
    hidden.set(row, r * dim);
  });
  return { rows, dim, hidden };
}
