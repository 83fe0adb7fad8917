//! SRTP/SRTCP protection for one SIP leg (RFC 3711, RFC 6188, RFC 7714),
//! keyed by SDES (RFC 4568).
//!
//! RTP of the AES-GCM suites goes through our RFC 7714 transform on
//! `aes-gcm` (`gcm.rs`: in place, one allocation per packet), because
//! `webrtc-srtp` 0.17's GCM path copies each packet byte by byte; RTP of the
//! AES-CM suites and SRTCP of every suite go through `webrtc-srtp` 0.17.
//! Replay protection is ours for all of them (`replay.rs`).
//!
//! Two one-way contexts: ours protects what we send with the key of our
//! `a=crypto` line, the peer's unprotects what it sends with the key of its
//! line. Every failure on receive is one packet's problem: a forged, replayed
//! or too-old packet is dropped and counted, and the session goes on.
//!
//! Inputs are checked before they reach `webrtc-srtp`, whose parsers index
//! without bounds checks on some short or malformed packets; SRTCP packets
//! without the E flag are refused, because `webrtc-srtp` would return them
//! without checking their tag.

use bytes::Bytes;
use webrtc_srtp::context::Context;
use webrtc_srtp::protection_profile::ProtectionProfile;

use super::crypto::{CryptoAttribute, CryptoSuite, KeyParams};
use super::gcm::{GcmRtp, RocError, SenderRoc};
use super::replay::ReplayTable;
use crate::rtp::packet::check_rtp_header;
use crate::rtp::rtcp::validate_compound;

/// Most remote SSRCs with a replay list; packets of further SSRCs are
/// dropped once the table is full (after authentication, so forged SSRCs
/// cannot fill it).
const MAX_REPLAY_SSRCS: usize = 16;

/// Most local SSRCs an AES-GCM session keeps a rollover counter for; RTP of
/// further SSRCs is refused ([`SrtpError::TooManySsrcs`]) rather than a
/// counter forgotten, which would repeat IVs.
const MAX_SENT_SSRCS: usize = 16;

/// Default replay window in packets (libsrtp's default; RFC 3711 §3.3.2
/// asks for at least 64).
pub const DEFAULT_REPLAY_WINDOW: usize = 128;

/// Largest replay window: well below half the 16-bit sequence space, so a
/// late packet inside the window never confuses the rollover estimate.
pub const MAX_REPLAY_WINDOW: usize = 4096;

/// Why an SRTP session could not be set up, or a packet not protected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SrtpError {
    /// The attribute carries no key.
    #[error("crypto attribute carries no key")]
    NoKey,
    /// The two lines name different suites.
    #[error("local and remote crypto suites differ")]
    SuiteMismatch,
    /// A feature `webrtc-srtp` 0.17 does not implement: MKI on the wire,
    /// several keys, KDR other than 0, unencrypted or unauthenticated SRTP.
    #[error("unsupported srtp parameter: {0}")]
    Unsupported(String),
    /// A replay window below RFC 3711's minimum of 64.
    #[error("replay window below 64")]
    ReplayWindow,
    /// The packet to protect is not a valid RTP or RTCP packet.
    #[error("not a valid packet to protect")]
    Malformed,
    /// The key's lifetime (RFC 4568 §6.1, or 2^48 / 2^31 of RFC 3711 §9.2)
    /// is used up: rekey.
    #[error("srtp key lifetime exhausted")]
    KeyExhausted,
    /// An RTP packet of a new SSRC while the session already sends for
    /// as many SSRCs as it keeps rollover counters for (AES-GCM suites).
    #[error("too many ssrcs sent under one srtp key")]
    TooManySsrcs,
    /// An RTP packet whose index (SSRC, rollover counter, sequence number)
    /// was protected before or is older than the replay window: protecting
    /// it again would reuse the keystream (AES-CM) or the nonce (AES-GCM).
    #[error("srtp index already protected")]
    Repeated,
    /// Anything else `webrtc-srtp` reported.
    #[error("srtp: {0}")]
    Crypto(String),
}

/// Why a received SRTP/SRTCP packet was dropped. The session continues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UnprotectError {
    /// Too short or not an RTP/RTCP packet.
    #[error("malformed srtp packet")]
    Malformed,
    /// The authentication tag does not match (forged or corrupted).
    #[error("srtp authentication failed")]
    AuthFailed,
    /// Seen before, or older than the replay window (RFC 3711 §3.3.2).
    #[error("srtp packet replayed or too old")]
    Replayed,
    /// SRTCP without the E flag, which this implementation does not accept.
    #[error("unencrypted srtcp refused")]
    Unencrypted,
    /// The receive key's lifetime is used up.
    #[error("srtp key lifetime exhausted")]
    KeyExhausted,
}

