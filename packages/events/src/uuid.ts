const HEX: string[] = [];
for (let i = 0; i < 256; i++) HEX.push((i + 0x100).toString(16).slice(1));
const VARIANT: Record<string, string> = {};
for (let i = 0; i < 16; i++) VARIANT[i.toString(16)] = "89ab"[i & 3]!;

// Random hex is made in blocks (one getRandomValues call per ~250 ids) so `emit` stays cheap.
const bytes = new Uint8Array(2048);
let pool = "";
let at = 0;
let lastMs = -1;
let counter = 0;
let prefix = "";

function refill(): void {
  crypto.getRandomValues(bytes);
  let hex = "";
  for (let i = 0; i < bytes.length; i++) hex += HEX[bytes[i]!];
  pool = hex;
  at = 0;
}

const stamp = (): void => {
  const ms = lastMs.toString(16).padStart(12, "0");
  prefix = `${ms.slice(0, 8)}-${ms.slice(8)}-7`;
};

/**
 * A UUIDv7 (RFC 9562): 48-bit millisecond time, then a 12-bit counter that keeps ids from one
 * process sortable within a millisecond, then 62 random bits.
 */
export function uuidv7(): string {
  if (at + 18 > pool.length) refill();
  const now = Date.now();
  if (now > lastMs) {
    lastMs = now;
    counter = parseInt(pool.slice(at, at + 2), 16) << 2;
    at += 2;
    stamp();
  } else if (++counter > 0xfff) {
    counter = 0;
    lastMs++;
    stamp();
  }
  const i = at;
  at += 16;
  return `${prefix}${(counter + 0x1000).toString(16).slice(1)}-${VARIANT[pool[i]!]!}${pool.slice(i + 1, i + 4)}-${pool.slice(i + 4, i + 16)}`;
}
