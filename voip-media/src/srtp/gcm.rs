//! The SRTP AEAD transform for RTP (RFC 7714 §8) on `aes-gcm`, for the
//! AEAD_AES_128_GCM and AEAD_AES_256_GCM suites.
//!
//! Ours rather than `webrtc-srtp` 0.17's: that one builds every packet from
//! the `Vec` `aes-gcm` returns, extending a `BytesMut` from it byte by byte,
//! and parses the RTP header again. Here a packet costs one allocation (the
//! output, sized exactly), one copy into it, and GCM in place. SRTCP of
//! these suites stays on `webrtc-srtp`.
//!
//! - Session keys (RFC 7714 §11, RFC 3711 §4.3.1, key derivation rate 0):
//!   the AES-CM PRF keyed by the master key (AES-128 or AES-256 after its
//!   length) over `(label · 2^48 XOR master salt) · 2^16`; label 0x00 gives
//!   the session key (as long as the master key), 0x02 the 12-octet session
//!   salt. The 96-bit master salt fills the first 12 of the 14 octets the
//!   PRF input has for it, the last two being zero (as libsrtp does).
//! - IV (§8.1): `(0x0000 ‖ SSRC ‖ ROC ‖ SEQ) XOR session salt`.
//! - Associated data (§8.2): the whole RTP header, CSRCs and header
//!   extension included; the 16-octet tag follows the ciphertext.

use aes::cipher::{BlockEncrypt, KeyInit, generic_array::GenericArray};
use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes128Gcm, Aes256Gcm, Nonce, Tag};
use bytes::Bytes;

use super::replay::ReplayWindow;

/// Octets of the GCM tag every packet carries (RFC 7714 §13.2 allows no
/// shorter one for SRTP).
pub(super) const TAG_LEN: usize = 16;

/// Octets of the session salt and of the master salt (RFC 7714 §12).
pub(super) const SALT_LEN: usize = 12;

/// RFC 3711 §4.3.1 label of the SRTP encryption key.
const LABEL_SRTP_ENCRYPTION: u8 = 0x00;
/// RFC 3711 §4.3.1 label of the SRTP salting key.
const LABEL_SRTP_SALT: u8 = 0x02;

/// Why a key could not be set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct BadKeyLength;

/// The AEAD cipher, keyed by the session key.
// Held once per direction and never moved per packet: no box, so no
// indirection on the packet path.
#[allow(clippy::large_enum_variant)]
#[derive(Clone)]
enum Cipher {
    Aes128(Aes128Gcm),
    Aes256(Aes256Gcm),
}

/// One direction's RTP AEAD context: session key and session salt.
#[derive(Clone)]
pub(super) struct GcmRtp {
    cipher: Cipher,
    salt: [u8; SALT_LEN],
}

/// RFC 3711 §4.3.1 with kdr = 0: the PRF (AES in counter mode keyed by the
/// master key) from IV `x · 2^16`, `x = label · 2^48 XOR master salt`.
fn derive(
    master_key: &[u8],
    master_salt: &[u8; SALT_LEN],
    label: u8,
    out: &mut [u8],
) -> Result<(), BadKeyLength> {
    let mut iv = [0u8; 16];
    iv[..SALT_LEN].copy_from_slice(master_salt);
    iv[7] ^= label;
    #[allow(clippy::large_enum_variant)]
    enum Prf {
        Aes128(aes::Aes128),
        Aes256(aes::Aes256),
    }
    let prf = match master_key.len() {
        16 => Prf::Aes128(aes::Aes128::new_from_slice(master_key).map_err(|_| BadKeyLength)?),
        32 => Prf::Aes256(aes::Aes256::new_from_slice(master_key).map_err(|_| BadKeyLength)?),
        _ => return Err(BadKeyLength),
    };
    for (j, chunk) in out.chunks_mut(16).enumerate() {
        let mut block = iv;
        let j = u16::try_from(j).map_err(|_| BadKeyLength)?;
        block[14..].copy_from_slice(&j.to_be_bytes());
        let mut b = GenericArray::from(block);
        match &prf {
            Prf::Aes128(c) => c.encrypt_block(&mut b),
            Prf::Aes256(c) => c.encrypt_block(&mut b),
        }
        chunk.copy_from_slice(&b[..chunk.len()]);
    }
    Ok(())
}

