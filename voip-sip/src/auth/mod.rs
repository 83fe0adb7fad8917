//! SIP digest authentication (RFC 3261 §22, RFC 2617, RFC 7616, RFC 8760),
//! sans-IO.
//!
//! - [`DigestAuthenticator`] is the server side (registrar, UAS or proxy):
//!   it checks `Authorization`/`Proxy-Authorization` against a
//!   [`CredentialStore`], answers challenges with stateless, server-bound
//!   nonces, rejects replayed nonce counts and bans sources that keep
//!   failing.
//! - [`authorize`] and [`ClientAuthState`] are the client side: they answer
//!   a 401/407 challenge, preferring SHA-256 over MD5.
//!
//! Time comes in as a [`SystemTime`](std::time::SystemTime) argument and
//! randomness from a [`voip_core::Rng`]; nothing here reads a clock or
//! performs I/O. See `docs/auth.md` for what the nonce binds, `stale`,
//! bans and enumeration resistance.
//!
//! # Example
//!
//! ```
//! use std::net::{IpAddr, Ipv4Addr};
//! use std::time::SystemTime;
//! use bytes::Bytes;
//! use voip_core::Rng;
//! use voip_sip::auth::{
//!     AuthConfig, AuthOutcome, ClientAuthState, DigestAuthenticator, MemoryCredentials,
//! };
//! use voip_sip::{Message, ParseConfig, parse_message};
//!
//! let config = AuthConfig::default().realm("example.com").build().unwrap();
//! let mut server = DigestAuthenticator::new(config, Rng::seeded(1));
//! let store = MemoryCredentials::new().with_password("alice", "secret");
//!
//! let raw = Bytes::from_static(
//!     b"REGISTER sip:example.com SIP/2.0\r\n\
//!       Via: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bK776asdhds\r\n\
//!       To: <sip:alice@example.com>\r\n\
//!       From: <sip:alice@example.com>;tag=456248\r\n\
//!       Call-ID: 843817637684230@998sdasdh09\r\n\
//!       CSeq: 1826 REGISTER\r\n\
//!       Content-Length: 0\r\n\r\n",
//! );
//! let Ok(Message::Request(mut request)) = parse_message(raw, &ParseConfig::default()) else {
//!     panic!("valid request");
//! };
//! let now = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
//! let from = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10));
//!
//! // No credentials: a 401 with a SHA-256 and an MD5 challenge.
//! let AuthOutcome::Challenge(challenge) = server.check(now, from, &request, &store) else {
//!     panic!("expected a challenge");
//! };
//! assert_eq!(challenge.status.as_u16(), 401);
//!
//! // The client answers it (a new CSeq in real life) and the server accepts.
//! let mut client = ClientAuthState::new();
//! let mut rng = Rng::seeded(2);
//! client.authorize(&mut request, &challenge, "alice", "secret", &mut rng).unwrap();
//! match server.check(now, from, &request, &store) {
//!     AuthOutcome::Authenticated { username } => assert_eq!(username, "alice"),
//!     other => panic!("{other:?}"),
//! }
//! ```

mod bounded;
mod client;
mod server;

use std::collections::HashMap;
use std::fmt;

use md5::Md5;
use sha2::{Digest, Sha256};

pub use client::{AuthError, ClientAuthState, authorize};
pub use server::{AuthConfig, AuthOutcome, AuthStats, DigestAuthenticator};

/// A digest algorithm (RFC 7616 §3.3, RFC 8760).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// `MD5`, the RFC 2617 default (weak; kept for interoperability).
    Md5,
    /// `SHA-256` (RFC 7616, RFC 8760).
    Sha256,
}

impl Algorithm {
    /// The token used in the `algorithm` parameter.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Md5 => "MD5",
            Self::Sha256 => "SHA-256",
        }
    }

    /// Parses an `algorithm` value (case-insensitive); `-sess` variants and
    /// unknown algorithms give `None`.
    pub fn from_token(token: &[u8]) -> Option<Self> {
        if token.eq_ignore_ascii_case(b"MD5") {
            Some(Self::Md5)
        } else if token.eq_ignore_ascii_case(b"SHA-256") {
            Some(Self::Sha256)
        } else {
            None
        }
    }

    /// Length of a hex digest in this algorithm.
    pub fn hex_len(self) -> usize {
        match self {
            Self::Md5 => 32,
            Self::Sha256 => 64,
        }
    }

    /// Lowercase hex of H(parts joined with `:`).
    pub fn hash_hex(self, parts: &[&[u8]]) -> String {
        fn run<D: Digest>(parts: &[&[u8]]) -> String {
            let mut d = D::new();
            for (i, p) in parts.iter().enumerate() {
                if i > 0 {
                    d.update(b":");
                }
                d.update(p);
            }
            hex(&d.finalize())
        }
        match self {
            Self::Md5 => run::<Md5>(parts),
            Self::Sha256 => run::<Sha256>(parts),
        }
    }

    /// HA1 = H(username:realm:password).
    pub fn ha1(self, username: &str, realm: &str, password: &str) -> String {
        self.hash_hex(&[username.as_bytes(), realm.as_bytes(), password.as_bytes()])
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The inputs of a digest `response` besides HA1.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DigestInput<'a> {
    pub nonce: &'a [u8],
    pub method: &'a [u8],
    pub uri: &'a [u8],
    /// `(nc, cnonce)` when qop=auth, `None` for RFC 2069 style.
    pub qop_auth: Option<(&'a [u8], &'a [u8])>,
}

