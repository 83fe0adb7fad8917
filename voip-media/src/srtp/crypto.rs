//! The SDES `a=crypto` attribute (RFC 4568 §9.1) and its crypto suites
//! (RFC 4568 §6.2, RFC 6188 for AES-256, RFC 7714 §14.2 for AES-GCM).
//!
//! ```text
//! a=crypto:<tag> <crypto-suite> <key-params>[;<key-params>]* [<session-param>]*
//! key-params = "inline:" base64(key || salt) ["|" lifetime] ["|" MKI ":" length]
//! ```
//! The attribute value (after `a=crypto:`) parses and prints exactly:
//! `parse(print(x)) == x`. Session parameters are kept as written.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use voip_core::Rng;

/// An SRTP crypto suite of SDES.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CryptoSuite {
    /// AES-128 counter mode, HMAC-SHA1 80-bit tag (RFC 4568 §6.2.1).
    AesCm128HmacSha1_80,
    /// AES-128 counter mode, HMAC-SHA1 32-bit RTP tag (RFC 4568 §6.2.2).
    AesCm128HmacSha1_32,
    /// AES-256 counter mode, HMAC-SHA1 80-bit tag (RFC 6188 §4).
    Aes256CmHmacSha1_80,
    /// AES-256 counter mode, HMAC-SHA1 32-bit RTP tag (RFC 6188 §4).
    Aes256CmHmacSha1_32,
    /// AES-128 GCM with a 16-octet tag (RFC 7714 §14.2).
    AeadAes128Gcm,
    /// AES-256 GCM with a 16-octet tag (RFC 7714 §14.2).
    AeadAes256Gcm,
}

impl CryptoSuite {
    /// Every suite, strongest-first as an offer would list them.
    pub const ALL: [CryptoSuite; 6] = [
        CryptoSuite::AeadAes256Gcm,
        CryptoSuite::AeadAes128Gcm,
        CryptoSuite::Aes256CmHmacSha1_80,
        CryptoSuite::Aes256CmHmacSha1_32,
        CryptoSuite::AesCm128HmacSha1_80,
        CryptoSuite::AesCm128HmacSha1_32,
    ];

    /// The name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            Self::AesCm128HmacSha1_80 => "AES_CM_128_HMAC_SHA1_80",
            Self::AesCm128HmacSha1_32 => "AES_CM_128_HMAC_SHA1_32",
            Self::Aes256CmHmacSha1_80 => "AES_256_CM_HMAC_SHA1_80",
            Self::Aes256CmHmacSha1_32 => "AES_256_CM_HMAC_SHA1_32",
            Self::AeadAes128Gcm => "AEAD_AES_128_GCM",
            Self::AeadAes256Gcm => "AEAD_AES_256_GCM",
        }
    }

    /// The suite of a wire name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Master key length in octets.
    pub fn key_len(self) -> usize {
        match self {
            Self::AesCm128HmacSha1_80 | Self::AesCm128HmacSha1_32 | Self::AeadAes128Gcm => 16,
            Self::Aes256CmHmacSha1_80 | Self::Aes256CmHmacSha1_32 | Self::AeadAes256Gcm => 32,
        }
    }

    /// Master salt length in octets (112 bits for AES-CM, 96 for GCM).
    pub fn salt_len(self) -> usize {
        match self {
            Self::AeadAes128Gcm | Self::AeadAes256Gcm => 12,
            _ => 14,
        }
    }

    /// Octets an SRTP packet grows by (auth tag, or GCM tag).
    pub fn rtp_overhead(self) -> usize {
        match self {
            Self::AesCm128HmacSha1_80 | Self::Aes256CmHmacSha1_80 => 10,
            Self::AesCm128HmacSha1_32 | Self::Aes256CmHmacSha1_32 => 4,
            Self::AeadAes128Gcm | Self::AeadAes256Gcm => 16,
        }
    }

    /// Octets an SRTCP packet grows by (SRTCP index + tag).
    pub fn rtcp_overhead(self) -> usize {
        match self {
            Self::AeadAes128Gcm | Self::AeadAes256Gcm => 4 + 16,
            _ => 4 + 10,
        }
    }
}

impl fmt::Display for CryptoSuite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A key's lifetime in packets (RFC 4568 §6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifetime {
    /// Written `2^n`.
    PowerOfTwo(u8),
    /// Written as a decimal count.
    Packets(u64),
}