impl GcmRtp {
    /// The RTP context of a master key (16 octets: AEAD_AES_128_GCM, 32:
    /// AEAD_AES_256_GCM) and a 12-octet master salt.
    pub(super) fn from_master(master_key: &[u8], master_salt: &[u8]) -> Result<Self, BadKeyLength> {
        let master_salt: &[u8; SALT_LEN] = master_salt.try_into().map_err(|_| BadKeyLength)?;
        let mut key = [0u8; 32];
        let key = &mut key[..master_key.len().min(32)];
        derive(master_key, master_salt, LABEL_SRTP_ENCRYPTION, key)?;
        let mut salt = [0u8; SALT_LEN];
        derive(master_key, master_salt, LABEL_SRTP_SALT, &mut salt)?;
        Self::from_session(key, &salt)
    }

    /// The context of a session key and salt as they are (RFC 7714 §16
    /// publishes its vectors for session keys).
    pub(super) fn from_session(key: &[u8], salt: &[u8]) -> Result<Self, BadKeyLength> {
        let salt: [u8; SALT_LEN] = salt.try_into().map_err(|_| BadKeyLength)?;
        let cipher = match key.len() {
            16 => Cipher::Aes128(Aes128Gcm::new_from_slice(key).map_err(|_| BadKeyLength)?),
            32 => Cipher::Aes256(Aes256Gcm::new_from_slice(key).map_err(|_| BadKeyLength)?),
            _ => return Err(BadKeyLength),
        };
        Ok(Self { cipher, salt })
    }

    /// RFC 7714 §8.1: `(0x0000 ‖ SSRC ‖ ROC ‖ SEQ) XOR salt`, SSRC and SEQ
    /// taken from the header (the caller checked it has 12 octets).
    fn nonce(&self, header: &[u8], roc: u32) -> Nonce<aes_gcm::aead::consts::U12> {
        let mut iv = [0u8; SALT_LEN];
        if let (Some(ssrc), Some(seq)) = (header.get(8..12), header.get(2..4)) {
            iv[2..6].copy_from_slice(ssrc);
            iv[10..12].copy_from_slice(seq);
        }
        iv[6..10].copy_from_slice(&roc.to_be_bytes());
        for (b, s) in iv.iter_mut().zip(self.salt) {
            *b ^= s;
        }
        Nonce::from(iv)
    }

    /// Encrypts the RTP packet `packet`, whose header (the associated data)
    /// is `header_len` octets, under `roc`: header ‖ ciphertext ‖ tag.
    /// `None` when `header_len` is out of range.
    pub(super) fn protect(&self, packet: &[u8], header_len: usize, roc: u32) -> Option<Bytes> {
        if header_len < 12 || header_len > packet.len() {
            return None;
        }
        let mut out = Vec::with_capacity(packet.len() + TAG_LEN);
        out.extend_from_slice(packet);
        let (header, body) = out.split_at_mut(header_len);
        let nonce = self.nonce(header, roc);
        let tag = match &self.cipher {
            Cipher::Aes128(c) => c.encrypt_in_place_detached(&nonce, header, body),
            Cipher::Aes256(c) => c.encrypt_in_place_detached(&nonce, header, body),
        }
        .ok()?;
        out.extend_from_slice(&tag);
        // Length equals capacity: `Bytes` takes the buffer without another
        // allocation.
        Some(Bytes::from(out))
    }