/// Counters of an [`SrtpSession`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SrtpStats {
    /// RTP packets protected.
    pub rtp_protected: u64,
    /// RTCP packets protected.
    pub rtcp_protected: u64,
    /// SRTP packets unprotected.
    pub rtp_unprotected: u64,
    /// SRTCP packets unprotected.
    pub rtcp_unprotected: u64,
    /// Packets dropped for a bad tag.
    pub auth_failures: u64,
    /// Packets dropped as replayed or too old.
    pub replayed: u64,
    /// Packets dropped as malformed or unencrypted.
    pub malformed: u64,
}

/// The RTP half of an AES-GCM session: our RFC 7714 transform per
/// direction and the sender's rollover counters.
struct GcmRtpPair {
    tx: GcmRtp,
    rx: GcmRtp,
    tx_roc: SenderRoc,
}

/// One leg's SRTP state: protect outgoing, unprotect incoming.
pub struct SrtpSession {
    suite: CryptoSuite,
    /// RTP of every suite but AES-GCM, and SRTCP of every suite.
    tx: Context,
    rx: Context,
    /// The indices sent per SSRC for the AES-CM suites (webrtc-srtp keeps
    /// its own rollover counter): an index is protected once, as libsrtp
    /// does, since a second packet under it would reuse the keystream.
    /// SSRCs beyond the list's size are not checked.
    cm_sent: SenderRoc,
    /// RTP of the AES-GCM suites.
    gcm: Option<GcmRtpPair>,
    tx_budget: Option<u64>,
    rx_budget: Option<u64>,
    rtp_replay: ReplayTable,
    rtcp_replay: ReplayTable,
    stats: SrtpStats,
}

impl std::fmt::Debug for SrtpSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SrtpSession")
            .field("suite", &self.suite)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

fn profile(suite: CryptoSuite) -> ProtectionProfile {
    match suite {
        CryptoSuite::AesCm128HmacSha1_80 => ProtectionProfile::Aes128CmHmacSha1_80,
        CryptoSuite::AesCm128HmacSha1_32 => ProtectionProfile::Aes128CmHmacSha1_32,
        CryptoSuite::Aes256CmHmacSha1_80 => ProtectionProfile::Aes256CmHmacSha1_80,
        CryptoSuite::Aes256CmHmacSha1_32 => ProtectionProfile::Aes256CmHmacSha1_32,
        CryptoSuite::AeadAes128Gcm => ProtectionProfile::AeadAes128Gcm,
        CryptoSuite::AeadAes256Gcm => ProtectionProfile::AeadAes256Gcm,
    }
}

fn single_key(attr: &CryptoAttribute) -> Result<&KeyParams, SrtpError> {
    for p in &attr.session_params {
        let name = p.split('=').next().unwrap_or_default();
        match name {
            "UNENCRYPTED_SRTP" | "UNENCRYPTED_SRTCP" | "UNAUTHENTICATED_SRTP" | "FEC_KEY" => {
                return Err(SrtpError::Unsupported(p.clone()));
            }
            "KDR" if p != "KDR=0" => return Err(SrtpError::Unsupported(p.clone())),
            _ => {}
        }
    }
    match attr.keys.as_slice() {
        [] => Err(SrtpError::NoKey),
        [key] if key.mki.is_some() => Err(SrtpError::Unsupported("MKI".into())),
        [key] => Ok(key),
        _ => Err(SrtpError::Unsupported("more than one key".into())),
    }
}

impl SrtpSession {
    /// A session from the negotiated `a=crypto` lines: `local` is ours (the
    /// key we send with), `remote` the peer's. The replay window is the
    /// larger `WSH=` of the two lines, at least [`DEFAULT_REPLAY_WINDOW`] and
    /// at most [`MAX_REPLAY_WINDOW`].
    pub fn from_sdes(local: &CryptoAttribute, remote: &CryptoAttribute) -> Result<Self, SrtpError> {
        if local.suite != remote.suite {
            return Err(SrtpError::SuiteMismatch);
        }
        let lk = single_key(local)?;
        let rk = single_key(remote)?;
        // RFC 4568 §6.3.7 leaves WSH a hint: take the largest window either
        // side asked for, never less than the default.
        let hint = local
            .window_size_hint()
            .max(remote.window_size_hint())
            .unwrap_or(0);
        let window = usize::try_from(hint)
            .map_err(|_| SrtpError::ReplayWindow)?
            .clamp(DEFAULT_REPLAY_WINDOW, MAX_REPLAY_WINDOW);
        let mut s = Self::new(local.suite, &lk.key_salt, &rk.key_salt, window)?;
        s.tx_budget = lk.lifetime.map(|l| l.packets());
        s.rx_budget = rk.lifetime.map(|l| l.packets());
        Ok(s)
    }

