//! SIP trunks: outbound registration to a carrier (RFC 3261 §10.2), sans-IO.
//!
//! A [`Registration`] keeps one address-of-record registered at one
//! registrar. It builds the REGISTER requests; the caller sends each one
//! from [`Registration::poll_request`] through its
//! [`TransactionLayer`](crate::transaction::TransactionLayer) and hands the
//! final responses (and transaction timeouts) back.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use voip_core::Rng;
//! use voip_sip::trunk::{Registration, RegistrationConfig, RegistrationState};
//! use voip_sip::{Response, StatusCode};
//!
//! let config = RegistrationConfig::new(
//!     "sip:carrier.example.com".parse().unwrap(),
//!     "sip:5551000@carrier.example.com".parse().unwrap(),
//!     "sip:5551000@192.0.2.1:5060".parse().unwrap(),
//!     "SIP/2.0/UDP 192.0.2.1:5060;rport",
//! )
//! .credentials("5551000", "secret");
//! let mut reg = Registration::new(config, Rng::seeded(1));
//! let now = Instant::now();
//! reg.start(now);
//! let register = reg.poll_request().unwrap(); // send it through a transaction
//! let mut ok = Response::for_request(&register, StatusCode::OK).with_to_tag("t");
//! ok.headers.push(voip_sip::Known::Expires, "120");
//! reg.handle_response(now, &ok);
//! assert_eq!(
//!     reg.state(),
//!     RegistrationState::Registered { until: now + Duration::from_secs(120) }
//! );
//! assert_eq!(reg.poll_timeout(), Some(now + Duration::from_secs(60))); // refresh
//! ```

use std::time::{Duration, Instant};

use voip_core::Rng;

use crate::auth::ClientAuthState;
use crate::header::{CSeq, Contact, Expires, MinExpires};
use crate::message::{Known, Method, Request, Response, StatusCode};
use crate::uri::Uri;

/// What one [`Registration`] registers, where, and how it retries.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RegistrationConfig {
    /// The Request-URI of the REGISTER (`sip:carrier.example.com`).
    pub registrar: Uri,
    /// The address-of-record, in From and To.
    pub aor: Uri,
    /// Our Contact.
    pub contact: Uri,
    /// The Via value without a branch (`SIP/2.0/UDP 192.0.2.1:5060;rport`);
    /// the transaction layer adds the branch.
    pub via: String,
    /// Digest username.
    pub username: String,
    /// Digest password.
    pub password: String,
    /// Requested expiry in seconds [default: 3600].
    pub expires: u32,
    /// First retry delay after a failure [default: 30 s].
    pub min_retry: Duration,
    /// Longest retry delay; the delay doubles up to this [default: 600 s].
    pub max_retry: Duration,
}

impl RegistrationConfig {
    /// A configuration with the defaults and no credentials.
    pub fn new(registrar: Uri, aor: Uri, contact: Uri, via: impl Into<String>) -> Self {
        Self {
            registrar,
            aor,
            contact,
            via: via.into(),
            username: String::new(),
            password: String::new(),
            expires: 3600,
            min_retry: Duration::from_secs(30),
            max_retry: Duration::from_secs(600),
        }
    }

    /// Sets the digest credentials.
    #[must_use]
    pub fn credentials(mut self, username: impl Into<String>, password: impl Into<String>) -> Self {
        self.username = username.into();
        self.password = password.into();
        self
    }

    /// Sets the requested expiry in seconds.
    #[must_use]
    pub fn expires(mut self, seconds: u32) -> Self {
        self.expires = seconds;
        self
    }

    /// Sets the retry backoff bounds.
    #[must_use]
    pub fn retry(mut self, min: Duration, max: Duration) -> Self {
        self.min_retry = min;
        self.max_retry = max.max(min);
        self
    }
}

