//! Settings of a WebRTC leg: our ICE-lite candidates, codecs, DTLS checks.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use voip_core::ConfigError;

/// One local UDP socket the leg answers on, and the address the browser is
/// told to use for it.
///
/// Behind a 1:1 NAT (a cloud VM with a public IP) the socket is bound to a
/// private address while browsers must send to the public one: set
/// `advertised` to the public address. The leg then writes the advertised
/// address into its `a=candidate` and treats packets that arrive at `bind`
/// as if they had arrived at `advertised` (and sends from `bind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalCandidate {
    /// The address the UDP socket is bound to.
    pub bind: SocketAddr,
    /// The address put in the SDP, when it differs from `bind`.
    pub advertised: Option<SocketAddr>,
}

impl LocalCandidate {
    /// A socket reachable at the address it is bound to.
    pub fn host(bind: SocketAddr) -> Self {
        Self {
            bind,
            advertised: None,
        }
    }

    /// A socket bound to `bind` that browsers reach at `public`.
    pub fn advertised(bind: SocketAddr, public: SocketAddr) -> Self {
        Self {
            bind,
            advertised: Some(public),
        }
    }

    /// The address written into the SDP.
    pub fn sdp_address(&self) -> SocketAddr {
        self.advertised.unwrap_or(self.bind)
    }
}

/// Which audio codecs a leg offers or accepts, in order of preference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WebRtcAudioCodec {
    /// Opus (RFC 7587), 48 kHz RTP clock.
    Opus,
    /// G.711 µ-law.
    Pcmu,
    /// G.711 A-law.
    Pcma,
}

/// Configuration of [`WebRtcLeg`](super::WebRtcLeg)s, shared as `Arc`.
///
/// ```
/// use voip_media::webrtc::{LocalCandidate, WebRtcConfig};
/// let config = WebRtcConfig::new(vec![LocalCandidate::advertised(
///     "10.0.0.5:30000".parse().unwrap(),
///     "203.0.113.7:30000".parse().unwrap(),
/// )])
/// .build()
/// .unwrap();
/// assert_eq!(config.candidates()[0].sdp_address().port(), 30000);
/// ```
#[derive(Debug, Clone)]
pub struct WebRtcConfig {
    candidates: Vec<LocalCandidate>,
    codecs: Vec<WebRtcAudioCodec>,
    telephone_event: bool,
    connect_timeout: Duration,
    danger_skip_fingerprint_verification: bool,
}

impl WebRtcConfig {
    /// A configuration with these candidates; Opus, PCMU and PCMA with
    /// telephone-event; a 15 s ICE+DTLS connect timeout; fingerprints checked.
    pub fn new(candidates: Vec<LocalCandidate>) -> Self {
        Self {
            candidates,
            codecs: vec![
                WebRtcAudioCodec::Opus,
                WebRtcAudioCodec::Pcmu,
                WebRtcAudioCodec::Pcma,
            ],
            telephone_event: true,
            connect_timeout: Duration::from_secs(15),
            danger_skip_fingerprint_verification: false,
        }
    }

    /// The audio codecs to accept, best first.
    pub fn codecs(mut self, codecs: Vec<WebRtcAudioCodec>) -> Self {
        self.codecs = codecs;
        self
    }

    /// Negotiate RFC 4733 telephone-event (on by default).
    pub fn telephone_event(mut self, enabled: bool) -> Self {
        self.telephone_event = enabled;
        self
    }

    /// How long ICE and DTLS may take after the SDP exchange before the leg
    /// reports [`FailReason::ConnectTimeout`](super::FailReason::ConnectTimeout).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Accept any DTLS certificate, whatever `a=fingerprint` said. Only for
    /// debugging: it lets anyone on the path take over the media.
    pub fn danger_skip_fingerprint_verification(mut self, skip: bool) -> Self {
        self.danger_skip_fingerprint_verification = skip;
        self
    }

    /// Checks the settings.
    pub fn build(self) -> Result<Arc<Self>, ConfigError> {
        if self.candidates.is_empty() {
            return Err(ConfigError::new(
                "candidates",
                "at least one local candidate is needed",
            ));
        }
        for c in &self.candidates {
            if c.sdp_address().ip().is_unspecified() || c.sdp_address().port() == 0 {
                return Err(ConfigError::new(
                    "candidates",
                    format!(
                        "{} cannot be advertised: give a concrete address and port",
                        c.sdp_address()
                    ),
                ));
            }
        }
        if self.codecs.is_empty() {
            return Err(ConfigError::new(
                "codecs",
                "at least one audio codec is needed",
            ));
        }
        if self.connect_timeout.is_zero() {
            return Err(ConfigError::new("connect_timeout", "must be above zero"));
        }
        Ok(Arc::new(self))
    }

    /// The local candidates.
    pub fn candidates(&self) -> &[LocalCandidate] {
        &self.candidates
    }

    /// The audio codecs, best first.
    pub fn audio_codecs(&self) -> &[WebRtcAudioCodec] {
        &self.codecs
    }

    /// Whether telephone-event is negotiated.
    pub fn telephone_event_enabled(&self) -> bool {
        self.telephone_event
    }

    /// The connect timeout.
    pub fn connect_timeout_duration(&self) -> Duration {
        self.connect_timeout
    }

    /// Whether fingerprint verification is switched off.
    pub fn skips_fingerprint_verification(&self) -> bool {
        self.danger_skip_fingerprint_verification
    }

    /// The advertised address for a packet that arrived at `bind`.
    pub(crate) fn advertised_for(&self, bind: SocketAddr) -> SocketAddr {
        self.candidates
            .iter()
            .find(|c| c.bind == bind)
            .map(|c| c.sdp_address())
            .unwrap_or(bind)
    }

    /// The socket to send from for a transmit str0m addressed from `advertised`.
    pub(crate) fn bind_for(&self, advertised: SocketAddr) -> SocketAddr {
        self.candidates
            .iter()
            .find(|c| c.sdp_address() == advertised)
            .map(|c| c.bind)
            .unwrap_or(advertised)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_unspecified_candidates_are_refused() {
        assert_eq!(
            WebRtcConfig::new(vec![]).build().unwrap_err().field,
            "candidates"
        );
        let any = LocalCandidate::host("0.0.0.0:4000".parse().unwrap());
        assert!(WebRtcConfig::new(vec![any]).build().is_err());
        // Bound to any address but advertised concretely is fine.
        let nat = LocalCandidate::advertised(
            "0.0.0.0:4000".parse().unwrap(),
            "198.51.100.1:4000".parse().unwrap(),
        );
        assert!(WebRtcConfig::new(vec![nat]).build().is_ok());
        let host = LocalCandidate::host("127.0.0.1:4000".parse().unwrap());
        assert!(
            WebRtcConfig::new(vec![host])
                .codecs(vec![])
                .build()
                .is_err()
        );
    }

    #[test]
    fn advertised_addresses_map_both_ways() {
        let bind: SocketAddr = "10.0.0.5:30000".parse().unwrap();
        let public: SocketAddr = "203.0.113.7:30002".parse().unwrap();
        let config = WebRtcConfig::new(vec![LocalCandidate::advertised(bind, public)])
            .build()
            .unwrap();
        assert_eq!(config.advertised_for(bind), public);
        assert_eq!(config.bind_for(public), bind);
        let other: SocketAddr = "10.0.0.9:1".parse().unwrap();
        assert_eq!(config.advertised_for(other), other);
    }
}
