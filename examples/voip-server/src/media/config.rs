//! The `[media]` settings: whether the server anchors the RTP of the calls
//! it proxies (rtpengine's role next to Kamailio), on which ports, which
//! address the rewritten SDP names, which codecs every offer gains for
//! transcoding, and SRTP toward the callee.
//!
//! ```toml
//! [media]
//! relay = true                   # default: anchor media (set false for direct RTP)
//! rtp_ports = "20000-29999"      # default; must not overlap [ivr] rtp_ports (30000-30100)
//! public_ip = "203.0.113.7"      # c= in rewritten SDP [default: advertise, else the SIP UDP IP, else 127.0.0.1]
//! bind_ip = "0.0.0.0"            # where relay sockets bind [default: 0.0.0.0]
//! transcode = ["PCMU"]           # added to every offer (PCMU, PCMA, G722, opus); [] for none
//! srtp = "as-offerer"            # toward the callee: as-offerer, plain or sdes
//! latch = "learn"                # learn, strict or off (symmetric RTP through NAT)
//! media_timeout_seconds = 60     # a call silent both ways this long is released
//! webrtc = true                  # bridge browser calls (needs relay = true)
//! webrtc_bind = "0.0.0.0:0"      # the UDP socket browser legs share (0: any free port)
//! webrtc_offer_opus = true       # offer Opus to plain callees too (no transcoding if taken)
//! ```
//!
//! Every mistake is one [`Error::Config`] line naming the key and the fix.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use voip_media::relay::LatchMode;

use crate::error::Error;

/// Default relay port range: below the IVR's 30000-30100, even start.
pub const DEFAULT_RTP_PORTS: (u16, u16) = (20000, 29999);
/// Default media timeout (rtpengine's `timeout`).
pub const DEFAULT_MEDIA_TIMEOUT: Duration = Duration::from_secs(60);

/// The `[media]` table.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MediaEntry {
    /// Anchor media through the relay [default: true].
    pub relay: Option<bool>,
    /// Relay ports, `"LOW-HIGH"` inclusive [default: 20000-29999].
    pub rtp_ports: Option<String>,
    /// The IP written into rewritten SDP.
    pub public_ip: Option<String>,
    /// The IP relay sockets bind [default: 0.0.0.0].
    pub bind_ip: Option<String>,
    /// Codecs added to every offer [default: ["PCMU"]].
    pub transcode: Option<Vec<String>>,
    /// SRTP toward the callee [default: as-offerer].
    pub srtp: Option<String>,
    /// Latching [default: learn].
    pub latch: Option<String>,
    /// Seconds of silence both ways before a relay call is released [default: 60].
    pub media_timeout_seconds: Option<u64>,
    /// Bridge browser (WebRTC) calls [default: true].
    pub webrtc: Option<bool>,
    /// The UDP socket browser legs share, `IP:PORT` [default: `bind_ip`:0].
    pub webrtc_bind: Option<String>,
    /// Offer Opus to the plain side of a bridge [default: true].
    pub webrtc_offer_opus: Option<bool>,
}

/// A codec the relay can add to offers and transcode to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TranscodeCodec {
    /// G.711 µ-law.
    Pcmu,
    /// G.711 A-law.
    Pcma,
    /// G.722.
    G722,
    /// Opus (48 kHz, the RTP clock of every Opus).
    Opus,
}

impl TranscodeCodec {
    /// Parses a name as written in the config (case-insensitive).
    pub fn parse(name: &str) -> Option<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "pcmu" => Some(Self::Pcmu),
            "pcma" => Some(Self::Pcma),
            "g722" => Some(Self::G722),
            "opus" => Some(Self::Opus),
            _ => None,
        }
    }

    /// The media library's codec.
    pub fn codec(self) -> voip_media::Codec {
        match self {
            Self::Pcmu => voip_media::Codec::Pcmu,
            Self::Pcma => voip_media::Codec::Pcma,
            Self::G722 => voip_media::Codec::G722,
            Self::Opus => voip_media::Codec::Opus(voip_media::OpusConfig::default()),
        }
    }
}

/// SRTP toward the callee (the answerer of the initial offer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SrtpPolicy {
    /// SRTP (SDES) if the caller offered SRTP, else plain RTP.
    #[default]
    AsOfferer,
    /// Always plain RTP/AVP toward the callee.
    Plain,
    /// Always SDES-SRTP (RTP/SAVP with `a=crypto`) toward the callee.
    Sdes,
}