    /// Authenticates and decrypts the SRTP packet `packet` (header of
    /// `header_len` octets, then ciphertext, then the tag) under `roc`:
    /// the RTP packet, or `None` when the tag does not match (or the
    /// lengths cannot be right).
    pub(super) fn unprotect(&self, packet: &[u8], header_len: usize, roc: u32) -> Option<Bytes> {
        if header_len < 12 {
            return None;
        }
        let body_end = packet.len().checked_sub(TAG_LEN)?;
        if body_end < header_len {
            return None;
        }
        let (sealed, tag) = packet.split_at(body_end);
        let tag: [u8; TAG_LEN] = tag.try_into().ok()?;
        let tag = Tag::from(tag);
        let mut out = Vec::with_capacity(body_end);
        out.extend_from_slice(sealed);
        let (header, body) = out.split_at_mut(header_len);
        let nonce = self.nonce(header, roc);
        match &self.cipher {
            Cipher::Aes128(c) => c.decrypt_in_place_detached(&nonce, header, body, &tag),
            Cipher::Aes256(c) => c.decrypt_in_place_detached(&nonce, header, body, &tag),
        }
        .ok()?;
        Some(Bytes::from(out))
    }
}

/// Why the sender could not place a packet in its SSRC's index space.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RocError {
    /// The ROC would pass 2^32 - 1: 2^48 packets sent under this key
    /// (RFC 3711 §9.2).
    Exhausted,
    /// A new SSRC while the table is full.
    TooManySsrcs,
    /// This index was protected before, or is older than the window: a
    /// second packet under it would reuse the GCM nonce.
    Repeated,
}

/// The sender's rollover counters, one per SSRC it protects, as the
/// highest packet index sent so far (RFC 3711 §3.3.1): a short bounded list
/// scanned in order, like the replay table.
///
/// The index of a packet is estimated from the highest with RFC 3711
/// Appendix A, so a sequence number that wraps (0xffff → 0) moves the ROC
/// on, and a packet handed over late (a relay forwarding reordered packets)
/// keeps the ROC it was sent under. A full table refuses new SSRCs rather
/// than forgetting one: a forgotten ROC would restart at 0 and repeat IVs.
///
/// Each SSRC also keeps a window of the indices sent (libsrtp does the
/// same): an index protected before, or older than the window, is refused,
/// because a second, different packet under the same index would reuse the
/// nonce, which breaks GCM's confidentiality and authentication. A relay
/// handed a duplicate or a spoofed copy of a packet it forwarded drops it.
#[derive(Debug, Clone)]
pub(super) struct SenderRoc {
    max: usize,
    window: usize,
    entries: Vec<(u32, u64, ReplayWindow)>,
}

impl SenderRoc {
    /// An empty list for up to `max` SSRCs, remembering the last `window`
    /// indices sent of each.
    pub(super) fn new(max: usize, window: usize) -> Self {
        Self {
            max,
            window,
            entries: Vec::new(),
        }
    }

