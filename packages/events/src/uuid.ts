const HEX: string[] = [];
for (let i = 0; i < 256; i++) HEX.push((i + 0x100).toString(16).slice(1));
const DIGIT = "0123456789abcdef";

// Random bits are drawn in blocks and formatted once per block as ready-made id tails
// (`-Vxxx-xxxxxxxxxxxx`, V the RFC 9562 variant), so an id costs a slice and two joins.
const TAIL = 18;
const bytes = new Uint8Array(2048);
let tails = "";
let at = 0;
let lastMs = -1;
let counter = 0;
let prefix = "";

function refill(): void {
  crypto.getRandomValues(bytes);
  let text = "";
  for (let i = 0; i + 8 <= bytes.length; i += 8) {
    text += `-${DIGIT[8 | (bytes[i]! & 3)]}${DIGIT[bytes[i]! >> 4]}${HEX[bytes[i + 1]!]}-`;
    for (let j = i + 2; j < i + 8; j++) text += HEX[bytes[j]!];
  }
  tails = text;
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
  if (at === tails.length) refill();
  const now = Date.now();
  if (now > lastMs) {
    lastMs = now;
    // A random start below 0x400 leaves room for the millisecond's ids.
    counter = Math.floor(Math.random() * 0x400);
    stamp();
  } else if (++counter > 0xfff) {
    counter = 0;
    lastMs++;
    stamp();
  }
  const tail = tails.slice(at, (at += TAIL));
  return prefix + HEX[counter >> 4]! + DIGIT[counter & 15]! + tail;
}