impl Lifetime {
    /// The number of packets.
    pub fn packets(self) -> u64 {
        match self {
            Self::PowerOfTwo(n) => 1u64.checked_shl(u32::from(n)).unwrap_or(u64::MAX),
            Self::Packets(n) => n,
        }
    }
}

/// A master key identifier and its length on the wire (RFC 4568 §6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mki {
    /// Its value.
    pub value: u64,
    /// Its length in octets (1–128).
    pub length: u8,
}

/// One `inline:` key (RFC 4568 §6.1, §9.2).
#[derive(Clone, PartialEq, Eq)]
pub struct KeyParams {
    /// Master key followed by master salt.
    pub key_salt: Vec<u8>,
    /// The key's lifetime, if given.
    pub lifetime: Option<Lifetime>,
    /// The MKI, if given.
    pub mki: Option<Mki>,
}

impl fmt::Debug for KeyParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print key material.
        f.debug_struct("KeyParams")
            .field(
                "key_salt",
                &format_args!("<{} octets>", self.key_salt.len()),
            )
            .field("lifetime", &self.lifetime)
            .field("mki", &self.mki)
            .finish()
    }
}

/// A parsed `a=crypto` attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CryptoAttribute {
    /// The tag (1–999999999) the answer echoes.
    pub tag: u32,
    /// The crypto suite.
    pub suite: CryptoSuite,
    /// One or more keys.
    pub keys: Vec<KeyParams>,
    /// Session parameters (`KDR=`, `UNENCRYPTED_SRTCP`, `WSH=`, …) as written.
    pub session_params: Vec<String>,
}

/// Why an `a=crypto` value did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoAttributeError {
    /// Fewer than three fields.
    #[error("crypto attribute needs a tag, a suite and key parameters")]
    MissingField,
    /// The tag is not 1 to 9 digits.
    #[error("bad crypto tag")]
    BadTag,
    /// A suite this crate does not know (an answerer skips the line).
    #[error("unknown crypto suite {0}")]
    UnknownSuite(String),
    /// A key method other than `inline`.
    #[error("unsupported key method")]
    UnsupportedKeyMethod,
    /// Invalid base64.
    #[error("bad base64 key")]
    BadBase64,
    /// The key and salt are not the suite's length.
    #[error("key and salt must be {expected} octets, got {got}")]
    KeyLength {
        /// Octets the suite needs.
        expected: usize,
        /// Octets received.
        got: usize,
    },
    /// A malformed lifetime.
    #[error("bad key lifetime")]
    BadLifetime,
    /// A malformed MKI.
    #[error("bad mki")]
    BadMki,
}

impl CryptoAttribute {
    /// A fresh attribute with one random key from `rng` (pass an
    /// [`OsRandom`](voip_core::OsRandom)-backed `Rng` in production).
    pub fn generate(tag: u32, suite: CryptoSuite, rng: &mut Rng) -> Self {
        let mut key_salt = vec![0u8; suite.key_len() + suite.salt_len()];
        rng.fill(&mut key_salt);
        Self {
            tag,
            suite,
            keys: vec![KeyParams {
                key_salt,
                lifetime: None,
                mki: None,
            }],
            session_params: Vec::new(),
        }
    }

    /// Parses the attribute value (`1 AES_CM_128_HMAC_SHA1_80 inline:…`);
    /// a leading `a=crypto:` or `crypto:` is accepted.
    pub fn parse(value: &str) -> Result<Self, CryptoAttributeError> {
        let value = value.trim();
        let value = value
            .strip_prefix("a=crypto:")
            .or_else(|| value.strip_prefix("crypto:"))
            .unwrap_or(value);
        let mut fields = value.split_ascii_whitespace();
        let (Some(tag), Some(suite), Some(key_params)) =
            (fields.next(), fields.next(), fields.next())
        else {
            return Err(CryptoAttributeError::MissingField);
        };
        if tag.is_empty() || tag.len() > 9 || !tag.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CryptoAttributeError::BadTag);
        }
        let tag: u32 = tag.parse().map_err(|_| CryptoAttributeError::BadTag)?;
        let suite = CryptoSuite::from_name(suite)
            .ok_or_else(|| CryptoAttributeError::UnknownSuite(suite.to_owned()))?;
        let keys = key_params
            .split(';')
            .map(|k| parse_key_params(k, suite))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            tag,
            suite,
            keys,
            session_params: fields.map(str::to_owned).collect(),
        })
    }

    /// The replay window from a `WSH=` session parameter (RFC 4568 §6.3.7).
    pub fn window_size_hint(&self) -> Option<u64> {
        self.session_params
            .iter()
            .find_map(|p| p.strip_prefix("WSH=")?.parse().ok())
    }
}

