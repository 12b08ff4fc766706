const HEX: string[] = [];
for (let i = 0; i < 256; i++) HEX.push((i + 0x100).toString(16).slice(1));

// Random bytes are drawn in blocks: one getRandomValues call per 512 ids keeps `emit` cheap.
const pool = new Uint8Array(4096);
let poolAt = pool.length;
let lastMs = -1;
let counter = 0;
let msHex = "";

const byte = (): number => {
  if (poolAt === pool.length) {
    crypto.getRandomValues(pool);
    poolAt = 0;
  }
  return pool[poolAt++]!;
};

/**
 * A UUIDv7 (RFC 9562): 48-bit millisecond time, then a 12-bit counter that keeps ids from one
 * process sortable within a millisecond, then 62 random bits.
 */
export function uuidv7(): string {
  const now = Date.now();
  if (now > lastMs) {
    lastMs = now;
    counter = byte() << 2;
    msHex = now.toString(16).padStart(12, "0");
  } else if (++counter > 0xfff) {
    counter = 0;
    msHex = (++lastMs).toString(16).padStart(12, "0");
  }
  return (
    msHex.slice(0, 8) +
    "-" +
    msHex.slice(8) +
    "-7" +
    (counter + 0x1000).toString(16).slice(1) +
    "-" +
    HEX[(byte() & 0x3f) | 0x80]! +
    HEX[byte()]! +
    "-" +
    HEX[byte()]! +
    HEX[byte()]! +
    HEX[byte()]! +
    HEX[byte()]! +
    HEX[byte()]! +
    HEX[byte()]!
  );
}
