import { describe, expect, it } from "vitest";
import { compileCondition } from "./condition.js";
import type { Condition } from "./types.js";

const payload = { plan: "pro", seats: 12, email: "alex@northstar.io", tags: ["beta", "vip"], user: { country: "FR", signup: "2026-03-01" }, trial: null };
const test = (condition: Condition) => compileCondition(condition)(payload);

describe("when conditions", () => {
  it.each<[Condition, boolean]>([
    [{ path: "plan", op: "eq", value: "pro" }, true],
    [{ path: "plan", op: "eq", value: "team" }, false],
    [{ path: "user", op: "eq", value: { signup: "2026-03-01", country: "FR" } }, true],
    [{ path: "tags", op: "eq", value: ["beta", "vip"] }, true],
    [{ path: "plan", op: "neq", value: "team" }, true],
    [{ path: "missing", op: "neq", value: "x" }, true],
    [{ path: "plan", op: "in", value: ["pro", "team"] }, true],
    [{ path: "plan", op: "in", value: ["free"] }, false],
    [{ path: "plan", op: "nin", value: ["free"] }, true],
    [{ path: "user.country", op: "exists" }, true],
    [{ path: "trial", op: "exists" }, false],
    [{ path: "missing", op: "exists", value: false }, true],
    [{ path: "seats", op: "gt", value: 10 }, true],
    [{ path: "seats", op: "gte", value: 12 }, true],
    [{ path: "seats", op: "lt", value: 12 }, false],
    [{ path: "seats", op: "lte", value: 12 }, true],
    [{ path: "seats", op: "gt", value: "10" }, false],
    [{ path: "user.signup", op: "gte", value: "2026-01-01" }, true],
    [{ path: "missing", op: "lt", value: 5 }, false],
    [{ path: "email", op: "contains", value: "@northstar." }, true],
    [{ path: "tags", op: "contains", value: "vip" }, true],
    [{ path: "tags", op: "contains", value: "free" }, false],
    [{ path: "seats", op: "contains", value: 1 }, false],
    [{ path: "email", op: "starts_with", value: "alex@" }, true],
    [{ path: "tags.0", op: "eq", value: "beta" }, true],
  ])("%j → %s", (condition, expected) => {
    expect(test(condition)).toBe(expected);
  });

  it("combines with all, any and not", () => {
    expect(test({ all: [{ path: "plan", op: "eq", value: "pro" }, { path: "seats", op: "gt", value: 5 }] })).toBe(true);
    expect(test({ all: [{ path: "plan", op: "eq", value: "pro" }, { path: "seats", op: "gt", value: 50 }] })).toBe(false);
    expect(test({ any: [{ path: "plan", op: "eq", value: "free" }, { path: "tags", op: "contains", value: "vip" }] })).toBe(true);
    expect(test({ not: { path: "email", op: "contains", value: "@test." } })).toBe(true);
    expect(test({ all: [{ any: [{ path: "plan", op: "eq", value: "x" }, { not: { path: "trial", op: "exists" } }] }, { path: "user.country", op: "in", value: ["FR", "DE"] }] })).toBe(true);
  });
});
