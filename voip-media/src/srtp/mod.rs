//! SRTP for SIP legs: SDES key exchange (RFC 4568 `a=crypto`) and protect/unprotect (RTP of the
//! AES-GCM suites through our RFC 7714 transform on `aes-gcm`, the rest through `webrtc-srtp`),
//! with replay protection (RFC 3711 §3.3.2).
//!
//! ```
//! use voip_core::Rng;
//! use voip_media::srtp::{CryptoAttribute, CryptoSuite, SrtpSession};
//!
//! let mut rng = Rng::seeded(7); // production: Rng::os()
//! let offer = CryptoAttribute::generate(1, CryptoSuite::AesCm128HmacSha1_80, &mut rng);
//! let answer = CryptoAttribute::generate(1, CryptoSuite::AesCm128HmacSha1_80, &mut rng);
//! let line = format!("a=crypto:{offer}"); // goes into the SDP offer
//! let offer = CryptoAttribute::parse(&line).unwrap();
//!
//! let mut alice = SrtpSession::from_sdes(&offer, &answer).unwrap();
//! let mut bob = SrtpSession::from_sdes(&answer, &offer).unwrap();
//! let rtp = [0x80, 0, 0, 1, 0, 0, 0, 160, 0, 0, 0, 9, 0xd5, 0xd5];
//! let srtp = alice.protect_rtp(&rtp).unwrap();
//! assert_eq!(&bob.unprotect_rtp(&srtp).unwrap()[..], &rtp[..]);
//! assert!(bob.unprotect_rtp(&srtp).is_err()); // a replay is dropped alone
//! ```

mod crypto;
mod gcm;
mod replay;
mod session;
#[cfg(test)]
mod vectors;

pub use crypto::{CryptoAttribute, CryptoAttributeError, CryptoSuite, KeyParams, Lifetime, Mki};
pub use session::{
    DEFAULT_REPLAY_WINDOW, MAX_REPLAY_WINDOW, SrtpError, SrtpSession, SrtpStats, UnprotectError,
};