/// The digest `response` (RFC 2617 §3.2.2.1, RFC 7616 §3.4.1), lowercase hex.
pub(crate) fn response_hex(alg: Algorithm, ha1: &str, input: &DigestInput<'_>) -> String {
    let ha2 = alg.hash_hex(&[input.method, input.uri]);
    match input.qop_auth {
        Some((nc, cnonce)) => alg.hash_hex(&[
            ha1.as_bytes(),
            input.nonce,
            nc,
            cnonce,
            b"auth",
            ha2.as_bytes(),
        ]),
        None => alg.hash_hex(&[ha1.as_bytes(), input.nonce, ha2.as_bytes()]),
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    s
}

/// What a [`CredentialStore`] knows about a user.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Credential {
    /// The plaintext password (works with every algorithm).
    Password(String),
    /// Precomputed HA1 values, lowercase hex, per algorithm; an algorithm
    /// without one cannot authenticate this user.
    Ha1 {
        /// H(username:realm:password) with MD5.
        md5: Option<String>,
        /// H(username:realm:password) with SHA-256.
        sha256: Option<String>,
    },
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // never print secrets
        match self {
            Self::Password(_) => f.write_str("Password(..)"),
            Self::Ha1 { md5, sha256 } => f
                .debug_struct("Ha1")
                .field("md5", &md5.as_ref().map(|_| ".."))
                .field("sha256", &sha256.as_ref().map(|_| ".."))
                .finish(),
        }
    }
}

impl Credential {
    /// HA1 for `alg`, if this credential can produce it.
    pub fn ha1(&self, alg: Algorithm, username: &str, realm: &str) -> Option<String> {
        match (self, alg) {
            (Self::Password(p), _) => Some(alg.ha1(username, realm, p)),
            (Self::Ha1 { md5, .. }, Algorithm::Md5) => md5.as_ref().map(|h| h.to_ascii_lowercase()),
            (Self::Ha1 { sha256, .. }, Algorithm::Sha256) => {
                sha256.as_ref().map(|h| h.to_ascii_lowercase())
            }
        }
    }
}

/// Where the authenticator looks users up: a small synchronous policy
/// trait (keep it fast: it runs inside [`DigestAuthenticator::check`]).
///
/// Closures `Fn(&str, &str) -> Option<Credential>` implement it.
pub trait CredentialStore {
    /// The credential of `username` in `realm`, or `None` if unknown.
    fn lookup(&self, realm: &str, username: &str) -> Option<Credential>;
}

impl<F> CredentialStore for F
where
    F: Fn(&str, &str) -> Option<Credential>,
{
    fn lookup(&self, realm: &str, username: &str) -> Option<Credential> {
        self(realm, username)
    }
}

/// An in-memory [`CredentialStore`] keyed by username (the same credential
/// in every realm; HA1 values are realm-specific by construction).
#[derive(Debug, Clone, Default)]
pub struct MemoryCredentials {
    users: HashMap<String, Credential>,
}

impl MemoryCredentials {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces `username`.
    pub fn insert(&mut self, username: impl Into<String>, credential: Credential) {
        self.users.insert(username.into(), credential);
    }

    /// Adds `username` with a plaintext password.
    pub fn with_password(
        mut self,
        username: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        self.insert(username, Credential::Password(password.into()));
        self
    }

    /// Removes `username`.
    pub fn remove(&mut self, username: &str) -> Option<Credential> {
        self.users.remove(username)
    }

    /// Number of users.
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// Whether there are no users.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }
}

impl CredentialStore for MemoryCredentials {
    fn lookup(&self, _realm: &str, username: &str) -> Option<Credential> {
        self.users.get(username).cloned()
    }
}

#[cfg(test)]
mod tests;
