import { describe, expect, it } from "vitest";
import { flattenEventMetadata } from "./event-metadata.js";

describe("flattenEventMetadata", () => {
  it("joins nested keys with `_`, keeping the order they appear in", () => {
    expect(flattenEventMetadata({ a: { b: { c: 1 } }, d: "x" })).toEqual({ metadata: { a_b_c: 1, d: "x" }, cut: [], dropped: [] });
  });

  it("drops null, undefined and non-finite numbers", () => {
    expect(flattenEventMetadata({ a: null, b: undefined, c: Number.NaN, d: 0 })).toEqual({
      metadata: { d: 0 },
      cut: [],
      dropped: ["a", "b", "c"],
    });
  });

  it("keeps exactly the first 10 keys", () => {
    const input = Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`k${i}`, i]));
    const { metadata, cut } = flattenEventMetadata(input);
    expect(Object.keys(metadata)).toEqual(["k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8", "k9"]);
    expect(cut).toEqual(["k10", "k11"]);
  });

  it("an empty object nested inside adds no key", () => {
    expect(flattenEventMetadata({ a: {} }).metadata).toEqual({});
  });
});
