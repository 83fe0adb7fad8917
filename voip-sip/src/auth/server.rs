//! The server side: [`DigestAuthenticator`], a sans-IO digest verifier for
//! registrars, UASs and proxies.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use sha2::Sha256;
use voip_core::{ConfigError, Rng};

use super::bounded::BoundedMap;
use super::{Algorithm, CredentialStore, DigestInput, hex, response_hex};
use crate::header::{
    AuthParams, Authorization, HeaderError, ProxyAuthenticate, ProxyAuthorization, WwwAuthenticate,
};
use crate::{Request, Response, StatusCode};

type HmacSha256 = Hmac<Sha256>;

/// Timestamp (8) + random (8) + truncated MAC (16).
const NONCE_LEN: usize = 32;
const MAC_LEN: usize = 16;

/// Settings of a [`DigestAuthenticator`]: `Default` + setters, checked by
/// [`build`](Self::build).
#[derive(Clone)]
pub struct AuthConfig {
    realm: String,
    secret: Option<Vec<u8>>,
    nonce_lifetime: Duration,
    algorithms: Vec<Algorithm>,
    max_failures: u32,
    failure_window: Duration,
    ban_duration: Duration,
    proxy: bool,
    max_tracked_sources: usize,
    max_tracked_nonces: usize,
}

impl fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthConfig")
            .field("realm", &self.realm)
            .field("secret", &self.secret.as_ref().map(|_| ".."))
            .field("nonce_lifetime", &self.nonce_lifetime)
            .field("algorithms", &self.algorithms)
            .field("max_failures", &self.max_failures)
            .field("failure_window", &self.failure_window)
            .field("ban_duration", &self.ban_duration)
            .field("proxy", &self.proxy)
            .field("max_tracked_sources", &self.max_tracked_sources)
            .field("max_tracked_nonces", &self.max_tracked_nonces)
            .finish()
    }
}

impl Default for AuthConfig {
    /// No realm (must be set), a random secret, 300 s nonces, SHA-256 then
    /// MD5, 5 failures in 60 s ban a source for 600 s, 401/WWW-Authenticate,
    /// 65,536 tracked sources and nonces.
    fn default() -> Self {
        Self {
            realm: String::new(),
            secret: None,
            nonce_lifetime: Duration::from_secs(300),
            algorithms: vec![Algorithm::Sha256, Algorithm::Md5],
            max_failures: 5,
            failure_window: Duration::from_secs(60),
            ban_duration: Duration::from_secs(600),
            proxy: false,
            max_tracked_sources: 65_536,
            max_tracked_nonces: 65_536,
        }
    }
}

impl AuthConfig {
    /// The protection realm (required; usually the domain).
    pub fn realm(mut self, realm: impl Into<String>) -> Self {
        self.realm = realm.into();
        self
    }

    /// The key nonces are signed with (at least 16 bytes). Without one,
    /// [`DigestAuthenticator::new`] draws 32 random bytes, so nonces do not
    /// survive a restart; share a secret between instances behind a load
    /// balancer.
    pub fn secret(mut self, secret: impl Into<Vec<u8>>) -> Self {
        self.secret = Some(secret.into());
        self
    }

    /// How long a nonce is accepted; older authentic nonces get `stale=true`.
    pub fn nonce_lifetime(mut self, lifetime: Duration) -> Self {
        self.nonce_lifetime = lifetime;
        self
    }

    /// The algorithms offered, one challenge each, in this order.
    pub fn algorithms(mut self, algorithms: &[Algorithm]) -> Self {
        self.algorithms = algorithms.to_vec();
        self
    }

    /// Failures within the window that ban a source.
    pub fn max_failures(mut self, n: u32) -> Self {
        self.max_failures = n;
        self
    }

    /// The window failures are counted in.
    pub fn failure_window(mut self, window: Duration) -> Self {
        self.failure_window = window;
        self
    }

    /// How long a banned source stays banned.
    pub fn ban_duration(mut self, duration: Duration) -> Self {
        self.ban_duration = duration;
        self
    }

    /// `true` for a proxy (407, `Proxy-Authenticate`, `Proxy-Authorization`),
    /// `false` for a registrar or UAS (401, `WWW-Authenticate`,
    /// `Authorization`).
    pub fn proxy(mut self, proxy: bool) -> Self {
        self.proxy = proxy;
        self
    }

