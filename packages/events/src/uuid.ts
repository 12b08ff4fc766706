// Ids are written as ASCII bytes into a block of 256 and decoded to one string, so an id is a
// slice of it: no string building per id (that, and flattening the result inside
// JSON.stringify, cost about 0.1 µs of each `emit`). The block is large because each
// `crypto.getRandomValues` call has a fixed cost of a few µs. Layout of an id, RFC 9562's UUIDv7:
//
//   tttttttt-tttt-7ccc-Vrrr-rrrrrrrrrrrr   t: ms time  c: counter  V: variant  r: random
const BLOCK = 256;
const SIZE = 36;
const CHAR = Array.from("0123456789abcdef", (c) => c.charCodeAt(0));
const HIGH = Uint8Array.from({ length: 256 }, (_, byte) => CHAR[byte >> 4]!);
const LOW = Uint8Array.from({ length: 256 }, (_, byte) => CHAR[byte & 15]!);

const ascii = new Uint8Array(BLOCK * SIZE);
for (let at = 0; at < ascii.length; at += SIZE) {
  ascii[at + 8] = ascii[at + 13] = ascii[at + 18] = ascii[at + 23] = 0x2d; // "-"
  ascii[at + 14] = CHAR[7]!;
}
const random = new Uint8Array(BLOCK * 8);
const time = new Uint8Array(12);
const decoder = new TextDecoder();

let text = "";
let next = BLOCK;
let lastMs = -1;
let counter = 0;

/** New random bits for every id of the block. */
function randomize(): void {
  crypto.getRandomValues(random);
  for (let k = 0; k < BLOCK; k++) {
    const at = k * SIZE;
    const r = k * 8; // this id's 8 random bytes: 2 bits for the variant, 62 kept
    ascii[at + 19] = CHAR[8 | (random[r]! & 3)]!;
    ascii[at + 20] = HIGH[random[r]!]!;
    ascii[at + 21] = HIGH[random[r + 1]!]!;
    ascii[at + 22] = LOW[random[r + 1]!]!;
    for (let i = 2; i < 8; i++) {
      ascii[at + 20 + 2 * i] = HIGH[random[r + i]!]!;
      ascii[at + 21 + 2 * i] = LOW[random[r + i]!]!;
    }
  }
}

function setTime(ms: number): void {
  for (let i = 11; i >= 0; i--, ms = Math.floor(ms / 16)) time[i] = CHAR[ms % 16]!;
}

/** Writes time and counter into the ids from `from` on, then decodes the block. */
function stamp(from: number): void {
  setTime(lastMs);
  for (let k = from; k < BLOCK; k++) {
    if (++counter > 0xfff) {
      counter = 0; // the millisecond is full: borrow the next one
      setTime(++lastMs);
    }
    const at = k * SIZE;
    for (let i = 0; i < 8; i++) ascii[at + i] = time[i]!;
    for (let i = 8; i < 12; i++) ascii[at + i + 1] = time[i]!;
    ascii[at + 15] = CHAR[counter >> 8]!;
    ascii[at + 16] = HIGH[counter & 0xff]!;
    ascii[at + 17] = LOW[counter & 0xff]!;
  }
  text = decoder.decode(ascii);
}

/**
 * A UUIDv7 (RFC 9562): 48-bit millisecond time, then a 12-bit counter that keeps ids from one
 * process sortable within a millisecond, then 62 random bits.
 */
export function uuidv7(): string {
  const now = Date.now();
  const used = next === BLOCK;
  if (used) {
    randomize();
    next = 0;
  }
  if (now > lastMs) {
    // A new millisecond: the ids not handed out yet get its time, counting from a random start
    // below 0x400 (room for the millisecond's ids).
    lastMs = now;
    counter = Math.floor(Math.random() * 0x400) - 1;
    stamp(next);
  } else if (used) {
    stamp(0);
  }
  return text.slice(next * SIZE, ++next * SIZE);
}
