// verifyWebhook must compare signatures with crypto.timingSafeEqual, never with === on strings.
import type * as crypto from "node:crypto";
import { describe, expect, it, vi } from "vitest";
import { VECTOR } from "./__fixtures__/deliveries.js";
import { verifyWebhook } from "./index.js";

const { timingSafeEqual } = vi.hoisted(() => ({ timingSafeEqual: vi.fn() }));
vi.mock("node:crypto", async (importOriginal) => {
  const actual = await importOriginal<typeof crypto>();
  timingSafeEqual.mockImplementation(actual.timingSafeEqual);
  return { ...actual, default: { ...actual, timingSafeEqual }, timingSafeEqual };
});

describe("verifyWebhook's comparison", () => {
  it("goes through crypto.timingSafeEqual for each same-length candidate", () => {
    const other = `v1,${Buffer.alloc(32, 1).toString("base64")}`;
    const headers = {
      "webhook-id": VECTOR.id,
      "webhook-timestamp": String(VECTOR.timestamp),
      "webhook-signature": `${other} ${VECTOR.signature}`,
    };
    verifyWebhook(VECTOR.secret, VECTOR.body, headers, { now: () => VECTOR.timestamp * 1000 });
    expect(timingSafeEqual).toHaveBeenCalledTimes(2);
    const [candidate, expected] = timingSafeEqual.mock.calls[1]! as [Buffer, Buffer];
    expect(candidate.toString("base64")).toBe(VECTOR.signature.slice(3));
    expect(expected.equals(candidate)).toBe(true);
  });

  it("is also how a wrong signature is refused", () => {
    timingSafeEqual.mockClear();
    const headers = {
      "webhook-id": VECTOR.id,
      "webhook-timestamp": String(VECTOR.timestamp),
      "webhook-signature": `v1,${Buffer.alloc(32, 2).toString("base64")}`,
    };
    expect(() => verifyWebhook(VECTOR.secret, VECTOR.body, headers, { now: () => VECTOR.timestamp * 1000 })).toThrow();
    expect(timingSafeEqual).toHaveBeenCalledTimes(1);
    expect(timingSafeEqual.mock.results[0]!.value).toBe(false);
  });
});