    /// Cap on source addresses tracked for failures and bans (the oldest is
    /// evicted beyond it).
    pub fn max_tracked_sources(mut self, n: usize) -> Self {
        self.max_tracked_sources = n;
        self
    }

    /// Cap on nonces tracked for nonce-count replay (the oldest is evicted
    /// beyond it).
    pub fn max_tracked_nonces(mut self, n: usize) -> Self {
        self.max_tracked_nonces = n;
        self
    }

    /// Checks the values.
    pub fn build(mut self) -> Result<Self, ConfigError> {
        if self.realm.is_empty() {
            return Err(ConfigError::new("realm", "must be set"));
        }
        if self
            .realm
            .bytes()
            .any(|b| b == b'"' || b == b'\\' || b.is_ascii_control())
        {
            return Err(ConfigError::new(
                "realm",
                "must not contain quotes, backslashes or control characters",
            ));
        }
        if self.secret.as_ref().is_some_and(|s| s.len() < 16) {
            return Err(ConfigError::new("secret", "must be at least 16 bytes"));
        }
        if self.nonce_lifetime.as_secs() == 0 {
            return Err(ConfigError::new("nonce_lifetime", "must be at least 1 s"));
        }
        let mut algs = Vec::with_capacity(self.algorithms.len());
        for a in &self.algorithms {
            if !algs.contains(a) {
                algs.push(*a);
            }
        }
        if algs.is_empty() {
            return Err(ConfigError::new("algorithms", "must offer at least one"));
        }
        self.algorithms = algs;
        if self.max_failures == 0 {
            return Err(ConfigError::new("max_failures", "must be at least 1"));
        }
        if self.failure_window.is_zero() {
            return Err(ConfigError::new(
                "failure_window",
                "must be greater than zero",
            ));
        }
        if self.max_tracked_sources == 0 || self.max_tracked_nonces == 0 {
            return Err(ConfigError::new(
                "max_tracked_sources",
                "tracking caps must be at least 1",
            ));
        }
        Ok(self)
    }
}

/// What [`DigestAuthenticator::check`] decided.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthOutcome {
    /// The credentials are valid: go on with the request.
    Authenticated {
        /// The `username` from the credentials.
        username: String,
    },
    /// Send this 401/407 with fresh challenges (add a To tag first). Also
    /// the answer to a wrong password or an unknown user, which look the
    /// same.
    Challenge(Response),
    /// Send this final response: 403 for the failure that banned the
    /// source, 400 for malformed credentials.
    Forbidden(Response),
    /// The source is banned: drop the request silently (no response, no
    /// lookup, no hashing), so a banned guesser learns nothing and costs
    /// nothing.
    Banned,
}

/// Counters of a [`DigestAuthenticator`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuthStats {
    /// Challenges sent (401/407).
    pub challenges: u64,
    /// Requests authenticated.
    pub successes: u64,
    /// Failed attempts (wrong response digest or unknown user).
    pub failures: u64,
    /// Sources currently banned (expired bans count until swept).
    pub bans_active: u64,
    /// Requests dropped because their source was banned.
    pub banned_requests: u64,
}

#[derive(Debug, Clone, Copy)]
struct Source {
    window_start: SystemTime,
    failures: u32,
    banned_until: Option<SystemTime>,
}

#[derive(Debug, Clone, Copy)]
struct NonceUse {
    issued: u64,
    last_nc: u32,
}

/// A malformed credentials header: answered 400.
struct Malformed;

/// Verifies SIP digest credentials (sans-IO: time is an argument, the RNG
/// is held, users come from a [`CredentialStore`]).
///
/// Nonces are stateless: `hex(timestamp || random || HMAC-SHA256(secret,
/// timestamp || random || realm)[..16])`. Only the nonce-count replay map
/// and the per-source failure map are kept, both bounded.
pub struct DigestAuthenticator {
    config: Arc<AuthConfig>,
    secret: Vec<u8>,
    rng: Rng,
    nonces: BoundedMap<[u8; NONCE_LEN], NonceUse>,
    sources: BoundedMap<IpAddr, Source>,
    stats: AuthStats,
    next_sweep: Option<SystemTime>,
}