impl SrtpPolicy {
    /// Parses `as-offerer`, `plain` or `sdes`.
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "as-offerer" => Some(Self::AsOfferer),
            "plain" | "rtp" => Some(Self::Plain),
            "sdes" | "srtp" => Some(Self::Sdes),
            _ => None,
        }
    }

    /// `OfferOptions::srtp_to_answerer` for an offer from the caller.
    pub fn to_callee(self) -> Option<bool> {
        match self {
            Self::AsOfferer => None,
            Self::Plain => Some(false),
            Self::Sdes => Some(true),
        }
    }
}

/// The resolved `[media]` settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaSettings {
    /// Anchor media (false: SDP passes untouched, RTP flows end to end).
    pub relay: bool,
    /// Relay ports, inclusive.
    pub rtp_ports: (u16, u16),
    /// The IP in rewritten SDP.
    pub public_ip: IpAddr,
    /// The IP relay sockets bind.
    pub bind_ip: IpAddr,
    /// Codecs added to every offer.
    pub transcode: Vec<TranscodeCodec>,
    /// SRTP toward the callee.
    pub srtp: SrtpPolicy,
    /// Latching.
    pub latch: LatchMode,
    /// Silence after which a relay call is released.
    pub media_timeout: Duration,
    /// Bridge browser calls (with the relay on).
    pub webrtc: bool,
    /// The shared UDP socket of browser legs (port 0: any free port).
    pub webrtc_bind: SocketAddr,
    /// Offer Opus to the plain side of a bridge.
    pub webrtc_offer_opus: bool,
}

impl MediaSettings {
    /// The relay core's configuration.
    pub fn relay_config(
        &self,
    ) -> Result<std::sync::Arc<voip_media::RelayConfig>, voip_core::ConfigError> {
        voip_media::RelayConfig::default()
            .port_range(self.rtp_ports.0, self.rtp_ports.1)
            .advertised_ip(self.public_ip)
            .latch(self.latch)
            .media_timeout(self.media_timeout)
            .build()
    }
}

/// Parses `"LOW-HIGH"` (inclusive, `0 < LOW < HIGH`).
fn parse_port_range(text: &str) -> Option<(u16, u16)> {
    let (low, high) = text.split_once('-')?;
    let low: u16 = low.trim().parse().ok()?;
    let high: u16 = high.trim().parse().ok()?;
    (low > 0 && low < high).then_some((low, high))
}