    /// The 48-bit index of the next packet of `ssrc` with sequence number
    /// `seq`, recorded as sent.
    pub(super) fn next_index(&mut self, ssrc: u32, seq: u16) -> Result<u64, RocError> {
        let Some((_, highest, sent)) = self.entries.iter_mut().find(|(s, _, _)| *s == ssrc) else {
            if self.entries.len() >= self.max {
                return Err(RocError::TooManySsrcs);
            }
            let mut sent = ReplayWindow::new(self.window);
            sent.accept(u64::from(seq));
            self.entries.push((ssrc, u64::from(seq), sent));
            return Ok(u64::from(seq));
        };
        let roc = *highest >> 16;
        let s_l = *highest & 0xffff;
        let s = u64::from(seq);
        let v = if s_l < 0x8000 {
            // A late packet from before the last wrap; at ROC 0 there is no
            // earlier ROC and it stays 0 (as `webrtc-srtp` and libsrtp's
            // senders do).
            if s > s_l && s - s_l > 0x8000 {
                roc.saturating_sub(1)
            } else {
                roc
            }
        } else if s_l - 0x8000 > s {
            roc + 1
        } else {
            roc
        };
        if v > u64::from(u32::MAX) {
            return Err(RocError::Exhausted);
        }
        let index = (v << 16) | s;
        if !sent.check(index) {
            return Err(RocError::Repeated);
        }
        sent.accept(index);
        *highest = (*highest).max(index);
        Ok(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    // RFC 7714 §16: the packet, salt and keys all the RTP vectors share.
    const PLAIN: &str = "8040f17b 8041f8d3 5501a0b2 47616c6c 69612065 7374206f 6d6e6973
                         20646976 69736120 696e2070 61727465 73207472 6573";
    const SALT: &str = "51756964 2070726f 2071756f";
    const KEY_128: &str = "000102030405060708090a0b0c0d0e0f";
    const KEY_256: &str = "000102030405060708090a0b0c0d0e0f 101112131415161718191a1b1c1d1e1f";
    // §16.1.1 "Encrypted and tagged packet" (and §16.1.2's input).
    const SEALED_128: &str = "8040f17b 8041f8d3 5501a0b2 f24de3a3 fb34de6c acba861c 9d7e4bca
                              be633bd5 0d294e6f 42a5f47a 51c7d19b 36de3adf 8833899d 7f27beb1
                              6a9152cf 765ee439 0cce";
    // §16.2.1 "Encrypted and tagged packet" (and §16.2.2's input).
    const SEALED_256: &str = "8040f17b 8041f8d3 5501a0b2 32b1de78 a822fe12 ef9f78fa 332e33aa
                              b1801238 9a58e2f3 b50b2a02 76ffae0f 1ba63799 b87b7aa3 db36dfff
                              d6b0f9bb 7878d7a7 6c13";

    #[test]
    fn rfc7714_16_iv() {
        let ctx = GcmRtp::from_session(&hex(KEY_128), &hex(SALT)).unwrap();
        let nonce = ctx.nonce(&hex(PLAIN)[..12], 0);
        assert_eq!(nonce.to_vec(), hex("51 75 3c 65 80 c2 72 6f 20 71 84 14"));
    }

    #[test]
    fn rfc7714_16_1_1_and_16_2_1_encryption() {
        for (key, sealed) in [(KEY_128, SEALED_128), (KEY_256, SEALED_256)] {
            let ctx = GcmRtp::from_session(&hex(key), &hex(SALT)).unwrap();
            let out = ctx.protect(&hex(PLAIN), 12, 0).unwrap();
            assert_eq!(out.to_vec(), hex(sealed), "key {key}");
        }
    }

    #[test]
    fn rfc7714_16_1_2_and_16_2_2_decryption() {
        for (key, sealed) in [(KEY_128, SEALED_128), (KEY_256, SEALED_256)] {
            let ctx = GcmRtp::from_session(&hex(key), &hex(SALT)).unwrap();
            let sealed = hex(sealed);
            assert_eq!(ctx.unprotect(&sealed, 12, 0).unwrap().to_vec(), hex(PLAIN));
            // Every octet is covered: header (AAD), ciphertext, tag.
            for i in 0..sealed.len() {
                let mut bad = sealed.clone();
                bad[i] ^= 0x40;
                assert!(ctx.unprotect(&bad, 12, 0).is_none(), "octet {i}");
            }
            // Another ROC is another IV.
            assert!(ctx.unprotect(&sealed, 12, 1).is_none());
        }
    }

    #[test]
    fn lengths_out_of_range_are_refused() {
        let ctx = GcmRtp::from_session(&hex(KEY_128), &hex(SALT)).unwrap();
        let p = hex(PLAIN);
        assert!(ctx.protect(&p, p.len() + 1, 0).is_none());
        assert!(ctx.protect(&p, 11, 0).is_none());
        assert!(ctx.unprotect(&p[..27], 12, 0).is_none());
        assert!(ctx.unprotect(&[], 12, 0).is_none());
        assert!(ctx.unprotect(&p, 40, 0).is_none());
        // An empty payload: the tag alone authenticates the header.
        let out = ctx.protect(&p[..12], 12, 0).unwrap();
        assert_eq!(out.len(), 28);
        assert_eq!(ctx.unprotect(&out, 12, 0).unwrap().to_vec(), p[..12]);
        assert!(GcmRtp::from_session(&[0; 24], &hex(SALT)).is_err());
        assert!(GcmRtp::from_session(&hex(KEY_128), &[0; 14]).is_err());
        assert!(GcmRtp::from_master(&[0; 24], &[0; 12]).is_err());
        assert!(GcmRtp::from_master(&[0; 16], &[0; 14]).is_err());
    }

    /// The PRF output block by block: block j is AES(master key, x · 2^16
    /// plus j), so a 256-bit session key takes blocks 0 and 1. (RFC 3711
    /// B.3 pins the same PRF with a 112-bit salt in `vectors.rs`, whose
    /// reference KDF the session's GCM output is checked against.)
    #[test]
    fn derivation_is_the_aes_cm_prf() {
        for key_len in [16usize, 32] {
            let master: Vec<u8> = (0..key_len as u8).map(|i| i.wrapping_mul(37)).collect();
            let salt: [u8; 12] = core::array::from_fn(|i| 0xa0 ^ i as u8);
            let block = |label: u8, j: u16| {
                let mut x = [0u8; 16];
                x[..12].copy_from_slice(&salt);
                x[7] ^= label;
                x[14..].copy_from_slice(&j.to_be_bytes());
                let mut b = GenericArray::from(x);
                if key_len == 16 {
                    aes::Aes128::new_from_slice(&master)
                        .unwrap()
                        .encrypt_block(&mut b);
                } else {
                    aes::Aes256::new_from_slice(&master)
                        .unwrap()
                        .encrypt_block(&mut b);
                }
                b.to_vec()
            };
            let mut key = vec![0u8; key_len];
            derive(&master, &salt, 0, &mut key).unwrap();
            let expected: Vec<u8> = (0..key_len / 16).flat_map(|j| block(0, j as u16)).collect();
            assert_eq!(key, expected);
            let mut s = [0u8; 12];
            derive(&master, &salt, 2, &mut s).unwrap();
            assert_eq!(s[..], block(2, 0)[..12]);
        }
    }

    #[test]
    fn sender_roc_follows_the_wrap() {
        let mut r = SenderRoc::new(2, 128);
        assert_eq!(r.next_index(1, 0xfffe), Ok(0xfffe));
        assert_eq!(r.next_index(1, 0xffff), Ok(0xffff));
        assert_eq!(r.next_index(1, 0x0000), Ok(0x1_0000));
        // Handed over late: the ROC it was sent under.
        assert_eq!(r.next_index(1, 0xfffd), Ok(0xfffd));
        assert_eq!(r.next_index(1, 0x0001), Ok(0x1_0001));
        // At ROC 0 nothing is before 0.
        assert_eq!(r.next_index(2, 10), Ok(10));
        assert_eq!(r.next_index(2, 0xfff0), Ok(0xfff0));
        assert_eq!(r.next_index(3, 1), Err(RocError::TooManySsrcs));
        // 2^48 packets: the index space ends.
        let mut r = SenderRoc::new(1, 128);
        r.entries.push((
            9,
            (u64::from(u32::MAX) << 16) | 0xfff0,
            ReplayWindow::new(128),
        ));
        assert_eq!(r.next_index(9, 0xffff), Ok(0xffff_ffff_ffff));
        assert_eq!(r.next_index(9, 0x0000), Err(RocError::Exhausted));
    }

    #[test]
    fn an_index_is_protected_once() {
        let mut r = SenderRoc::new(1, 64);
        assert_eq!(r.next_index(1, 5), Ok(5));
        assert_eq!(r.next_index(1, 5), Err(RocError::Repeated));
        assert_eq!(r.next_index(1, 7), Ok(7));
        // late but new: sent once
        assert_eq!(r.next_index(1, 6), Ok(6));
        assert_eq!(r.next_index(1, 6), Err(RocError::Repeated));
        for seq in 8..200 {
            assert_eq!(r.next_index(1, seq), Ok(u64::from(seq)));
        }
        // behind the window: cannot be told from a repeat, refused
        assert_eq!(r.next_index(1, 100), Err(RocError::Repeated));
        assert_eq!(r.next_index(1, 200), Ok(200));
    }
}
