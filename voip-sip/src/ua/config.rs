//! The configuration of a [`Ua`](super::Ua).

use std::net::SocketAddr;

use voip_core::ConfigError;

use crate::dialog::session_timer::{MIN_SE_FLOOR, SessionTimerConfig};
use crate::message::ParseConfig;
use crate::transaction::{Target, TransactionConfig};
use crate::uri::Uri;

/// When provisional responses go reliably (RFC 3262).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Rel100 {
    /// Never: `100rel` is neither offered nor used (an INVITE that
    /// requires it gets 420).
    Disabled,
    /// Offered in Supported; used as UAS when the caller requires it.
    #[default]
    Supported,
    /// Offered; used as UAS whenever the caller supports it; required in
    /// our INVITEs.
    Required,
}

/// What a [`Ua`](super::Ua) needs to know about itself.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct UaConfig {
    /// Transaction timers (T1, T2, T4, Timer D).
    pub transaction: TransactionConfig,
    /// Message limits.
    pub parse: ParseConfig,
    /// The address in our Via sent-by.
    pub local_addr: SocketAddr,
    /// Our Contact (remote target for the peer).
    pub contact: Uri,
    /// A proxy every request goes to first (instead of the Route or
    /// Request-URI host).
    pub outbound_proxy: Option<Target>,
    /// Session timers (RFC 4028).
    pub session_timer: SessionTimerConfig,
    /// Reliable provisional responses (RFC 3262).
    pub rel100: Rel100,
    /// User-Agent and Server header value.
    pub user_agent: Option<String>,
    /// Digest credentials (username, password) to answer 401/407 with.
    pub credentials: Option<(String, String)>,
}

impl UaConfig {
    /// A configuration with the defaults: RFC 3261 timers, session timers of
    /// 1800 s with Min-SE 90 s, `100rel` supported, no outbound proxy.
    pub fn new(local_addr: SocketAddr, contact: Uri) -> Self {
        Self {
            transaction: TransactionConfig::default(),
            parse: ParseConfig::default(),
            local_addr,
            contact,
            outbound_proxy: None,
            session_timer: SessionTimerConfig::default(),
            rel100: Rel100::default(),
            user_agent: Some("voip-sip".to_owned()),
            credentials: None,
        }
    }

    /// Sets the transaction timers.
    #[must_use]
    pub fn transaction(mut self, config: TransactionConfig) -> Self {
        self.transaction = config;
        self
    }

    /// Sends every request to `proxy` first.
    #[must_use]
    pub fn outbound_proxy(mut self, proxy: Target) -> Self {
        self.outbound_proxy = Some(proxy);
        self
    }

    /// Sets the session interval to ask for (`None`: do not ask) and Min-SE.
    #[must_use]
    pub fn session_timer(mut self, session_expires: Option<u32>, min_se: u32) -> Self {
        self.session_timer = SessionTimerConfig {
            session_expires,
            min_se,
        };
        self
    }

    /// Sets the use of reliable provisional responses.
    #[must_use]
    pub fn rel100(mut self, rel100: Rel100) -> Self {
        self.rel100 = rel100;
        self
    }

    /// Sets digest credentials.
    #[must_use]
    pub fn credentials(mut self, username: impl Into<String>, password: impl Into<String>) -> Self {
        self.credentials = Some((username.into(), password.into()));
        self
    }

    /// Checks the values.
    pub fn build(self) -> Result<Self, ConfigError> {
        self.transaction.build()?;
        if self.session_timer.min_se < MIN_SE_FLOOR {
            return Err(ConfigError::new(
                "min_se",
                "must be at least 90 seconds (RFC 4028 §4)",
            ));
        }
        if self
            .session_timer
            .session_expires
            .is_some_and(|se| se < self.session_timer.min_se)
        {
            return Err(ConfigError::new(
                "session_expires",
                "must be at least min_se",
            ));
        }
        if self.contact.as_sip().is_none() {
            return Err(ConfigError::new("contact", "must be a sip or sips uri"));
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_checks_the_session_timer() {
        let c = UaConfig::new(
            "192.0.2.1:5060".parse().unwrap(),
            "sip:a@192.0.2.1".parse().unwrap(),
        );
        assert!(c.clone().build().is_ok());
        assert!(c.clone().session_timer(Some(1800), 60).build().is_err());
        assert!(c.clone().session_timer(Some(100), 120).build().is_err());
        assert!(c.session_timer(None, 90).build().is_ok());
    }
}