impl fmt::Debug for DigestAuthenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DigestAuthenticator")
            .field("config", &self.config)
            .field("tracked_nonces", &self.nonces.len())
            .field("tracked_sources", &self.sources.len())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Constant-time equality of two equal-length byte strings.
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

fn unhex(s: &[u8], out: &mut [u8]) -> bool {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    if s.len() != out.len() * 2 {
        return false;
    }
    for (o, pair) in out.iter_mut().zip(s.chunks_exact(2)) {
        match (nibble(pair[0]), nibble(pair[1])) {
            (Some(h), Some(l)) => *o = (h << 4) | l,
            _ => return false,
        }
    }
    true
}

impl DigestAuthenticator {
    /// A new authenticator; draws the nonce secret from `rng` unless the
    /// config has one.
    pub fn new(config: impl Into<Arc<AuthConfig>>, mut rng: Rng) -> Self {
        let config = config.into();
        let secret = match &config.secret {
            Some(s) => s.clone(),
            None => {
                let mut s = vec![0; 32];
                rng.fill(&mut s);
                s
            }
        };
        Self {
            nonces: BoundedMap::new(config.max_tracked_nonces),
            sources: BoundedMap::new(config.max_tracked_sources),
            config,
            secret,
            rng,
            stats: AuthStats::default(),
            next_sweep: None,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &AuthConfig {
        &self.config
    }

    /// The counters.
    pub fn stats(&self) -> AuthStats {
        let mut s = self.stats;
        s.bans_active = self
            .sources
            .values()
            .filter(|src| src.banned_until.is_some())
            .count() as u64;
        s
    }

    /// Whether `source` is banned at `now`.
    pub fn is_banned(&self, now: SystemTime, source: IpAddr) -> bool {
        self.sources
            .get(&source)
            .and_then(|s| s.banned_until)
            .is_some_and(|until| now < until)
    }

    /// Forgets expired bans, closed failure windows and expired nonces.
    /// [`check`](Self::check) calls it once per failure window; call it
    /// yourself to free memory sooner.
    pub fn sweep(&mut self, now: SystemTime) {
        let window = self.config.failure_window;
        self.sources.retain(|_, s| match s.banned_until {
            Some(until) => now < until,
            None => s
                .window_start
                .checked_add(window)
                .is_some_and(|end| now < end),
        });
        let now_s = unix_secs(now);
        let life = self.config.nonce_lifetime.as_secs();
        self.nonces
            .retain(|_, n| n.issued.saturating_add(life) >= now_s);
        self.next_sweep = now.checked_add(window);
    }

    /// A fresh 401/407 for `request` (to challenge before any credentials
    /// arrive, e.g. by policy); counted as a challenge.
    pub fn challenge(&mut self, now: SystemTime, request: &Request) -> Response {
        self.challenge_response(now, request, false)
    }

    /// Checks the credentials in `request` (sent from `source_ip`) against
    /// `store`.
    ///
    /// - no credentials for this realm, an algorithm not offered, a nonce
    ///   this server did not mint, or a replayed nonce count: a fresh
    ///   challenge (not a failure);
    /// - a wrong response digest or an unknown user: a fresh challenge,
    ///   counted as a failure for the source; the failure that reaches
    ///   `max_failures` within the window gets 403 and bans the source;
    /// - right credentials on an expired nonce: a challenge with
    ///   `stale=true`;
    /// - malformed credentials (missing fields, bad `nc`, `uri` not the
    ///   Request-URI, no `qop=auth`): 400;
    /// - a banned source: [`AuthOutcome::Banned`], before any other work.
    pub fn check(
        &mut self,
        now: SystemTime,
        source_ip: IpAddr,
        request: &Request,
        store: &dyn CredentialStore,
    ) -> AuthOutcome {
        if self.next_sweep.is_none_or(|t| now >= t) {
            self.sweep(now);
        }
        if let Some(src) = self.sources.get_mut(&source_ip) {
            if let Some(until) = src.banned_until {
                if now < until {
                    self.stats.banned_requests += 1;
                    return AuthOutcome::Banned;
                }
                *src = Source {
                    window_start: now,
                    failures: 0,
                    banned_until: None,
                };
            }
        }

        let params = match self.credentials(request) {
            Ok(Some(p)) => p,
            Ok(None) => {
                return AuthOutcome::Challenge(self.challenge_response(now, request, false));
            }
            Err(Malformed) => return self.bad_request(request),
        };
        self.verify(now, source_ip, request, store, &params)
    }

    fn verify(
        &mut self,
        now: SystemTime,
        source_ip: IpAddr,
        request: &Request,
        store: &dyn CredentialStore,
        params: &AuthParams,
    ) -> AuthOutcome {
        let realm = self.config.realm.clone();
        let field = |name: &str| params.param(name).filter(|v| !v.is_empty());
        let (Some(username), Some(nonce), Some(uri), Some(response)) = (
            params
                .param("username")
                .and_then(|u| std::str::from_utf8(u).ok()),
            field("nonce"),
            field("uri"),
            field("response"),
        ) else {
            return self.bad_request(request);
        };
        let alg = match params.param("algorithm") {
            None => Algorithm::Md5,
            Some(a) => match Algorithm::from_token(a) {
                Some(a) => a,
                None => {
                    return AuthOutcome::Challenge(self.challenge_response(now, request, false));
                }
            },
        };
        if !self.config.algorithms.contains(&alg) {
            return AuthOutcome::Challenge(self.challenge_response(now, request, false));
        }
        // RFC 7616 requires qop; we always offer qop=auth.
        let qop_ok = params
            .param("qop")
            .is_some_and(|q| q.eq_ignore_ascii_case(b"auth"));
        let nc_raw = params.param("nc").unwrap_or_default();
        let mut nc_bytes = [0u8; 4];
        let (Some(cnonce), true, true) = (field("cnonce"), qop_ok, unhex(nc_raw, &mut nc_bytes))
        else {
            return self.bad_request(request);
        };
        let nc = u32::from_be_bytes(nc_bytes);
        if nc == 0 || response.len() != alg.hex_len() {
            return self.bad_request(request);
        }
        // RFC 2617 §3.2.2.5: the digest must cover this Request-URI.
        if uri != request.uri.to_string().as_bytes() {
            return self.bad_request(request);
        }
        let Some((raw_nonce, issued)) = self.open_nonce(nonce) else {
            // not ours (forged, or minted under another secret)
            return AuthOutcome::Challenge(self.challenge_response(now, request, false));
        };

        // Unknown users are hashed against a per-server dummy HA1 so that
        // they cost and look exactly like a wrong password.
        let found = store
            .lookup(&realm, username)
            .and_then(|c| c.ha1(alg, username, &realm));
        let known = found.is_some();
        let ha1 = found.unwrap_or_else(|| {
            alg.hash_hex(&[&self.secret, username.as_bytes(), realm.as_bytes()])
        });
        let expected = response_hex(
            alg,
            &ha1,
            &DigestInput {
                nonce,
                method: request.method.as_bytes(),
                uri,
                qop_auth: Some((nc_raw, cnonce)),
            },
        );
        let given = response.to_ascii_lowercase();
        if !(ct_eq(expected.as_bytes(), &given) & known) {
            return self.fail(now, source_ip, request);
        }

        let now_s = unix_secs(now);
        let life = self.config.nonce_lifetime.as_secs();
        let stale = now_s > issued.saturating_add(life) || issued > now_s.saturating_add(life);
        if stale {
            return AuthOutcome::Challenge(self.challenge_response(now, request, true));
        }
        match self.nonces.get_mut(&raw_nonce) {
            Some(u) if nc <= u.last_nc => {
                // replayed (or reordered) nonce count
                return AuthOutcome::Challenge(self.challenge_response(now, request, false));
            }
            Some(u) => u.last_nc = nc,
            None => self.nonces.insert(
                raw_nonce,
                NonceUse {
                    issued,
                    last_nc: nc,
                },
            ),
        }
        // A success does not clear the source's failures: otherwise one
        // valid account would let a guesser reset its count at will.
        self.stats.successes += 1;
        AuthOutcome::Authenticated {
            username: username.to_owned(),
        }
    }

    /// The credentials for our realm, if any.
    fn credentials(&self, request: &Request) -> Result<Option<AuthParams>, Malformed> {
        fn pick(
            values: impl Iterator<Item = Result<AuthParams, HeaderError>>,
            realm: &str,
        ) -> Result<Option<AuthParams>, Malformed> {
            for v in values {
                let v = v.map_err(|_| Malformed)?;
                if v.is_digest() && v.param("realm") == Some(realm.as_bytes()) {
                    return Ok(Some(v));
                }
            }
            Ok(None)
        }
        let realm = self.config.realm.as_str();
        if self.config.proxy {
            pick(
                request
                    .headers
                    .typed_all::<ProxyAuthorization>()
                    .map(|r| r.map(|h| h.0)),
                realm,
            )
        } else {
            pick(
                request
                    .headers
                    .typed_all::<Authorization>()
                    .map(|r| r.map(|h| h.0)),
                realm,
            )
        }
    }

    fn mac(&self, data: &[u8]) -> HmacSha256 {
        // HMAC accepts keys of any length; the fallback is unreachable.
        let mut mac = HmacSha256::new_from_slice(&self.secret)
            .unwrap_or_else(|_| HmacSha256::new(&Default::default()));
        mac.update(data);
        mac.update(self.config.realm.as_bytes());
        mac
    }

    fn mint_nonce(&mut self, now: SystemTime) -> String {
        let mut raw = [0u8; NONCE_LEN];
        raw[..8].copy_from_slice(&unix_secs(now).to_be_bytes());
        self.rng.fill(&mut raw[8..16]);
        let tag = self.mac(&raw[..16]).finalize().into_bytes();
        raw[16..].copy_from_slice(&tag[..MAC_LEN]);
        hex(&raw)
    }

    /// The raw nonce and its timestamp, if this server minted it.
    fn open_nonce(&self, nonce: &[u8]) -> Option<([u8; NONCE_LEN], u64)> {
        let mut raw = [0u8; NONCE_LEN];
        if !unhex(nonce, &mut raw) {
            return None;
        }
        self.mac(&raw[..16])
            .verify_truncated_left(&raw[16..])
            .ok()?;
        let mut ts = [0u8; 8];
        ts.copy_from_slice(&raw[..8]);
        Some((raw, u64::from_be_bytes(ts)))
    }

    fn challenge_response(&mut self, now: SystemTime, request: &Request, stale: bool) -> Response {
        self.stats.challenges += 1;
        let nonce = self.mint_nonce(now);
        let status = if self.config.proxy {
            StatusCode::PROXY_AUTHENTICATION_REQUIRED
        } else {
            StatusCode::UNAUTHORIZED
        };
        let mut response = Response::for_request(request, status);
        for alg in &self.config.algorithms {
            let mut p = AuthParams::digest();
            p.push_quoted("realm", self.config.realm.as_bytes());
            p.push_quoted("nonce", nonce.as_bytes());
            p.push_token("algorithm", alg.as_str().as_bytes());
            p.push_quoted("qop", b"auth");
            if stale {
                p.push_token("stale", b"true");
            }
            if self.config.proxy {
                response.headers.push_typed(&ProxyAuthenticate(p));
            } else {
                response.headers.push_typed(&WwwAuthenticate(p));
            }
        }
        response
    }

    fn bad_request(&self, request: &Request) -> AuthOutcome {
        AuthOutcome::Forbidden(Response::for_request(request, StatusCode::BAD_REQUEST))
    }

    fn fail(&mut self, now: SystemTime, source_ip: IpAddr, request: &Request) -> AuthOutcome {
        self.stats.failures += 1;
        let window = self.config.failure_window;
        let fresh = Source {
            window_start: now,
            failures: 0,
            banned_until: None,
        };
        let mut src = self.sources.get_mut(&source_ip).map_or(fresh, |s| *s);
        if src
            .window_start
            .checked_add(window)
            .is_none_or(|end| now >= end)
        {
            src = fresh;
        }
        src.failures += 1;
        let banned = src.failures >= self.config.max_failures;
        if banned {
            src.banned_until = now.checked_add(self.config.ban_duration);
        }
        self.sources.insert(source_ip, src);
        if banned {
            tracing::debug!(%source_ip, "digest auth: source banned");
            AuthOutcome::Forbidden(Response::for_request(request, StatusCode::FORBIDDEN))
        } else {
            AuthOutcome::Challenge(self.challenge_response(now, request, false))
        }
    }
}