    /// A session from raw master keys (key || salt) for each direction.
    pub fn new(
        suite: CryptoSuite,
        local_key_salt: &[u8],
        remote_key_salt: &[u8],
        replay_window: usize,
    ) -> Result<Self, SrtpError> {
        if !(64..=MAX_REPLAY_WINDOW).contains(&replay_window) {
            return Err(SrtpError::ReplayWindow);
        }
        let context = |key_salt: &[u8]| {
            if key_salt.len() != suite.key_len() + suite.salt_len() {
                return Err(SrtpError::Crypto(format!(
                    "key and salt must be {} octets",
                    suite.key_len() + suite.salt_len()
                )));
            }
            let (key, salt) = key_salt.split_at(suite.key_len());
            // Replay protection is ours (see `replay.rs`): the contexts get
            // none.
            Context::new(key, salt, profile(suite), None, None)
                .map_err(|e| SrtpError::Crypto(e.to_string()))
        };
        let gcm = match suite {
            CryptoSuite::AeadAes128Gcm | CryptoSuite::AeadAes256Gcm => {
                // Lengths were checked by `context` above.
                let gcm = |key_salt: &[u8]| {
                    let (key, salt) = key_salt.split_at(suite.key_len());
                    GcmRtp::from_master(key, salt)
                        .map_err(|_| SrtpError::Crypto("bad aes-gcm key or salt length".into()))
                };
                Some(GcmRtpPair {
                    tx: gcm(local_key_salt)?,
                    rx: gcm(remote_key_salt)?,
                    tx_roc: SenderRoc::new(MAX_SENT_SSRCS, replay_window),
                })
            }
            _ => None,
        };
        Ok(Self {
            suite,
            tx: context(local_key_salt)?,
            rx: context(remote_key_salt)?,
            gcm,
            cm_sent: SenderRoc::new(MAX_SENT_SSRCS, replay_window),
            tx_budget: None,
            rx_budget: None,
            rtp_replay: ReplayTable::new(replay_window, MAX_REPLAY_SSRCS),
            rtcp_replay: ReplayTable::new(replay_window, MAX_REPLAY_SSRCS),
            stats: SrtpStats::default(),
        })
    }

    /// The suite in use.
    pub fn suite(&self) -> CryptoSuite {
        self.suite
    }

    /// The counters.
    pub fn stats(&self) -> SrtpStats {
        self.stats
    }

    fn spend(budget: &mut Option<u64>) -> bool {
        match budget {
            Some(0) => false,
            Some(n) => {
                *n -= 1;
                true
            }
            None => true,
        }
    }

    /// Protects one RTP packet.
    pub fn protect_rtp(&mut self, packet: &[u8]) -> Result<Bytes, SrtpError> {
        let header_len = check_rtp_header(packet, true).map_err(|_| SrtpError::Malformed)?;
        if let Some(gcm) = self.gcm.as_mut() {
            if self.tx_budget == Some(0) {
                return Err(SrtpError::KeyExhausted);
            }
            let seq = u16::from_be_bytes([packet[2], packet[3]]);
            let ssrc = u32::from_be_bytes([packet[8], packet[9], packet[10], packet[11]]);
            let index = gcm.tx_roc.next_index(ssrc, seq).map_err(|e| match e {
                RocError::Exhausted => SrtpError::KeyExhausted,
                RocError::TooManySsrcs => SrtpError::TooManySsrcs,
                RocError::Repeated => SrtpError::Repeated,
            })?;
            Self::spend(&mut self.tx_budget);
            let out = gcm
                .tx
                .protect(packet, header_len, (index >> 16) as u32)
                .ok_or(SrtpError::Malformed)?;
            self.stats.rtp_protected += 1;
            return Ok(out);
        }
        let seq = u16::from_be_bytes([packet[2], packet[3]]);
        let ssrc = u32::from_be_bytes([packet[8], packet[9], packet[10], packet[11]]);
        match self.cm_sent.next_index(ssrc, seq) {
            Err(RocError::Repeated) => return Err(SrtpError::Repeated),
            // webrtc-srtp enforces the key's end; a 17th SSRC goes unchecked
            Ok(_) | Err(RocError::Exhausted | RocError::TooManySsrcs) => {}
        }
        if !Self::spend(&mut self.tx_budget) {
            return Err(SrtpError::KeyExhausted);
        }
        let out = self.tx.encrypt_rtp(packet).map_err(|e| match e {
            webrtc_srtp::Error::ErrExceededMaxPackets => SrtpError::KeyExhausted,
            e => SrtpError::Crypto(e.to_string()),
        })?;
        self.stats.rtp_protected += 1;
        Ok(out)
    }

    /// Protects one RTCP compound packet (always encrypted: E = 1).
    pub fn protect_rtcp(&mut self, packet: &[u8]) -> Result<Bytes, SrtpError> {
        validate_compound(packet).map_err(|_| SrtpError::Malformed)?;
        if packet.len() < 8 {
            return Err(SrtpError::Malformed);
        }
        if !Self::spend(&mut self.tx_budget) {
            return Err(SrtpError::KeyExhausted);
        }
        let out = self
            .tx
            .encrypt_rtcp(packet)
            .map_err(|e| SrtpError::Crypto(e.to_string()))?;
        self.stats.rtcp_protected += 1;
        Ok(out)
    }

