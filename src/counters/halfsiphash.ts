/**
 * HalfSipHash-2-4 with a 64-bit output: Aumasson's SipHash on 32-bit words, the keyed function
 * Linux hashes its tables with (hsiphash). Whoever picks the input cannot pick collisions without
 * the 64-bit key, so a table indexed by it holds up against inputs chosen to collide.
 *
 * Written here, not taken from npm: the package there (`siphash`) is the 64-bit SipHash built from
 * `{h, l}` objects, about 1.3 µs and dozens of allocations per short key. This one runs on plain
 * 32-bit locals and allocates nothing. Checked against the reference vectors
 * (test/counters/once-set.test.ts).
 */

/**
 * Hashes `data[0..length)` with the key (k0, k1) (the key's bytes read as two little-endian 32-bit
 * words) and writes the output's two little-endian 32-bit words to `out[0]` and `out[1]`.
 */
export function halfSipHash64(k0: number, k1: number, data: Uint8Array, length: number, out: Uint32Array): void {
  let v0 = k0 | 0
  let v1 = (k1 ^ 0xee) | 0
  let v2 = (k0 ^ 0x6c796765) | 0
  let v3 = (k1 ^ 0x74656462) | 0
  const whole = length & ~3
  // The message as 32-bit words, then a last word holding the 0-3 bytes left and the length.
  for (let i = 0; i <= whole; i += 4) {
    let m: number
    if (i < whole) {
      m = data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24)
    } else {
      m = length << 24
      const left = length & 3
      if (left > 2) m |= data[i + 2]! << 16
      if (left > 1) m |= data[i + 1]! << 8
      if (left > 0) m |= data[i]!
    }
    v3 ^= m
    for (let r = 0; r < 2; r++) {
      v0 = (v0 + v1) | 0; v1 = (v1 << 5) | (v1 >>> 27); v1 ^= v0; v0 = (v0 << 16) | (v0 >>> 16)
      v2 = (v2 + v3) | 0; v3 = (v3 << 8) | (v3 >>> 24); v3 ^= v2
      v0 = (v0 + v3) | 0; v3 = (v3 << 7) | (v3 >>> 25); v3 ^= v0
      v2 = (v2 + v1) | 0; v1 = (v1 << 13) | (v1 >>> 19); v1 ^= v2; v2 = (v2 << 16) | (v2 >>> 16)
    }
    v0 ^= m
  }
  v2 ^= 0xee
  // Four rounds give the first output word; 0xdd into v1 and four more give the second.
  for (let r = 0; r < 8; r++) {
    if (r === 4) {
      out[0] = v1 ^ v3
      v1 ^= 0xdd
    }
    v0 = (v0 + v1) | 0; v1 = (v1 << 5) | (v1 >>> 27); v1 ^= v0; v0 = (v0 << 16) | (v0 >>> 16)
    v2 = (v2 + v3) | 0; v3 = (v3 << 8) | (v3 >>> 24); v3 ^= v2
    v0 = (v0 + v3) | 0; v3 = (v3 << 7) | (v3 >>> 25); v3 ^= v0
    v2 = (v2 + v1) | 0; v1 = (v1 << 13) | (v1 >>> 19); v1 ^= v2; v2 = (v2 << 16) | (v2 >>> 16)
  }
  out[1] = v1 ^ v3
}
