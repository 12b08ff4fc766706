import { randomFillSync } from "node:crypto";

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));
const pool = new Uint8Array(8192);
let poolIndex = pool.length;
let lastMs = -1;
let counter = 0;

function randomByte(): number {
  if (poolIndex >= pool.length) {
    randomFillSync(pool);
    poolIndex = 0;
  }
  return pool[poolIndex++]!;
}

/**
 * A UUIDv7 (time-ordered, RFC 9562) for `ms`. Ids made in the same millisecond stay in order
 * thanks to a 12-bit counter, so stores index them append-mostly.
 */
export function uuidv7(ms: number = Date.now()): string {
  if (ms > lastMs) {
    lastMs = ms;
    counter = randomByte() & 0x3ff;
  } else {
    ms = lastMs;
    counter++;
    if (counter > 0xfff) {
      lastMs = ++ms;
      counter = 0;
    }
  }
  const t = Math.max(0, Math.floor(ms));
  const high = Math.floor(t / 0x1000000);
  const low = t % 0x1000000;
  return (
    HEX[(high >>> 16) & 0xff]! +
    HEX[(high >>> 8) & 0xff]! +
    HEX[high & 0xff]! +
    HEX[(low >>> 16) & 0xff]! +
    "-" +
    HEX[(low >>> 8) & 0xff]! +
    HEX[low & 0xff]! +
    "-" +
    HEX[0x70 | (counter >>> 8)]! +
    HEX[counter & 0xff]! +
    "-" +
    HEX[(randomByte() & 0x3f) | 0x80]! +
    HEX[randomByte()]! +
    "-" +
    HEX[randomByte()]! +
    HEX[randomByte()]! +
    HEX[randomByte()]! +
    HEX[randomByte()]! +
    HEX[randomByte()]! +
    HEX[randomByte()]!
  );
}