fn parse_key_params(s: &str, suite: CryptoSuite) -> Result<KeyParams, CryptoAttributeError> {
    let Some(info) = s.strip_prefix("inline:") else {
        return Err(CryptoAttributeError::UnsupportedKeyMethod);
    };
    let mut parts = info.split('|');
    let key = parts.next().unwrap_or_default();
    let key_salt = STANDARD
        .decode(key)
        .map_err(|_| CryptoAttributeError::BadBase64)?;
    let expected = suite.key_len() + suite.salt_len();
    if key_salt.len() != expected {
        return Err(CryptoAttributeError::KeyLength {
            expected,
            got: key_salt.len(),
        });
    }
    let mut lifetime = None;
    let mut mki = None;
    for part in parts {
        if let Some((value, length)) = part.split_once(':') {
            if mki.is_some() {
                return Err(CryptoAttributeError::BadMki);
            }
            let value = decimal(value, 20).ok_or(CryptoAttributeError::BadMki)?;
            let length = decimal(length, 3).ok_or(CryptoAttributeError::BadMki)?;
            if !(1..=128).contains(&length) {
                return Err(CryptoAttributeError::BadMki);
            }
            mki = Some(Mki {
                value,
                length: length as u8,
            });
        } else {
            if lifetime.is_some() || mki.is_some() {
                return Err(CryptoAttributeError::BadLifetime);
            }
            lifetime = Some(if let Some(exp) = part.strip_prefix("2^") {
                let n = decimal(exp, 2).ok_or(CryptoAttributeError::BadLifetime)?;
                if n > 63 {
                    return Err(CryptoAttributeError::BadLifetime);
                }
                Lifetime::PowerOfTwo(n as u8)
            } else {
                Lifetime::Packets(decimal(part, 20).ok_or(CryptoAttributeError::BadLifetime)?)
            });
        }
    }
    Ok(KeyParams {
        key_salt,
        lifetime,
        mki,
    })
}

