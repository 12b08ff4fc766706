import { randomFillSync } from "node:crypto";

const HEX3 = Array.from({ length: 4096 }, (_, i) => i.toString(16).padStart(3, "0"));
const VARIANT = ["8", "9", "a", "b"];
const pool = Buffer.allocUnsafe(8192);
let poolAt = pool.length;
let lastMs = -1;
let counter = 0;
let prefix = "";

function setPrefix(ms: number): void {
  const hex = Math.max(0, Math.floor(ms)).toString(16).padStart(12, "0");
  prefix = `${hex.slice(0, 8)}-${hex.slice(8)}-7`;
}

/**
 * A UUIDv7 (time-ordered, RFC 9562) for `ms`: 48-bit time, a 12-bit counter that keeps ids of one
 * millisecond in order (stores index them append-mostly), then 62 random bits.
 */
export function uuidv7(ms: number = Date.now()): string {
  if (ms > lastMs) {
    lastMs = ms;
    counter = 0;
    setPrefix(ms);
  } else if (++counter > 0xfff) {
    counter = 0;
    setPrefix(++lastMs);
  }
  if (poolAt + 8 > pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  const variant = VARIANT[pool[poolAt]! & 3]!;
  const hex = pool.toString("hex", poolAt, poolAt + 8);
  poolAt += 8;
  return `${prefix}${HEX3[counter]}-${variant}${hex.slice(1, 4)}-${hex.slice(4)}`;
}
