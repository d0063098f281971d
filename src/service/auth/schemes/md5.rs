//! A small MD5 with access to its chaining state. Dovecot's `CRAM-MD5` password scheme stores
//! the HMAC-MD5 inner and outer states after the key block (not a digest), and the CRAM-MD5
//! SASL mechanism resumes from them; digest crates do not expose that state, so it lives here.

/// MD5 initial chaining values.
pub const INIT: [u32; 4] = [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476];

const S: [u32; 64] = [
    7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9,
    14, 20, 5, 9, 14, 20, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10, 15,
    21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
];

fn k(i: usize) -> u32 {
    // floor(abs(sin(i + 1)) * 2^32), as in RFC 1321.
    ((i as f64 + 1.0).sin().abs() * 4_294_967_296.0) as u32
}

/// Processes one 64-byte block.
pub fn compress(state: &mut [u32; 4], block: &[u8; 64]) {
    let mut m = [0u32; 16];
    for (i, w) in m.iter_mut().enumerate() {
        *w = u32::from_le_bytes([
            block[i * 4],
            block[i * 4 + 1],
            block[i * 4 + 2],
            block[i * 4 + 3],
        ]);
    }
    let [mut a, mut b, mut c, mut d] = *state;
    for (i, shift) in S.iter().enumerate() {
        let (f, g) = match i / 16 {
            0 => ((b & c) | (!b & d), i),
            1 => ((d & b) | (!d & c), (5 * i + 1) % 16),
            2 => (b ^ c ^ d, (3 * i + 5) % 16),
            _ => (c ^ (b | !d), (7 * i) % 16),
        };
        let f = f.wrapping_add(a).wrapping_add(k(i)).wrapping_add(m[g]);
        a = d;
        d = c;
        c = b;
        b = b.wrapping_add(f.rotate_left(*shift));
    }
    state[0] = state[0].wrapping_add(a);
    state[1] = state[1].wrapping_add(b);
    state[2] = state[2].wrapping_add(c);
    state[3] = state[3].wrapping_add(d);
}

/// Finishes an MD5 computation from `state`, which has already absorbed `done` bytes (a
/// multiple of 64), over the remaining `data`.
pub fn finish(mut state: [u32; 4], done: u64, data: &[u8]) -> [u8; 16] {
    let total = done + data.len() as u64;
    let mut chunks = data.chunks_exact(64);
    for c in &mut chunks {
        compress(&mut state, c.try_into().expect("64-byte chunk"));
    }
    let rest = chunks.remainder();
    let mut tail = Vec::with_capacity(128);
    tail.extend_from_slice(rest);
    tail.push(0x80);
    while tail.len() % 64 != 56 {
        tail.push(0);
    }
    tail.extend_from_slice(&(total.wrapping_mul(8)).to_le_bytes());
    for c in tail.chunks_exact(64) {
        compress(&mut state, c.try_into().expect("64-byte chunk"));
    }
    let mut out = [0u8; 16];
    for (i, w) in state.iter().enumerate() {
        out[i * 4..i * 4 + 4].copy_from_slice(&w.to_le_bytes());
    }
    out
}

/// MD5 of `data`.
pub fn digest(data: &[u8]) -> [u8; 16] {
    finish(INIT, 0, data)
}

/// HMAC-MD5 key states: (inner, outer) after absorbing the padded key block.
pub fn hmac_states(key: &[u8]) -> ([u32; 4], [u32; 4]) {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..16].copy_from_slice(&digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut ipad = [0u8; 64];
    let mut opad = [0u8; 64];
    for i in 0..64 {
        ipad[i] = k[i] ^ 0x36;
        opad[i] = k[i] ^ 0x5c;
    }
    let mut inner = INIT;
    compress(&mut inner, &ipad);
    let mut outer = INIT;
    compress(&mut outer, &opad);
    (inner, outer)
}

/// HMAC-MD5 from precomputed key states.
pub fn hmac_from_states(inner: [u32; 4], outer: [u32; 4], msg: &[u8]) -> [u8; 16] {
    let ih = finish(inner, 64, msg);
    finish(outer, 64, &ih)
}

/// HMAC-MD5 of `msg` under `key`.
pub fn hmac(key: &[u8], msg: &[u8]) -> [u8; 16] {
    let (i, o) = hmac_states(key);
    hmac_from_states(i, o, msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn rfc1321_vectors() {
        assert_eq!(hex(&digest(b"")), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(hex(&digest(b"abc")), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(
            hex(&digest(
                b"12345678901234567890123456789012345678901234567890123456789012345678901234567890"
            )),
            "57edf4a22be3c955ac49da2e2107b67a"
        );
    }

    #[test]
    fn rfc2104_hmac_vector() {
        assert_eq!(
            hex(&hmac(b"Jefe", b"what do ya want for nothing?")),
            "750c783e6ab0b503eaa86e310a5db738"
        );
    }
}
