import { describe, expect, it } from "vitest";
import { uuidv7 } from "./uuid.js";

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe("uuidv7", () => {
  it("starts from the current time (run first: a counter overflow borrows the next millisecond)", () => {
    const before = Date.now();
    const id = uuidv7();
    const ms = parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
    expect(ms).toBeGreaterThanOrEqual(before);
    expect(ms).toBeLessThanOrEqual(Date.now());
  });

  it("makes distinct, well-formed ids that sort in the order they were made, across many random blocks", () => {
    const ids = Array.from({ length: 50_000 }, () => uuidv7());
    for (const id of ids) expect(id).toMatch(UUID_V7);
    expect(new Set(ids).size).toBe(ids.length);
    for (let i = 1; i < ids.length; i++) expect(ids[i]! > ids[i - 1]!).toBe(true);
    expect(new Set(ids.map((id) => id[19])).size).toBe(4); // the variant takes all four values
  });
});
