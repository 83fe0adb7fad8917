//! Character classes of RFC 3261 §25.1 as one lookup table, so that every
//! parser tests a byte with a load and a mask.

/// `token`.
pub(crate) const TOKEN: u16 = 1;
/// `unreserved` plus `%` (escapes are checked as ordinary characters).
pub(crate) const UNRESERVED: u16 = 2;
/// `user`: unreserved, escaped, user-unreserved.
pub(crate) const USER: u16 = 4;
/// `password`.
pub(crate) const PASSWORD: u16 = 8;
/// `paramchar`.
pub(crate) const PARAM: u16 = 16;
/// `hname`/`hvalue` characters of URI headers.
pub(crate) const URI_HEADER: u16 = 32;
/// Host name characters (alphanumerics, `-`, `.`, `_`).
pub(crate) const HOSTNAME: u16 = 64;
/// Digits and `.` (an IPv4 address).
pub(crate) const IPV4: u16 = 128;
/// A header parameter value as the header parsers take it unquoted:
/// `token` plus `:`, `[`, `]`, `/` and `@` (hosts, IPv6 references).
pub(crate) const PARAM_VALUE: u16 = 256;
/// `token` characters and blanks (an unquoted display name).
pub(crate) const TOKEN_OR_BLANK: u16 = 512;
/// ASCII digits.
pub(crate) const DIGIT: u16 = 1024;
/// Bytes other than controls, space and DEL (a Call-ID, leniently).
pub(crate) const VISIBLE: u16 = 2048;

const fn table() -> [u16; 256] {
    let mut t = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        let c = i as u8;
        let alnum = c.is_ascii_alphanumeric();
        let mark = matches!(
            c,
            b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')'
        );
        let unreserved = alnum || mark || c == b'%';
        let mut f = 0;
        if alnum
            || matches!(
                c,
                b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
            )
        {
            f |= TOKEN;
        }
        if unreserved {
            f |= UNRESERVED;
        }
        if unreserved || matches!(c, b'&' | b'=' | b'+' | b'$' | b',' | b';' | b'?' | b'/') {
            f |= USER;
        }
        if unreserved || matches!(c, b'&' | b'=' | b'+' | b'$' | b',') {
            f |= PASSWORD;
        }
        if unreserved || matches!(c, b'[' | b']' | b'/' | b':' | b'&' | b'+' | b'$') {
            f |= PARAM;
        }
        if unreserved
            || matches!(
                c,
                b'[' | b']' | b'/' | b'?' | b':' | b'+' | b'$' | b'=' | b'&'
            )
        {
            f |= URI_HEADER;
        }
        if alnum || matches!(c, b'-' | b'.' | b'_') {
            f |= HOSTNAME;
        }
        if c.is_ascii_digit() || c == b'.' {
            f |= IPV4;
        }
        if f & TOKEN != 0 || matches!(c, b':' | b'[' | b']' | b'/' | b'@') {
            f |= PARAM_VALUE;
        }
        if f & TOKEN != 0 || matches!(c, b' ' | b'\t') {
            f |= TOKEN_OR_BLANK;
        }
        if c.is_ascii_digit() {
            f |= DIGIT;
        }
        if c > b' ' && c != 0x7f {
            f |= VISIBLE;
        }
        t[i] = f;
        i += 1;
    }
    t
}

static CLASS: [u16; 256] = table();

/// Whether `c` is in `class` (one of the constants, or several or-ed).
#[inline(always)]
pub(crate) fn is(c: u8, class: u16) -> bool {
    CLASS[usize::from(c)] & class != 0
}

/// The first index of `byte` in `b`.
///
/// Haystacks under 16 bytes are searched eight bytes at a time in a
/// register; longer ones as [`find_near`] does.
#[inline]
pub(crate) fn find(b: &[u8], byte: u8) -> Option<usize> {
    if b.len() >= 16 {
        return find_near(b, byte);
    }
    find_swar(b, byte)
}

