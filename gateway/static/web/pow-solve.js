// Proof of work for a purchase (GET /api/v1/sales/{id}/challenge): find a nonce such that
// SHA-256 of the UTF-8 string "<challenge>:<nonce>" starts with `difficulty` zero bits.
//
// A small synchronous SHA-256 in plain JavaScript, not crypto.subtle.digest: the latter is
// one promise per hash, and for the 2^16-2^20 hashes of a solve the round trips cost more
// than the hashing (measured in Chromium: docs/BENCHMARKS.md, issue 14). The prefix's whole
// 64-byte blocks are hashed once; each nonce then costs one or two compressions. Runs in
// pow-worker.js, so the page stays responsive while it searches.

// The first 32 bits of the fractional parts of the cube roots of the first 64 primes.
const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
// The initial state: square roots of the first 8 primes.
const IV = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];

const W = new Int32Array(64);

/** One compression: `state` (8 words) absorbs the 64 bytes of `bytes` at `offset`; in place. */
function compress(state, bytes, offset) {
  for (let i = 0, j = offset; i < 16; i++, j += 4) {
    W[i] = (bytes[j] << 24) | (bytes[j + 1] << 16) | (bytes[j + 2] << 8) | bytes[j + 3];
  }
  for (let i = 16; i < 64; i++) {
    const a = W[i - 15];
    const b = W[i - 2];
    const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
    const s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10);
    W[i] = (W[i - 16] + s0 + W[i - 7] + s1) | 0;
  }
  let a = state[0], b = state[1], c = state[2], d = state[3];
  let e = state[4], f = state[5], g = state[6], h = state[7];
  for (let i = 0; i < 64; i++) {
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const t1 = (h + S1 + ((e & f) ^ (~e & g)) + K[i] + W[i]) | 0;
    const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const t2 = (S0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  state[0] = (state[0] + a) | 0;
  state[1] = (state[1] + b) | 0;
  state[2] = (state[2] + c) | 0;
  state[3] = (state[3] + d) | 0;
  state[4] = (state[4] + e) | 0;
  state[5] = (state[5] + f) | 0;
  state[6] = (state[6] + g) | 0;
  state[7] = (state[7] + h) | 0;
}

/** Write the padding after `length` bytes at the start of `tail` (the message's last bytes). */
function pad(tail, used, totalLength) {
  const blocks = used + 9 <= 64 ? 1 : 2;
  tail.fill(0, used, blocks * 64);
  tail[used] = 0x80;
  // The length in bits, big-endian in the last 8 bytes (messages here are far below 2^32 bits).
  const bits = totalLength * 8;
  const end = blocks * 64;
  tail[end - 4] = bits >>> 24;
  tail[end - 3] = (bits >>> 16) & 0xff;
  tail[end - 2] = (bits >>> 8) & 0xff;
  tail[end - 1] = bits & 0xff;
  tail[end - 5] = Math.floor(bits / 2 ** 32) & 0xff;
  return blocks;
}

/** Whether the digest (first words in `state`) starts with `bits` zero bits. */
function leadingZeros(state, bits) {
  let i = 0;
  for (; bits >= 32; bits -= 32, i++) if (state[i] !== 0) return false;
  return bits === 0 || state[i] >>> (32 - bits) === 0;
}

/** SHA-256 of `text` (UTF-8) in hex: for tests of the hashing itself. */
export function sha256Hex(text) {
  const bytes = new TextEncoder().encode(text);
  const state = Int32Array.from(IV);
  const full = bytes.length - (bytes.length % 64);
  for (let off = 0; off < full; off += 64) compress(state, bytes, off);
  const tail = new Uint8Array(128);
  tail.set(bytes.subarray(full));
  const blocks = pad(tail, bytes.length - full, bytes.length);
  for (let i = 0; i < blocks; i++) compress(state, tail, i * 64);
  return Array.from(state, (word) => (word >>> 0).toString(16).padStart(8, "0")).join("");
}

/**
 * Search nonces 0, 1, 2, … (in decimal) until SHA-256("<challenge>:<nonce>") has
 * `difficulty` leading zero bits; returns {solution: "<challenge>:<nonce>", tried}.
 * `onProgress(tried)` is called every `every` hashes (the search is synchronous: the
 * caller runs it in a worker).
 */
export function solve(challenge, difficulty, { onProgress = () => {}, every = 16384 } = {}) {
  const prefix = new TextEncoder().encode(`${challenge}:`);
  const mid = Int32Array.from(IV);
  const full = prefix.length - (prefix.length % 64);
  for (let off = 0; off < full; off += 64) compress(mid, prefix, off);
  const start = prefix.length - full; // where the nonce's digits start in the tail
  const tail = new Uint8Array(128);
  tail.set(prefix.subarray(full));
  const state = new Int32Array(8);
  let digits = 1;
  tail[start] = 0x30; // "0"
  let blocks = pad(tail, start + digits, prefix.length + digits);
  for (let tried = 1; ; tried++) {
    state.set(mid);
    for (let i = 0; i < blocks; i++) compress(state, tail, i * 64);
    if (leadingZeros(state, difficulty)) {
      const nonce = String.fromCharCode(...tail.subarray(start, start + digits));
      return { solution: `${challenge}:${nonce}`, tried };
    }
    if (tried % every === 0) onProgress(tried);
    // The next nonce: add one to the decimal digits in place.
    let i = start + digits - 1;
    while (i >= start && tail[i] === 0x39) tail[i--] = 0x30;
    if (i >= start) {
      tail[i]++;
    } else {
      // 99…9 + 1: one more digit ("1" then zeros), so the padding moves along.
      tail[start] = 0x31;
      tail.fill(0x30, start + 1, start + digits + 1);
      digits++;
      blocks = pad(tail, start + digits, prefix.length + digits);
    }
  }
}