    /// Unprotects one SRTP packet: authenticates, checks for replay, decrypts.
    pub fn unprotect_rtp(&mut self, packet: &[u8]) -> Result<Bytes, UnprotectError> {
        let header_len = match check_rtp_header(packet, false) {
            Ok(n) => n,
            Err(_) => return Err(self.count(UnprotectError::Malformed)),
        };
        if packet.len() < header_len + self.suite.rtp_overhead() {
            return Err(self.count(UnprotectError::Malformed));
        }
        if self.rx_budget == Some(0) {
            return Err(UnprotectError::KeyExhausted);
        }
        let seq = u16::from_be_bytes([packet[2], packet[3]]);
        let ssrc = u32::from_be_bytes([packet[8], packet[9], packet[10], packet[11]]);
        let index = match self.rtp_replay.get(ssrc) {
            Some(w) => {
                let index = w.estimate_srtp_index(seq);
                if !w.check(index) {
                    return Err(self.count(UnprotectError::Replayed));
                }
                index
            }
            None => u64::from(seq),
        };
        let decrypted = match self.gcm.as_ref() {
            Some(gcm) => gcm
                .rx
                .unprotect(packet, header_len, (index >> 16) as u32)
                .ok_or(UnprotectError::AuthFailed),
            None => self.rx.decrypt_rtp(packet).map_err(|e| map_error(&e)),
        };
        match decrypted {
            Ok(out) => {
                if !self.rtp_replay.accept(ssrc, index) {
                    return Err(self.count(UnprotectError::Malformed));
                }
                Self::spend(&mut self.rx_budget);
                self.stats.rtp_unprotected += 1;
                Ok(out)
            }
            Err(e) => Err(self.count(e)),
        }
    }

    /// Unprotects one SRTCP packet.
    pub fn unprotect_rtcp(&mut self, packet: &[u8]) -> Result<Bytes, UnprotectError> {
        let overhead = self.suite.rtcp_overhead();
        if packet.len() < 8 + overhead || packet[0] >> 6 != 2 {
            return Err(self.count(UnprotectError::Malformed));
        }
        // The E flag heads the SRTCP index word, which precedes the HMAC tag
        // (AES-CM) or ends the packet (GCM, RFC 7714 §17).
        let index_at = match self.suite {
            CryptoSuite::AeadAes128Gcm | CryptoSuite::AeadAes256Gcm => packet.len() - 4,
            _ => packet.len() - overhead,
        };
        if packet[index_at] & 0x80 == 0 {
            return Err(self.count(UnprotectError::Unencrypted));
        }
        if self.rx_budget == Some(0) {
            return Err(UnprotectError::KeyExhausted);
        }
        let ssrc = u32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]]);
        let word = &packet[index_at..index_at + 4];
        let index =
            u64::from(u32::from_be_bytes([word[0], word[1], word[2], word[3]]) & 0x7fff_ffff);
        if self.rtcp_replay.get(ssrc).is_some_and(|w| !w.check(index)) {
            return Err(self.count(UnprotectError::Replayed));
        }
        match self.rx.decrypt_rtcp(packet) {
            Ok(out) => {
                if !self.rtcp_replay.accept(ssrc, index) {
                    return Err(self.count(UnprotectError::Malformed));
                }
                Self::spend(&mut self.rx_budget);
                self.stats.rtcp_unprotected += 1;
                Ok(out)
            }
            Err(e) => Err(self.count(map_error(&e))),
        }
    }

    fn count(&mut self, e: UnprotectError) -> UnprotectError {
        match e {
            UnprotectError::AuthFailed => self.stats.auth_failures += 1,
            UnprotectError::Replayed => self.stats.replayed += 1,
            UnprotectError::Malformed | UnprotectError::Unencrypted => self.stats.malformed += 1,
            UnprotectError::KeyExhausted => {}
        }
        e
    }
}