/// The first index of `byte` in `b` when it is likely near the start (a
/// line end in the rest of a message): sixteen bytes at a time with SSE2
/// on x86-64 (no dispatch, unlike `memchr::memchr`), else eight bytes at a
/// time in a register for the first 256 bytes, then `memchr`.
#[inline]
pub(crate) fn find_near(b: &[u8], byte: u8) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    if let Some(one) = memchr::arch::x86_64::sse2::memchr::One::new(byte) {
        return one.find(b);
    }
    const NEAR: usize = 256;
    if b.len() <= NEAR {
        return find_swar(b, byte);
    }
    match find_swar(&b[..NEAR], byte) {
        Some(i) => Some(i),
        None => memchr::memchr(byte, &b[NEAR..]).map(|i| NEAR + i),
    }
}

#[inline(always)]
fn find_swar(b: &[u8], byte: u8) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let pattern = LO * u64::from(byte);
    let mut chunks = b.chunks_exact(8);
    let mut base = 0;
    for chunk in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(chunk);
        let x = u64::from_le_bytes(w) ^ pattern;
        // the lowest set high bit marks the first zero byte of x exactly
        // (bits above it may be false positives, never below)
        let t = x.wrapping_sub(LO) & !x & HI;
        if t != 0 {
            return Some(base + (t.trailing_zeros() / 8) as usize);
        }
        base += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|c| *c == byte)
        .map(|i| base + i)
}

/// The first `x` or `y` in `b`, eight bytes at a time (for short
/// haystacks such as parameter values, where `memchr2` costs more in setup
/// than in search).
#[inline]
pub(crate) fn find2(b: &[u8], x: u8, y: u8) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let (px, py) = (LO * u64::from(x), LO * u64::from(y));
    let mut chunks = b.chunks_exact(8);
    let mut base = 0;
    for chunk in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(chunk);
        let v = u64::from_le_bytes(w);
        let (a, c) = (v ^ px, v ^ py);
        let t = (a.wrapping_sub(LO) & !a | c.wrapping_sub(LO) & !c) & HI;
        if t != 0 {
            return Some(base + (t.trailing_zeros() / 8) as usize);
        }
        base += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|c| *c == x || *c == y)
        .map(|i| base + i)
}

/// Whether every byte of `b` is in `class`.
#[inline]
pub(crate) fn all(b: &[u8], class: u16) -> bool {
    b.iter().all(|c| is(*c, class))
}

/// The classes every byte of `b` belongs to (the and of their flags).
#[inline]
pub(crate) fn common(b: &[u8]) -> u16 {
    b.iter().fold(0xffff, |acc, c| acc & CLASS[usize::from(*c)])
}

/// Where the run of `class` bytes starting at `start` ends: the first index
/// in `start..end` whose byte is not in `class`, or `end` (`end <= b.len()`).
///
/// Eight bytes at a time: their classes and-ed together say whether all
/// eight are in `class` (a single class bit; for a union of classes the
/// bytewise tail decides).
#[inline(always)]
pub(crate) fn run(b: &[u8], start: usize, end: usize, class: u16) -> usize {
    run_common(b, start, end, class).0
}