/// Validates `[media]`. `advertise` is the top-level `advertise` IP,
/// `sip_udp` the SIP UDP listener, `ivr_ports` the IVR's RTP range when
/// the IVR runs (the ranges must not overlap).
pub fn resolve(
    path: &Path,
    entry: Option<&MediaEntry>,
    advertise: Option<IpAddr>,
    sip_udp: Option<SocketAddr>,
    ivr_ports: Option<(u16, u16)>,
) -> Result<MediaSettings, Error> {
    let default = MediaEntry::default();
    let entry = entry.unwrap_or(&default);
    let file = path.display();
    let fail = |key: &str, what: String| Error::Config(format!("[media] {key} in {file}: {what}"));
    let rtp_ports = match entry.rtp_ports.as_deref() {
        None => DEFAULT_RTP_PORTS,
        Some(text) => parse_port_range(text).ok_or_else(|| {
            fail(
                "rtp_ports",
                format!("{text:?} is not a port range (write LOW-HIGH, e.g. \"20000-29999\")"),
            )
        })?,
    };
    let relay = entry.relay.unwrap_or(true);
    if relay
        && let Some((low, high)) = ivr_ports
        && rtp_ports.0 <= high
        && low <= rtp_ports.1
    {
        return Err(fail(
            "rtp_ports",
            format!(
                "{}-{} overlaps the IVR's rtp_ports {low}-{high} (give the relay another range, e.g. \"20000-29999\")",
                rtp_ports.0, rtp_ports.1
            ),
        ));
    }
    let ip = |key: &str, text: &str| {
        text.trim().parse::<IpAddr>().map_err(|_| {
            fail(
                key,
                format!("{text:?} is not an IP address (write e.g. \"203.0.113.7\")"),
            )
        })
    };
    let public_ip = match entry.public_ip.as_deref() {
        Some(text) => ip("public_ip", text)?,
        None => advertise
            .or_else(|| sip_udp.map(|a| a.ip()).filter(|ip| !ip.is_unspecified()))
            .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST)),
    };
    if public_ip.is_unspecified() {
        return Err(fail(
            "public_ip",
            "0.0.0.0 cannot be written into SDP (give the address phones reach the server at)"
                .to_owned(),
        ));
    }
    let bind_ip = match entry.bind_ip.as_deref() {
        Some(text) => ip("bind_ip", text)?,
        None => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
    };
    let transcode = match &entry.transcode {
        None => vec![TranscodeCodec::Pcmu],
        Some(names) => {
            let mut codecs = Vec::with_capacity(names.len());
            for name in names {
                let codec = TranscodeCodec::parse(name).ok_or_else(|| {
                    fail(
                        "transcode",
                        format!("{name:?} is not a codec the relay transcodes (use \"PCMU\", \"PCMA\", \"G722\" or \"opus\")"),
                    )
                })?;
                if !codecs.contains(&codec) {
                    codecs.push(codec);
                }
            }
            codecs
        }
    };
    let srtp = match entry.srtp.as_deref() {
        None => SrtpPolicy::AsOfferer,
        Some(text) => SrtpPolicy::parse(text).ok_or_else(|| {
            fail(
                "srtp",
                format!("{text:?} is not a policy (use \"as-offerer\", \"plain\" or \"sdes\")"),
            )
        })?,
    };
    let latch = match entry.latch.as_deref().map(str::trim) {
        None => LatchMode::Learn,
        Some(text) if text.eq_ignore_ascii_case("learn") => LatchMode::Learn,
        Some(text) if text.eq_ignore_ascii_case("strict") => LatchMode::Strict,
        Some(text) if text.eq_ignore_ascii_case("off") => LatchMode::Off,
        Some(text) => {
            return Err(fail(
                "latch",
                format!("{text:?} is not a mode (use \"learn\", \"strict\" or \"off\")"),
            ));
        }
    };
    let media_timeout = match entry.media_timeout_seconds {
        None => DEFAULT_MEDIA_TIMEOUT,
        Some(0) => {
            return Err(fail(
                "media_timeout_seconds",
                "must be at least 1 (e.g. 60)".to_owned(),
            ));
        }
        Some(s) => Duration::from_secs(s),
    };
    let webrtc_bind = match entry.webrtc_bind.as_deref() {
        None => SocketAddr::new(bind_ip, 0),
        Some(text) => text.trim().parse().map_err(|_| {
            fail(
                "webrtc_bind",
                format!("{text:?} is not IP:PORT (e.g. \"0.0.0.0:20000\", port 0 for any)"),
            )
        })?,
    };
    let settings = MediaSettings {
        relay,
        rtp_ports,
        public_ip,
        bind_ip,
        transcode,
        srtp,
        latch,
        media_timeout,
        webrtc: relay && entry.webrtc.unwrap_or(true),
        webrtc_bind,
        webrtc_offer_opus: entry.webrtc_offer_opus.unwrap_or(true),
    };
    if relay {
        settings
            .relay_config()
            .map_err(|error| fail("rtp_ports", error.to_string()))?;
    }
    Ok(settings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> MediaEntry {
        toml::from_str(text).unwrap()
    }

    fn resolve_text(text: &str, ivr: Option<(u16, u16)>) -> Result<MediaSettings, String> {
        resolve(Path::new("s.toml"), Some(&parse(text)), None, None, ivr).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_anchor_media_below_the_ivr_range() {
        let s = resolve(Path::new("s.toml"), None, None, None, Some((30000, 30100))).unwrap();
        assert!(s.relay);
        assert_eq!(s.rtp_ports, (20000, 29999));
        assert_eq!(s.public_ip, IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert_eq!(s.bind_ip, IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        assert_eq!(s.transcode, [TranscodeCodec::Pcmu]);
        assert_eq!(s.srtp, SrtpPolicy::AsOfferer);
        assert_eq!(s.latch, LatchMode::Learn);
        assert_eq!(s.media_timeout, Duration::from_secs(60));
        assert!(s.webrtc && s.webrtc_offer_opus);
        assert_eq!(s.webrtc_bind, "0.0.0.0:0".parse().unwrap());
    }

    #[test]
    fn public_ip_falls_back_to_advertise_then_the_sip_listener() {
        let advertise: IpAddr = "198.51.100.1".parse().unwrap();
        let udp: SocketAddr = "192.0.2.5:5060".parse().unwrap();
        let any: SocketAddr = "0.0.0.0:5060".parse().unwrap();
        let path = Path::new("s.toml");
        let s = resolve(path, None, Some(advertise), Some(udp), None).unwrap();
        assert_eq!(s.public_ip, advertise);
        let s = resolve(path, None, None, Some(udp), None).unwrap();
        assert_eq!(s.public_ip, udp.ip());
        let s = resolve(path, None, None, Some(any), None).unwrap();
        assert_eq!(s.public_ip, IpAddr::V4(Ipv4Addr::LOCALHOST));
    }

    #[test]
    fn every_key_parses() {
        let s = resolve_text(
            "relay = true\nrtp_ports = \"40000-40999\"\npublic_ip = \"203.0.113.7\"\n\
             bind_ip = \"127.0.0.1\"\ntranscode = [\"pcmu\", \"opus\", \"PCMU\"]\nsrtp = \"sdes\"\n\
             latch = \"strict\"\nmedia_timeout_seconds = 30\nwebrtc = false\n\
             webrtc_bind = \"127.0.0.1:40400\"\nwebrtc_offer_opus = false\n",
            Some((30000, 30100)),
        )
        .unwrap();
        assert_eq!(s.rtp_ports, (40000, 40999));
        assert_eq!(s.public_ip, "203.0.113.7".parse::<IpAddr>().unwrap());
        assert_eq!(s.bind_ip, "127.0.0.1".parse::<IpAddr>().unwrap());
        assert_eq!(s.transcode, [TranscodeCodec::Pcmu, TranscodeCodec::Opus]);
        assert_eq!(s.srtp, SrtpPolicy::Sdes);
        assert_eq!(s.latch, LatchMode::Strict);
        assert_eq!(s.media_timeout, Duration::from_secs(30));
        assert!(!s.webrtc && !s.webrtc_offer_opus);
        assert_eq!(s.webrtc_bind, "127.0.0.1:40400".parse().unwrap());
        assert!(
            resolve_text("transcode = []\n", None)
                .unwrap()
                .transcode
                .is_empty()
        );
        assert_eq!(SrtpPolicy::Plain.to_callee(), Some(false));
        assert_eq!(SrtpPolicy::AsOfferer.to_callee(), None);
    }

    #[test]
    fn mistakes_are_one_line_naming_the_key() {
        for (text, key, hint) in [
            ("rtp_ports = \"20000\"\n", "rtp_ports", "LOW-HIGH"),
            (
                "rtp_ports = \"30050-30060\"\n",
                "rtp_ports",
                "overlaps the IVR",
            ),
            ("public_ip = \"relay.example\"\n", "public_ip", "not an IP"),
            (
                "public_ip = \"0.0.0.0\"\n",
                "public_ip",
                "cannot be written",
            ),
            ("bind_ip = \"x\"\n", "bind_ip", "not an IP"),
            ("transcode = [\"G729\"]\n", "transcode", "\"opus\""),
            ("srtp = \"dtls\"\n", "srtp", "as-offerer"),
            ("latch = \"sometimes\"\n", "latch", "strict"),
            ("webrtc_bind = \"0.0.0.0\"\n", "webrtc_bind", "IP:PORT"),
            (
                "media_timeout_seconds = 0\n",
                "media_timeout_seconds",
                "at least 1",
            ),
        ] {
            let error = resolve_text(text, Some((30000, 30100))).unwrap_err();
            assert!(
                error.starts_with(&format!("[media] {key} in s.toml: ")),
                "{error}"
            );
            assert!(error.contains(hint), "{error}");
            assert!(!error.contains('\n'), "{error}");
        }
        // the IVR's range only matters when the relay is on
        assert!(
            resolve_text(
                "relay = false\nrtp_ports = \"30000-30100\"\n",
                Some((30000, 30100))
            )
            .is_ok()
        );
        // unknown keys are refused by the table
        assert!(toml::from_str::<MediaEntry>("ports = \"1-2\"\n").is_err());
    }
}