fn map_error(e: &webrtc_srtp::Error) -> UnprotectError {
    use webrtc_srtp::Error as E;
    match e {
        E::SrtpSsrcDuplicated(..) | E::SrtcpSsrcDuplicated(..) | E::ErrDuplicated => {
            UnprotectError::Replayed
        }
        E::RtpFailedToVerifyAuthTag
        | E::RtcpFailedToVerifyAuthTag
        | E::ErrFailedToVerifyAuthTag
        | E::AesGcm(_) => UnprotectError::AuthFailed,
        _ => UnprotectError::Malformed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use voip_core::Rng;

    fn pair(suite: CryptoSuite) -> (SrtpSession, SrtpSession) {
        let mut rng = Rng::seeded(42);
        let a = CryptoAttribute::generate(1, suite, &mut rng);
        let b = CryptoAttribute::generate(1, suite, &mut rng);
        (
            SrtpSession::from_sdes(&a, &b).unwrap(),
            SrtpSession::from_sdes(&b, &a).unwrap(),
        )
    }

    fn rtp(seq: u16, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![0x80, 0x08];
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&[0, 0, 0, 160, 0x11, 0x22, 0x33, 0x44]);
        p.extend_from_slice(payload);
        p
    }

    fn rr() -> Vec<u8> {
        vec![0x80, 0xc9, 0, 1, 0x11, 0x22, 0x33, 0x44]
    }

    #[test]
    fn tampering_anywhere_fails_auth_and_the_session_goes_on() {
        for suite in CryptoSuite::ALL {
            let (mut a, mut b) = pair(suite);
            let srtp = a.protect_rtp(&rtp(1, &[7; 40])).unwrap();
            for i in [1, 5, 12, 30, srtp.len() - 1] {
                let mut bad = srtp.to_vec();
                bad[i] ^= 0x01;
                let r = b.unprotect_rtp(&bad);
                assert!(
                    matches!(
                        r,
                        Err(UnprotectError::AuthFailed | UnprotectError::Replayed)
                    ),
                    "{suite} byte {i}: {r:?}"
                );
            }
            // The genuine packet still passes after the forgeries.
            assert_eq!(b.unprotect_rtp(&srtp).unwrap().to_vec(), rtp(1, &[7; 40]));
            assert!(b.stats().auth_failures >= 4, "{suite}");

            let srtcp = a.protect_rtcp(&rr()).unwrap();
            let mut bad = srtcp.to_vec();
            bad[9] ^= 0x80;
            assert_eq!(b.unprotect_rtcp(&bad), Err(UnprotectError::AuthFailed));
            assert_eq!(b.unprotect_rtcp(&srtcp).unwrap().to_vec(), rr());
        }
    }

    #[test]
    fn a_forged_first_packet_does_not_poison_the_window() {
        for suite in CryptoSuite::ALL {
            let (mut a, mut b) = pair(suite);
            let genuine = a.protect_rtp(&rtp(10, &[1; 20])).unwrap();
            // A forgery far ahead in sequence, arriving first.
            let mut forged = genuine.to_vec();
            forged[2] ^= 0x80;
            assert_eq!(b.unprotect_rtp(&forged), Err(UnprotectError::AuthFailed));
            assert!(b.unprotect_rtp(&genuine).is_ok(), "{suite}");
            // The same for SRTCP, with the forged index in the E-index word.
            let srtcp = a.protect_rtcp(&rr()).unwrap();
            let mut forged = srtcp.to_vec();
            let at = match suite {
                CryptoSuite::AeadAes128Gcm | CryptoSuite::AeadAes256Gcm => forged.len() - 3,
                _ => forged.len() - 13,
            };
            forged[at] ^= 0x40;
            assert_eq!(b.unprotect_rtcp(&forged), Err(UnprotectError::AuthFailed));
            assert!(b.unprotect_rtcp(&srtcp).is_ok(), "{suite}");
        }
    }

    #[test]
    fn wrong_key_fails_auth() {
        let (mut a, _) = pair(CryptoSuite::AesCm128HmacSha1_80);
        let (_, mut c) = pair(CryptoSuite::AesCm128HmacSha1_80);
        let mut rng = Rng::seeded(9);
        let other = CryptoAttribute::generate(1, CryptoSuite::AesCm128HmacSha1_80, &mut rng);
        let mut d = SrtpSession::from_sdes(&other, &other).unwrap();
        let srtp = a.protect_rtp(&rtp(1, &[1; 20])).unwrap();
        assert_eq!(d.unprotect_rtp(&srtp), Err(UnprotectError::AuthFailed));
        let _ = c.unprotect_rtp(&srtp);
    }

    #[test]
    fn replayed_and_too_old_packets_are_dropped_alone() {
        for suite in CryptoSuite::ALL {
            let (mut a, mut b) = pair(suite);
            let packets: Vec<Bytes> = (0..300u16)
                .map(|s| a.protect_rtp(&rtp(s, &[s as u8; 10])).unwrap())
                .collect();
            // Deliver 0..=150 except 100, then replay 150 and 50.
            for (i, p) in packets.iter().enumerate().take(151) {
                if i != 100 {
                    b.unprotect_rtp(p).unwrap();
                }
            }
            assert_eq!(
                b.unprotect_rtp(&packets[150]),
                Err(UnprotectError::Replayed)
            );
            assert_eq!(b.unprotect_rtp(&packets[50]), Err(UnprotectError::Replayed));
            // 100 is late but inside the 128-packet window: accepted once.
            assert!(b.unprotect_rtp(&packets[100]).is_ok());
            assert_eq!(
                b.unprotect_rtp(&packets[100]),
                Err(UnprotectError::Replayed)
            );
            // Move on past 100 + 128, then 100's neighbour is too old.
            for p in &packets[151..=260] {
                b.unprotect_rtp(p).unwrap();
            }
            assert_eq!(
                b.unprotect_rtp(&packets[101]),
                Err(UnprotectError::Replayed)
            );
            // The session continues.
            assert!(b.unprotect_rtp(&packets[261]).is_ok());
            assert_eq!(b.stats().replayed, 4, "{suite}");

            let c1 = a.protect_rtcp(&rr()).unwrap();
            let c2 = a.protect_rtcp(&rr()).unwrap();
            assert!(b.unprotect_rtcp(&c2).is_ok());
            assert!(b.unprotect_rtcp(&c1).is_ok()); // reordered, in window
            assert_eq!(b.unprotect_rtcp(&c1), Err(UnprotectError::Replayed));
        }
    }

    #[test]
    fn unencrypted_srtcp_is_refused() {
        for suite in CryptoSuite::ALL {
            let (mut a, mut b) = pair(suite);
            let mut p = a.protect_rtcp(&rr()).unwrap().to_vec();
            let at = match suite {
                CryptoSuite::AeadAes128Gcm | CryptoSuite::AeadAes256Gcm => p.len() - 4,
                _ => p.len() - 14,
            };
            p[at] &= 0x7f;
            assert_eq!(b.unprotect_rtcp(&p), Err(UnprotectError::Unencrypted));
        }
    }

    #[test]
    fn lifetime_is_enforced() {
        let mut rng = Rng::seeded(5);
        let mut a = CryptoAttribute::generate(1, CryptoSuite::AesCm128HmacSha1_80, &mut rng);
        a.keys[0].lifetime = Some(super::super::Lifetime::Packets(2));
        let mut s = SrtpSession::from_sdes(&a, &a).unwrap();
        assert!(s.protect_rtp(&rtp(1, &[0; 4])).is_ok());
        assert!(s.protect_rtp(&rtp(2, &[0; 4])).is_ok());
        assert_eq!(
            s.protect_rtp(&rtp(3, &[0; 4])),
            Err(SrtpError::KeyExhausted)
        );
    }

    #[test]
    fn unsupported_parameters_are_refused() {
        let mut rng = Rng::seeded(5);
        let a = CryptoAttribute::generate(1, CryptoSuite::AesCm128HmacSha1_80, &mut rng);
        let mut mki = a.clone();
        mki.keys[0].mki = Some(super::super::Mki {
            value: 1,
            length: 4,
        });
        assert!(matches!(
            SrtpSession::from_sdes(&mki, &a),
            Err(SrtpError::Unsupported(_))
        ));
        let mut unenc = a.clone();
        unenc.session_params.push("UNENCRYPTED_SRTCP".into());
        assert!(matches!(
            SrtpSession::from_sdes(&a, &unenc),
            Err(SrtpError::Unsupported(_))
        ));
        let mut kdr = a.clone();
        kdr.session_params.push("KDR=24".into());
        assert!(matches!(
            SrtpSession::from_sdes(&kdr, &a),
            Err(SrtpError::Unsupported(_))
        ));
        let g = CryptoAttribute::generate(1, CryptoSuite::AeadAes128Gcm, &mut rng);
        assert_eq!(
            SrtpSession::from_sdes(&a, &g).unwrap_err(),
            SrtpError::SuiteMismatch
        );
        assert_eq!(
            SrtpSession::new(CryptoSuite::AesCm128HmacSha1_80, &[0; 30], &[0; 30], 32).unwrap_err(),
            SrtpError::ReplayWindow
        );
    }

    #[test]
    fn short_and_garbage_input_is_malformed() {
        for suite in CryptoSuite::ALL {
            let (mut a, mut b) = pair(suite);
            assert_eq!(b.unprotect_rtp(&[0x80; 12]), Err(UnprotectError::Malformed));
            assert_eq!(
                b.unprotect_rtcp(&[0x80, 0xc9, 0, 1]),
                Err(UnprotectError::Malformed)
            );
            assert_eq!(b.unprotect_rtcp(&[0x80; 8]), Err(UnprotectError::Malformed));
            assert_eq!(a.protect_rtp(&[0x80; 5]), Err(SrtpError::Malformed));
            assert_eq!(
                a.protect_rtcp(&[0x80, 0xc9, 0, 0]),
                Err(SrtpError::Malformed)
            );
        }
    }

    /// An RTP packet with, by `shape`: nothing more (0), two CSRCs (1), an
    /// RFC 8285 one-byte header extension of two words (2), or CSRCs, the
    /// extension, the marker and four octets of padding (3).
    fn rich_rtp(seq: u16, ssrc: u32, shape: u16, payload: usize) -> Vec<u8> {
        let csrcs = matches!(shape, 1 | 3);
        let ext = matches!(shape, 2 | 3);
        let pad = shape == 3;
        let mut p = vec![
            0x80 | if pad { 0x20 } else { 0 }
                | if ext { 0x10 } else { 0 }
                | if csrcs { 2 } else { 0 },
            if pad { 0x80 | 96 } else { 96 },
        ];
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&(u32::from(seq) * 960).to_be_bytes());
        p.extend_from_slice(&ssrc.to_be_bytes());
        if csrcs {
            p.extend_from_slice(&[0xc5, 0xc5, 0, 1, 0xc5, 0xc5, 0, 2]);
        }
        if ext {
            // id 1 with 4 octets, id 2 with 2 octets, one padding octet.
            p.extend_from_slice(&[0xbe, 0xde, 0, 2, 0x13, 1, 2, 3, 4, 0x21, 0xaa, 0xbb]);
        }
        p.extend((0..payload).map(|i| (i as u16 ^ seq) as u8));
        if pad {
            p.extend_from_slice(&[0, 0, 0, 4]);
        }
        p
    }

    fn webrtc_context(suite: CryptoSuite, key_salt: &[u8]) -> Context {
        let (key, salt) = key_salt.split_at(suite.key_len());
        Context::new(key, salt, profile(suite), None, None).unwrap()
    }

    /// Our RFC 7714 RTP transform against a plain `webrtc-srtp` context with
    /// the same master keys, both ways, for random keys, CSRCs, header
    /// extensions and padding, across a sequence wrap (ROC 0 → 1).
    #[test]
    fn gcm_rtp_matches_webrtc_srtp_both_ways() {
        let mut rng = Rng::seeded(0x7714);
        for suite in [CryptoSuite::AeadAes128Gcm, CryptoSuite::AeadAes256Gcm] {
            for round in 0..4u16 {
                let mut ours = vec![0u8; suite.key_len() + suite.salt_len()];
                let mut theirs = ours.clone();
                rng.fill(&mut ours);
                rng.fill(&mut theirs);
                let mut session = SrtpSession::new(suite, &ours, &theirs, 128).unwrap();
                let mut their_rx = webrtc_context(suite, &ours);
                let mut our_twin = webrtc_context(suite, &ours);
                let mut their_tx = webrtc_context(suite, &theirs);
                let ssrc = rng.next_u32();
                let start = 0xffe0 + round * 3;
                for i in 0..64u16 {
                    let seq = start.wrapping_add(i);
                    let p = rich_rtp(seq, ssrc, i % 4, usize::from(i * 37 % 300));
                    let sent = session.protect_rtp(&p).unwrap();
                    assert_eq!(sent, our_twin.encrypt_rtp(&p).unwrap(), "{suite} {seq:#x}");
                    assert_eq!(their_rx.decrypt_rtp(&sent).unwrap(), p, "{suite} {seq:#x}");
                    let received = their_tx.encrypt_rtp(&p).unwrap();
                    assert_eq!(
                        session.unprotect_rtp(&received).unwrap(),
                        p,
                        "{suite} {seq:#x}"
                    );
                }
                assert_eq!(session.stats().rtp_protected, 64);
                assert_eq!(session.stats().rtp_unprotected, 64);
            }
        }
    }

    /// After a wrap (ROC 1), on the GCM path: a replay is dropped alone, a
    /// flipped bit fails authentication, and the stream goes on.
    #[test]
    fn gcm_replay_and_forgery_after_the_wrap() {
        for suite in [CryptoSuite::AeadAes128Gcm, CryptoSuite::AeadAes256Gcm] {
            let (mut a, mut b) = pair(suite);
            let sent: Vec<Bytes> = (0..8u16)
                .map(|i| {
                    let p = rich_rtp(0xfffc_u16.wrapping_add(i), 0x1122_3344, i % 4, 20);
                    a.protect_rtp(&p).unwrap()
                })
                .collect();
            for p in &sent[..6] {
                b.unprotect_rtp(p).unwrap();
            }
            assert_eq!(b.unprotect_rtp(&sent[5]), Err(UnprotectError::Replayed));
            assert_eq!(b.unprotect_rtp(&sent[1]), Err(UnprotectError::Replayed));
            let mut bad = sent[6].to_vec();
            let last = bad.len() - 1;
            bad[last] ^= 0x01;
            assert_eq!(b.unprotect_rtp(&bad), Err(UnprotectError::AuthFailed));
            let mut bad = sent[6].to_vec();
            bad[1] ^= 0x80; // the marker bit is in the associated data
            assert_eq!(b.unprotect_rtp(&bad), Err(UnprotectError::AuthFailed));
            assert!(b.unprotect_rtp(&sent[6]).is_ok());
            assert!(b.unprotect_rtp(&sent[7]).is_ok());
            let st = b.stats();
            assert_eq!(
                (st.replayed, st.auth_failures, st.rtp_unprotected),
                (2, 2, 8)
            );
        }
    }

    #[test]
    fn gcm_lifetime_and_sender_ssrc_limit() {
        let mut rng = Rng::seeded(5);
        let mut a = CryptoAttribute::generate(1, CryptoSuite::AeadAes256Gcm, &mut rng);
        a.keys[0].lifetime = Some(super::super::Lifetime::Packets(2));
        let mut s = SrtpSession::from_sdes(&a, &a).unwrap();
        let srtp = s.protect_rtp(&rtp(1, &[0; 4])).unwrap();
        assert!(s.protect_rtp(&rtp(2, &[0; 4])).is_ok());
        assert_eq!(
            s.protect_rtp(&rtp(3, &[0; 4])),
            Err(SrtpError::KeyExhausted)
        );
        assert!(s.unprotect_rtp(&srtp).is_ok());

        let (mut a, mut b) = pair(CryptoSuite::AeadAes128Gcm);
        for ssrc in 0..MAX_SENT_SSRCS as u32 {
            let p = rich_rtp(1, ssrc, 0, 10);
            assert!(b.unprotect_rtp(&a.protect_rtp(&p).unwrap()).is_ok());
        }
        assert_eq!(
            a.protect_rtp(&rich_rtp(1, 999, 0, 10)),
            Err(SrtpError::TooManySsrcs)
        );
        // The SSRCs it has go on.
        assert!(a.protect_rtp(&rich_rtp(2, 3, 0, 10)).is_ok());
    }

    #[test]
    fn no_suite_protects_one_index_twice() {
        for suite in CryptoSuite::ALL {
            let (mut a, mut b) = pair(suite);
            let first = a.protect_rtp(&rtp(5, b"first")).unwrap();
            // a different packet under the same index would reuse the nonce
            assert_eq!(a.protect_rtp(&rtp(5, b"other")), Err(SrtpError::Repeated));
            assert_eq!(b.unprotect_rtp(&first).unwrap().to_vec(), rtp(5, b"first"));
            let next = a.protect_rtp(&rtp(6, b"next")).unwrap();
            assert_eq!(b.unprotect_rtp(&next).unwrap().to_vec(), rtp(6, b"next"));
        }
    }

    proptest! {
        #[test]
        fn round_trip(
            suite in 0usize..6, seqs in proptest::collection::vec(any::<u16>(), 1..8),
            payload in proptest::collection::vec(any::<u8>(), 0..200), marker in any::<bool>(),
        ) {
            let suite = CryptoSuite::ALL[suite];
            let (mut a, mut b) = pair(suite);
            let mut seen = std::collections::HashSet::new();
            for seq in seqs {
                let mut p = rtp(seq, &payload);
                if marker { p[1] |= 0x80; }
                let s = match a.protect_rtp(&p) {
                    Ok(s) => s,
                    // an index sent before is refused (keystream or nonce reuse)
                    Err(SrtpError::Repeated) => continue,
                    Err(e) => return Err(TestCaseError::fail(format!("{e}"))),
                };
                prop_assert_eq!(s.len(), p.len() + suite.rtp_overhead());
                match b.unprotect_rtp(&s) {
                    Ok(out) => { prop_assert_eq!(out.to_vec(), p); seen.insert(seq); }
                    // Random sequence numbers can be replays, too old, or far
                    // enough to guess another ROC; never a wrong plaintext.
                    Err(e) => prop_assert!(matches!(e, UnprotectError::Replayed | UnprotectError::AuthFailed)),
                }
            }
            let c = a.protect_rtcp(&rr()).unwrap();
            prop_assert_eq!(b.unprotect_rtcp(&c).unwrap().to_vec(), rr());
        }

        #[test]
        fn arbitrary_bytes_never_panic(
            suite in 0usize..6, bytes in proptest::collection::vec(any::<u8>(), 0..120),
        ) {
            let (mut a, mut b) = pair(CryptoSuite::ALL[suite]);
            let _ = b.unprotect_rtp(&bytes);
            let _ = b.unprotect_rtcp(&bytes);
            let _ = a.protect_rtp(&bytes);
            let _ = a.protect_rtcp(&bytes);
            let mut v = bytes.clone();
            if v.len() > 1 { v[0] = 0x80 | (v[0] & 0x3f); }
            let _ = b.unprotect_rtp(&v);
            let _ = b.unprotect_rtcp(&v);
            let _ = a.protect_rtp(&v);
        }

        #[test]
        fn in_order_streams_always_round_trip(
            suite in 0usize..6, start in any::<u16>(), n in 1usize..50,
        ) {
            let suite = CryptoSuite::ALL[suite];
            let (mut a, mut b) = pair(suite);
            for i in 0..n {
                let p = rtp(start.wrapping_add(i as u16), &[i as u8; 33]);
                let s = a.protect_rtp(&p).unwrap();
                prop_assert_eq!(b.unprotect_rtp(&s).unwrap().to_vec(), p);
            }
        }
    }
}