/// [`run`], also returning the classes every byte of the run belongs to.
#[inline(always)]
pub(crate) fn run_common(b: &[u8], start: usize, end: usize, class: u16) -> (usize, u16) {
    let b = &b[..end.min(b.len())];
    let mut i = start;
    let mut common = 0xffff;
    while let Some(w) = b.get(i..i + 8) {
        let k = w.iter().fold(0xffff, |acc, c| acc & CLASS[usize::from(*c)]);
        if k & class == 0 {
            break;
        }
        common &= k;
        i += 8;
    }
    while let Some(&c) = b.get(i) {
        let k = CLASS[usize::from(c)];
        if k & class == 0 {
            break;
        }
        common &= k;
        i += 1;
    }
    (i, common)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes() {
        assert!(is(b'a', TOKEN | USER | HOSTNAME));
        assert!(is(b'`', TOKEN) && !is(b'`', USER));
        assert!(is(b';', USER) && !is(b';', PASSWORD) && !is(b';', PARAM));
        assert!(is(b':', PARAM) && !is(b':', USER));
        assert!(all(b"192.0.2.1", IPV4) && !all(b"192.0.2.a", IPV4));
        assert_eq!(common(b"ab-1") & HOSTNAME, HOSTNAME);
        assert!(!is(b' ', TOKEN) && !is(0x80, TOKEN));
    }

    #[test]
    fn run_matches_bytewise() {
        let hay: Vec<u8> = (0..300u32)
            .map(|i| (i as u8).wrapping_mul(101) ^ 0x33)
            .collect();
        for class in [
            TOKEN,
            USER,
            PARAM,
            HOSTNAME,
            IPV4,
            PARAM_VALUE,
            DIGIT,
            HOSTNAME | IPV4,
        ] {
            for start in [0, 1, 5, 8, 17] {
                for len in [0, 3, 8, 9, 16, 40, 120] {
                    let mut h = hay[..start + len].to_vec();
                    // a run of class bytes, then whatever follows
                    for (k, c) in h[start..]
                        .iter_mut()
                        .enumerate()
                        .take(len.saturating_sub(2))
                    {
                        *c = (0u8..=255)
                            .filter(|c| is(*c, class))
                            .nth(k % 7)
                            .unwrap_or(b'a');
                    }
                    let end = h.len();
                    let want = (start..end).find(|i| !is(h[*i], class)).unwrap_or(end);
                    let common = h[start..want]
                        .iter()
                        .fold(0xffff, |a, c| a & CLASS[usize::from(*c)]);
                    assert_eq!(
                        run_common(&h, start, end, class),
                        (want, common),
                        "{class} {start} {len}"
                    );
                }
            }
        }
    }

    #[test]
    fn find2_matches_position() {
        let hay: Vec<u8> = (0..70u8).map(|i| i.wrapping_mul(37) ^ 0x5a).collect();
        for len in 0..hay.len() {
            for (x, y) in [(b';', b'"'), (0u8, 0x80u8), (0xff, 1)] {
                let mut h = hay[..len].to_vec();
                for at in [None, Some(len / 2), Some(len.saturating_sub(1)), Some(0)] {
                    if let Some(a) = at.filter(|a| *a < len) {
                        h[a] = if a % 2 == 0 { x } else { y };
                    }
                    let want = h.iter().position(|c| *c == x || *c == y);
                    assert_eq!(find2(&h, x, y), want, "{len} {x} {y} {at:?}");
                }
            }
        }
    }

    #[test]
    fn find_near_matches_position() {
        let hay: Vec<u8> = (0..600u32)
            .map(|i| (i as u8).wrapping_mul(37) ^ 0x5a)
            .collect();
        for len in [0, 1, 7, 8, 9, 255, 256, 257, 300, 599] {
            for byte in [0u8, b'\n', 0xff] {
                let mut h = hay[..len].to_vec();
                for at in [
                    None,
                    Some(len / 2),
                    Some(len.saturating_sub(1)),
                    Some(0),
                    Some(256),
                ] {
                    if let Some(a) = at.filter(|a| *a < len) {
                        h[a] = byte;
                    }
                    let want = h.iter().position(|c| *c == byte);
                    assert_eq!(find_near(&h, byte), want, "{len} {byte} {at:?}");
                }
            }
        }
    }

    #[test]
    fn find_matches_position() {
        let hay: Vec<u8> = (0..100u8).map(|i| i.wrapping_mul(37) ^ 0x5a).collect();
        for len in 0..hay.len() {
            for byte in [0u8, 1, 0x80, 0xff, b'@', b';', b'\n'] {
                let mut h = hay[..len].to_vec();
                for at in [None, Some(len / 2), Some(len.saturating_sub(1)), Some(0)] {
                    if let Some(a) = at.filter(|a| *a < len) {
                        h[a] = byte;
                    }
                    let want = h.iter().position(|c| *c == byte);
                    assert_eq!(find(&h, byte), want, "{len} {byte} {at:?}");
                }
            }
        }
    }
}