/// Where a registration stands.
///
/// ```text
///  Unregistered ──start──► Registering ──2xx──► Registered{until}
///                              │  ▲  ▲                │ refresh at half
///                  401/407 ────┘  │  └────────────────┘ the granted expiry
///                  (once)         │
///     other final, timeout,       │ retry_at
///     second challenge ──► Failed{retry_at} (30 s, 60 s, … up to 600 s)
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RegistrationState {
    /// Not started.
    Unregistered,
    /// A REGISTER is out and nothing was granted yet.
    Registering,
    /// The registrar granted a binding that lasts until `until` (a refresh
    /// may be in flight).
    Registered {
        /// When the binding expires unless refreshed.
        until: Instant,
    },
    /// The last attempt failed; the next one starts at `retry_at`.
    Failed {
        /// The next attempt.
        retry_at: Instant,
    },
}

/// One outbound registration (a trunk's REGISTER client).
#[derive(Debug)]
pub struct Registration {
    config: RegistrationConfig,
    rng: Rng,
    auth: ClientAuthState,
    call_id: String,
    from_tag: String,
    cseq: u32,
    expires: u32,
    state: RegistrationState,
    /// The request waiting for [`Registration::poll_request`].
    pending: Option<Request>,
    /// The request sent last, while its final response is outstanding.
    outstanding: Option<Request>,
    /// Whether the outstanding attempt already answered a challenge.
    challenged: bool,
    /// The next refresh or retry.
    next_attempt: Option<Instant>,
    backoff: Duration,
}

impl Registration {
    /// A registration for `config`; Call-ID and From tag come from `rng`.
    pub fn new(config: RegistrationConfig, mut rng: Rng) -> Self {
        let call_id = rng.token(20);
        let from_tag = rng.token(10);
        Self {
            expires: config.expires,
            backoff: config.min_retry,
            config,
            rng,
            auth: ClientAuthState::new(),
            call_id,
            from_tag,
            cseq: 0,
            state: RegistrationState::Unregistered,
            pending: None,
            outstanding: None,
            challenged: false,
            next_attempt: None,
        }
    }

    /// The current state.
    pub fn state(&self) -> RegistrationState {
        self.state
    }

    /// The Call-ID used by every REGISTER of this registration.
    pub fn call_id(&self) -> &str {
        &self.call_id
    }

    /// Sends the first REGISTER.
    pub fn start(&mut self, now: Instant) {
        let _ = now;
        self.state = RegistrationState::Registering;
        self.attempt();
    }

    /// The next REGISTER to send through a client transaction.
    #[must_use]
    pub fn poll_request(&mut self) -> Option<Request> {
        let request = self.pending.take()?;
        self.outstanding = Some(request.clone());
        Some(request)
    }

