//! The client side: answering a 401/407 digest challenge.

use std::collections::HashMap;

use voip_core::Rng;

use super::{Algorithm, DigestInput, response_hex};
use crate::header::{
    AuthParams, Authorization, ProxyAuthenticate, ProxyAuthorization, TypedHeader, WwwAuthenticate,
};
use crate::{Request, Response, StatusCode};

/// Realms remembered by a [`ClientAuthState`] before it starts over.
const MAX_REALMS: usize = 32;

/// Why a challenge could not be answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The response is not a 401 or a 407.
    #[error("response is not a 401 or 407 challenge")]
    NotAChallenge,
    /// No challenge uses Digest with MD5 or SHA-256 and qop auth (or no qop).
    #[error("no supported digest challenge")]
    NoSupportedChallenge,
    /// The username cannot be sent in a quoted string.
    #[error("username contains quotes, backslashes or control characters")]
    InvalidUsername,
}

/// A challenge we can answer.
struct Chosen {
    alg: Algorithm,
    /// Whether the challenge carried an `algorithm` parameter (echoed).
    explicit_alg: bool,
    realm: Vec<u8>,
    nonce: Vec<u8>,
    opaque: Option<Vec<u8>>,
    qop_auth: bool,
}

fn choose<'a>(challenges: impl Iterator<Item = &'a AuthParams>) -> Option<Chosen> {
    let mut best: Option<Chosen> = None;
    for c in challenges {
        if !c.is_digest() {
            continue;
        }
        let (alg, explicit_alg) = match c.param("algorithm") {
            None => (Algorithm::Md5, false),
            Some(a) => match Algorithm::from_token(a) {
                Some(a) => (a, true),
                None => continue,
            },
        };
        let (Some(realm), Some(nonce)) = (c.param("realm"), c.param("nonce")) else {
            continue;
        };
        let qop_auth = match c.param("qop") {
            None => false,
            Some(q) => {
                if q.split(|b| *b == b',')
                    .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"auth"))
                {
                    true
                } else {
                    // only auth-int or unknown: not supported
                    continue;
                }
            }
        };
        let better = match &best {
            None => true,
            Some(b) => alg == Algorithm::Sha256 && b.alg == Algorithm::Md5,
        };
        if better {
            best = Some(Chosen {
                alg,
                explicit_alg,
                realm: realm.to_vec(),
                nonce: nonce.to_vec(),
                opaque: c.param("opaque").map(<[u8]>::to_vec),
                qop_auth,
            });
        }
    }
    best
}

/// Client digest state: the nonce and nonce count last used per realm, so
/// that a reused nonce gets an increasing `nc` (RFC 2617 §3.2.2).
#[derive(Debug, Clone, Default)]
pub struct ClientAuthState {
    realms: HashMap<Vec<u8>, (Vec<u8>, u32)>,
}

impl ClientAuthState {
    /// Empty state.
    pub fn new() -> Self {
        Self::default()
    }

    /// Answers the challenge in `challenge_response` (a 401 or 407 to
    /// `request`) by adding `Authorization` or `Proxy-Authorization` to
    /// `request`, replacing earlier credentials for the same realm.
    ///
    /// Picks SHA-256 over MD5, answers with qop=auth when offered (RFC 2069
    /// style otherwise), a 16-character cnonce from `rng` and the next `nc`
    /// for the nonce. The caller still increments the CSeq and gives the
    /// request a new Via branch.
    pub fn authorize(
        &mut self,
        request: &mut Request,
        challenge_response: &Response,
        username: &str,
        password: &str,
        rng: &mut Rng,
    ) -> Result<(), AuthError> {
        if username
            .bytes()
            .any(|b| b == b'"' || b == b'\\' || b.is_ascii_control())
        {
            return Err(AuthError::InvalidUsername);
        }
        let proxy = match challenge_response.status {
            StatusCode::UNAUTHORIZED => false,
            StatusCode::PROXY_AUTHENTICATION_REQUIRED => true,
            _ => return Err(AuthError::NotAChallenge),
        };
        let headers = &challenge_response.headers;
        let chosen = if proxy {
            let all: Vec<ProxyAuthenticate> =
                headers.typed_all::<ProxyAuthenticate>().flatten().collect();
            choose(all.iter().map(|h| &h.0))
        } else {
            let all: Vec<WwwAuthenticate> =
                headers.typed_all::<WwwAuthenticate>().flatten().collect();
            choose(all.iter().map(|h| &h.0))
        }
        .ok_or(AuthError::NoSupportedChallenge)?;

        let nc = match self.realms.get(&chosen.realm) {
            Some((nonce, nc)) if *nonce == chosen.nonce => nc.saturating_add(1),
            _ => 1,
        };
        if self.realms.len() >= MAX_REALMS && !self.realms.contains_key(&chosen.realm) {
            self.realms.clear();
        }
        self.realms
            .insert(chosen.realm.clone(), (chosen.nonce.clone(), nc));

        let realm = String::from_utf8_lossy(&chosen.realm);
        let ha1 = chosen.alg.ha1(username, &realm, password);
        let uri = request.uri.to_string();
        let nc_hex = format!("{nc:08x}");
        let cnonce = rng.token(16);
        let response = response_hex(
            chosen.alg,
            &ha1,
            &DigestInput {
                nonce: &chosen.nonce,
                method: request.method.as_bytes(),
                uri: uri.as_bytes(),
                qop_auth: chosen
                    .qop_auth
                    .then_some((nc_hex.as_bytes(), cnonce.as_bytes())),
            },
        );

        let mut p = AuthParams::digest();
        p.push_quoted("username", username.as_bytes());
        p.push_quoted("realm", &chosen.realm);
        p.push_quoted("nonce", &chosen.nonce);
        p.push_quoted("uri", uri.as_bytes());
        p.push_quoted("response", response.as_bytes());
        if chosen.explicit_alg || chosen.alg != Algorithm::Md5 {
            p.push_token("algorithm", chosen.alg.as_str().as_bytes());
        }
        if chosen.qop_auth {
            p.push_token("qop", b"auth");
            p.push_token("nc", nc_hex.as_bytes());
            p.push_quoted("cnonce", cnonce.as_bytes());
        }
        if let Some(opaque) = &chosen.opaque {
            p.push_quoted("opaque", opaque);
        }

        let same_realm = |a: &AuthParams| a.param("realm") == Some(&chosen.realm[..]);
        if proxy {
            let keep: Vec<ProxyAuthorization> = request
                .headers
                .typed_all::<ProxyAuthorization>()
                .flatten()
                .filter(|h| !same_realm(h))
                .collect();
            request.headers.remove(&ProxyAuthorization::NAME);
            for h in &keep {
                request.headers.push_typed(h);
            }
            request.headers.push_typed(&ProxyAuthorization(p));
        } else {
            let keep: Vec<Authorization> = request
                .headers
                .typed_all::<Authorization>()
                .flatten()
                .filter(|h| !same_realm(h))
                .collect();
            request.headers.remove(&Authorization::NAME);
            for h in &keep {
                request.headers.push_typed(h);
            }
            request.headers.push_typed(&Authorization(p));
        }
        Ok(())
    }
}

/// Answers a challenge once, without remembering nonce counts (`nc` is
/// always 00000001); see [`ClientAuthState::authorize`].
pub fn authorize(
    request: &mut Request,
    challenge_response: &Response,
    username: &str,
    password: &str,
    rng: &mut Rng,
) -> Result<(), AuthError> {
    ClientAuthState::new().authorize(request, challenge_response, username, password, rng)
}