fn decimal(s: &str, max_digits: usize) -> Option<u64> {
    if s.is_empty() || s.len() > max_digits || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

impl fmt::Display for CryptoAttribute {
    /// The attribute value, without `a=crypto:`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} ", self.tag, self.suite)?;
        for (i, k) in self.keys.iter().enumerate() {
            if i > 0 {
                f.write_str(";")?;
            }
            write!(f, "inline:{}", STANDARD.encode(&k.key_salt))?;
            match k.lifetime {
                Some(Lifetime::PowerOfTwo(n)) => write!(f, "|2^{n}")?,
                Some(Lifetime::Packets(n)) => write!(f, "|{n}")?,
                None => {}
            }
            if let Some(m) = k.mki {
                write!(f, "|{}:{}", m.value, m.length)?;
            }
        }
        for p in &self.session_params {
            write!(f, " {p}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use voip_core::Rng;

    #[test]
    fn rfc4568_example_round_trips() {
        // RFC 4568 §4, the offer's first crypto line.
        let v =
            "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:4";
        let a = CryptoAttribute::parse(&format!("a=crypto:{v}")).unwrap();
        assert_eq!(a.tag, 1);
        assert_eq!(a.suite, CryptoSuite::AesCm128HmacSha1_80);
        assert_eq!(a.keys.len(), 1);
        assert_eq!(a.keys[0].key_salt.len(), 30);
        assert_eq!(a.keys[0].lifetime, Some(Lifetime::PowerOfTwo(20)));
        assert_eq!(a.keys[0].lifetime.map(Lifetime::packets), Some(1 << 20));
        assert_eq!(
            a.keys[0].mki,
            Some(Mki {
                value: 1,
                length: 4
            })
        );
        assert_eq!(a.to_string(), v);
    }

    #[test]
    fn session_params_and_several_keys_are_kept() {
        let v = "2 AES_CM_128_HMAC_SHA1_32 inline:NzB4d1BINUAvLEw6UzF3WSJ+PSdFcGdUJShpX1Zj|2^20|1:32;inline:QUJjZGVmMTIzNDU2Nzg5QUJDREUwMTIzNDU2Nzg5|2^20|2:32 KDR=1 FEC_ORDER=FEC_SRTP WSH=128";
        let a = CryptoAttribute::parse(v).unwrap();
        assert_eq!(a.keys.len(), 2);
        assert_eq!(a.session_params, ["KDR=1", "FEC_ORDER=FEC_SRTP", "WSH=128"]);
        assert_eq!(a.window_size_hint(), Some(128));
        assert_eq!(a.to_string(), v);
    }

    #[test]
    fn gcm_and_aes256_lengths() {
        let mut rng = Rng::seeded(3);
        for suite in CryptoSuite::ALL {
            let a = CryptoAttribute::generate(7, suite, &mut rng);
            assert_eq!(a.keys[0].key_salt.len(), suite.key_len() + suite.salt_len());
            assert_eq!(CryptoAttribute::parse(&a.to_string()).unwrap(), a);
        }
        // AEAD_AES_128_GCM keys are 28 octets: 40 base64 characters are 30.
        let v = "1 AEAD_AES_128_GCM inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR";
        assert_eq!(
            CryptoAttribute::parse(v),
            Err(CryptoAttributeError::KeyLength {
                expected: 28,
                got: 30
            })
        );
    }

    #[test]
    fn errors() {
        use CryptoAttributeError::*;
        let key = "inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR";
        let p = |s: &str| CryptoAttribute::parse(s);
        assert_eq!(p("1 AES_CM_128_HMAC_SHA1_80"), Err(MissingField));
        assert_eq!(p(&format!("x AES_CM_128_HMAC_SHA1_80 {key}")), Err(BadTag));
        assert_eq!(
            p(&format!("1234567890 AES_CM_128_HMAC_SHA1_80 {key}")),
            Err(BadTag)
        );
        assert_eq!(
            p(&format!("1 F8_128_HMAC_SHA1_80 {key}")),
            Err(UnknownSuite("F8_128_HMAC_SHA1_80".into()))
        );
        assert_eq!(
            p("1 AES_CM_128_HMAC_SHA1_80 uri:x"),
            Err(UnsupportedKeyMethod)
        );
        assert_eq!(p("1 AES_CM_128_HMAC_SHA1_80 inline:!!!"), Err(BadBase64));
        assert_eq!(
            p(&format!("1 AES_CM_128_HMAC_SHA1_80 {key}|2^x")),
            Err(BadLifetime)
        );
        assert_eq!(
            p(&format!("1 AES_CM_128_HMAC_SHA1_80 {key}|2^64")),
            Err(BadLifetime)
        );
        assert_eq!(
            p(&format!("1 AES_CM_128_HMAC_SHA1_80 {key}|1:0")),
            Err(BadMki)
        );
        assert_eq!(
            p(&format!("1 AES_CM_128_HMAC_SHA1_80 {key}|1:4|2:4")),
            Err(BadMki)
        );
        assert_eq!(
            p(&format!("1 AES_CM_128_HMAC_SHA1_80 {key}|1:4|2^20")),
            Err(BadLifetime)
        );
    }

    #[test]
    fn debug_hides_the_key() {
        let a = CryptoAttribute::generate(1, CryptoSuite::AesCm128HmacSha1_80, &mut Rng::seeded(1));
        let b64 = STANDARD.encode(&a.keys[0].key_salt);
        assert!(!format!("{a:?}").contains(&b64));
        assert!(format!("{a:?}").contains("<30 octets>"));
    }

    fn arb_attr() -> impl Strategy<Value = CryptoAttribute> {
        (
            1u32..=999_999_999,
            0usize..6,
            any::<u64>(),
            proptest::option::of(prop_oneof![
                (0u8..=63).prop_map(Lifetime::PowerOfTwo),
                any::<u64>().prop_map(Lifetime::Packets)
            ]),
            proptest::option::of(
                (any::<u64>(), 1u8..=128).prop_map(|(value, length)| Mki { value, length }),
            ),
            proptest::collection::vec("[A-Z_]{1,8}(=[0-9]{1,4})?", 0..3),
        )
            .prop_map(|(tag, s, seed, lifetime, mki, session_params)| {
                let suite = CryptoSuite::ALL[s];
                let mut a = CryptoAttribute::generate(tag, suite, &mut Rng::seeded(seed));
                a.keys[0].lifetime = lifetime;
                a.keys[0].mki = mki;
                a.session_params = session_params;
                a
            })
    }

    proptest! {
        #[test]
        fn print_then_parse_is_identity(a in arb_attr()) {
            prop_assert_eq!(CryptoAttribute::parse(&a.to_string()).unwrap(), a);
        }

        #[test]
        fn arbitrary_text_never_panics(s in "\\PC{0,120}") {
            let _ = CryptoAttribute::parse(&s);
        }
    }
}