    /// The next refresh or retry.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.next_attempt
    }

    /// Starts a due refresh or retry.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let RegistrationState::Registered { until } = self.state {
            if until <= now {
                self.state = RegistrationState::Registering;
            }
        }
        if self.next_attempt.is_some_and(|t| t <= now) {
            self.next_attempt = None;
            if matches!(self.state, RegistrationState::Failed { .. }) {
                self.state = RegistrationState::Registering;
            }
            self.attempt();
        }
    }

    /// The client transaction of the outstanding REGISTER timed out or hit
    /// a transport error.
    pub fn handle_transaction_timeout(&mut self, now: Instant) {
        if self.outstanding.take().is_some() {
            self.fail(now);
        }
    }

    /// A response to the outstanding REGISTER. Provisional responses and
    /// responses to other requests are ignored.
    pub fn handle_response(&mut self, now: Instant, response: &Response) {
        if self.outstanding.is_none() {
            return;
        }
        let matches = matches!(response.cseq(), Some(Ok(c)) if c.seq == self.cseq && c.method == Method::Register)
            && matches!(response.call_id(), Some(Ok(c)) if c.0 == self.call_id.as_bytes());
        if !matches || response.status.is_provisional() {
            return;
        }
        let Some(mut sent) = self.outstanding.take() else {
            return;
        };
        match response.status {
            status if status.is_success() => self.registered(now, response),
            StatusCode::UNAUTHORIZED | StatusCode::PROXY_AUTHENTICATION_REQUIRED
                if !self.challenged =>
            {
                let (user, pass) = (self.config.username.clone(), self.config.password.clone());
                match self
                    .auth
                    .authorize(&mut sent, response, &user, &pass, &mut self.rng)
                {
                    Ok(()) => {
                        self.challenged = true;
                        self.cseq += 1;
                        sent.headers.set_typed(&CSeq {
                            seq: self.cseq,
                            method: Method::Register,
                        });
                        // a new transaction: the layer adds a new branch
                        sent.headers.set(Known::Via.into(), self.config.via.clone());
                        self.pending = Some(sent);
                    }
                    Err(_) => self.fail(now),
                }
            }
            StatusCode::INTERVAL_TOO_BRIEF => match response.headers.typed::<MinExpires>() {
                Some(Ok(MinExpires(min))) if min > self.expires => {
                    self.expires = min;
                    self.attempt();
                }
                _ => self.fail(now),
            },
            _ => self.fail(now),
        }
    }

    fn registered(&mut self, now: Instant, response: &Response) {
        let contacts: Vec<Contact> = response.headers.typed_all::<Contact>().flatten().collect();
        let ours = contacts.iter().find(|c| {
            c.address()
                .is_some_and(|a| a.uri().to_string() == self.config.contact.to_string())
        });
        let granted = ours
            .and_then(Contact::expires)
            .or_else(|| contacts.iter().find_map(Contact::expires))
            .or_else(|| match response.headers.typed::<Expires>() {
                Some(Ok(Expires(e))) => Some(e),
                _ => None,
            })
            .unwrap_or(self.expires);
        if granted == 0 {
            return self.fail(now);
        }
        let lifetime = Duration::from_secs(u64::from(granted));
        self.state = RegistrationState::Registered {
            until: now + lifetime,
        };
        // RFC 3261 §10.2.4: refresh before the binding expires; half way
        // leaves room for a challenge and retransmissions
        self.next_attempt = Some(now + (lifetime / 2).max(Duration::from_secs(1)));
        self.backoff = self.config.min_retry;
    }

    fn fail(&mut self, now: Instant) {
        let retry_at = now + self.backoff;
        self.backoff = (self.backoff * 2).min(self.config.max_retry);
        self.next_attempt = Some(retry_at);
        // a binding still valid stays valid until it expires
        match self.state {
            RegistrationState::Registered { until } if until > now => {
                self.next_attempt = Some(retry_at.min(until));
            }
            _ => self.state = RegistrationState::Failed { retry_at },
        }
    }

    /// Queues a fresh REGISTER (no credentials yet, next CSeq).
    fn attempt(&mut self) {
        self.cseq += 1;
        self.challenged = false;
        self.outstanding = None;
        let mut r = Request::new(Method::Register, self.config.registrar.clone());
        let aor = self.config.aor.to_string();
        r.headers.push(Known::Via, self.config.via.clone());
        r.headers.push(Known::MaxForwards, "70");
        r.headers
            .push(Known::From, format!("<{aor}>;tag={}", self.from_tag));
        r.headers.push(Known::To, format!("<{aor}>"));
        r.headers.push(Known::CallId, self.call_id.clone());
        r.headers.set_typed(&CSeq {
            seq: self.cseq,
            method: Method::Register,
        });
        r.headers
            .push(Known::Contact, format!("<{}>", self.config.contact));
        r.headers.push(Known::Expires, self.expires.to_string());
        r.headers.push(Known::UserAgent, "voip-sip");
        r.headers.push(Known::ContentLength, "0");
        self.pending = Some(r);
    }
}

#[cfg(test)]
mod tests;
