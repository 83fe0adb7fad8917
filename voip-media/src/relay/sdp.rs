//! Reading the audio stream of an offer or answer, and rewriting the body
//! so the other side sends to the relay (rtpengine's offer/answer
//! commands).
//!
//! Reading goes through the `sdp` module ([`MediaView`]). Rewriting is
//! textual, line by line, so every line the relay does not own is kept as
//! written. In the first RTP audio section the relay owns:
//!
//! - `c=` (and the session-level `c=`): the relay's address;
//! - `m=`: the relay's port, the profile (`RTP/AVP` ⇄ `RTP/SAVP` when SRTP
//!   is added or removed), the format list;
//! - `a=rtpmap`/`a=fmtp`: regenerated for the format list;
//! - `a=rtcp` (RFC 3605), `a=rtcp-mux`, `a=crypto`: the relay's own;
//! - ICE lines (`a=candidate`, `a=ice-*`, `a=end-of-candidates`,
//!   `a=remote-candidates`): removed, the relay is the ICE-less anchor.
//!
//! Other `m=` sections are disabled (port 0): only one audio stream per call
//! is anchored.

use std::net::{IpAddr, SocketAddr};

use sdp_types::Session;

use super::error::RelayError;
use crate::sdp::{MediaView, SdpCodec};

/// Largest SDP body accepted.
pub(crate) const MAX_SDP: usize = 64 * 1024;

/// What an offer or answer says about its audio stream.
#[derive(Debug, Clone)]
pub(crate) struct AudioSdp {
    /// Index of the section among the `m=` lines.
    pub(crate) index: usize,
    pub(crate) address: Option<IpAddr>,
    pub(crate) port: u16,
    pub(crate) rtcp_port: Option<u16>,
    pub(crate) rtcp_mux: bool,
    pub(crate) proto: String,
    pub(crate) codecs: Vec<SdpCodec>,
    pub(crate) crypto: Vec<String>,
    pub(crate) ptime: Option<u32>,
}

impl AudioSdp {
    /// Reads the first RTP audio section of `body`.
    pub(crate) fn read(body: &[u8]) -> Result<Self, RelayError> {
        if body.len() > MAX_SDP {
            return Err(RelayError::MalformedSdp("too large".into()));
        }
        let session = Session::parse(body).map_err(|e| RelayError::MalformedSdp(e.to_string()))?;
        let (index, view) = session
            .medias
            .iter()
            .map(|m| MediaView::read(&session, m))
            .enumerate()
            .find(|(_, v)| v.kind.eq_ignore_ascii_case("audio") && v.is_rtp())
            .ok_or(RelayError::NoAudio)?;
        let secure = view.is_secure();
        Ok(Self {
            index,
            address: view.address.filter(|a| !a.is_unspecified()),
            port: view.port,
            rtcp_port: view.rtcp_port,
            rtcp_mux: view.rtcp_mux,
            proto: view.proto.clone(),
            codecs: view.codecs.clone(),
            crypto: if secure {
                view.crypto.clone()
            } else {
                Vec::new()
            },
            ptime: view.ptime,
        })
    }

    /// Whether the profile is SRTP (`RTP/SAVP`, `RTP/SAVPF`).
    pub(crate) fn secure(&self) -> bool {
        self.proto.to_ascii_uppercase().contains("SAVP")
    }

    /// Where the endpoint receives RTP, if it gave an address and a port.
    pub(crate) fn rtp_addr(&self) -> Option<SocketAddr> {
        let ip = self.address?;
        (self.port != 0).then(|| SocketAddr::new(ip, self.port))
    }

    /// Where the endpoint receives RTCP: the RTP address with rtcp-mux,
    /// else `a=rtcp`'s port or the RTP port + 1 (RFC 3550 §11).
    pub(crate) fn rtcp_addr(&self) -> Option<SocketAddr> {
        let rtp = self.rtp_addr()?;
        if self.rtcp_mux {
            return Some(rtp);
        }
        let port = self
            .rtcp_port
            .unwrap_or_else(|| rtp.port().saturating_add(1));
        Some(SocketAddr::new(rtp.ip(), port))
    }

    /// The audio codecs (not telephone-event or CN), in preference order.
    pub(crate) fn audio_codecs(&self) -> impl Iterator<Item = &SdpCodec> {
        self.codecs
            .iter()
            .filter(|c| !c.is_telephone_event() && !c.is_comfort_noise())
    }

    /// The telephone-event format at `clock_rate`, if offered.
    pub(crate) fn telephone_event(&self, clock_rate: u32) -> Option<&SdpCodec> {
        self.codecs
            .iter()
            .find(|c| c.is_telephone_event() && c.clock_rate == clock_rate)
    }
}

/// The profile with SRTP added or removed.
pub(crate) fn profile(proto: &str, secure: bool) -> String {
    let upper = proto.to_ascii_uppercase();
    let feedback = upper.ends_with('F');
    match (secure, feedback) {
        (true, false) => "RTP/SAVP".into(),
        (true, true) => "RTP/SAVPF".into(),
        (false, false) => "RTP/AVP".into(),
        (false, true) => "RTP/AVPF".into(),
    }
}

/// How the audio section is rewritten.
#[derive(Debug, Clone)]
pub(crate) struct Rewrite {
    /// The relay's address for this leg.
    pub(crate) ip: IpAddr,
    /// The relay's RTP port.
    pub(crate) port: u16,
    /// The relay's RTCP port (written as `a=rtcp` unless it is port + 1).
    pub(crate) rtcp_port: u16,
    /// The profile.
    pub(crate) proto: String,
    /// The formats, in order; `a=rtpmap`/`a=fmtp` are generated from them.
    pub(crate) codecs: Vec<SdpCodec>,
    /// Our `a=crypto` value, when this side is SRTP.
    pub(crate) crypto: Option<String>,
    /// Whether to write `a=rtcp-mux`.
    pub(crate) rtcp_mux: bool,
}

fn is_ice(attr: &str) -> bool {
    attr.starts_with("a=candidate")
        || attr.starts_with("a=ice-")
        || attr.starts_with("a=end-of-candidates")
        || attr.starts_with("a=remote-candidates")
}

fn connection_line(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => format!("c=IN IP4 {v4}"),
        IpAddr::V6(v6) => format!("c=IN IP6 {v6}"),
    }
}

/// Rewrites `body` (already read by [`AudioSdp::read`], so it is SDP) for
/// the other side. Lines end in CRLF.
pub(crate) fn rewrite(body: &[u8], index: usize, rw: &Rewrite) -> String {
    let text = String::from_utf8_lossy(body);
    let mut out = String::with_capacity(text.len() + 256);
    let mut section: Option<usize> = None; // None: session level
    let mut media_seen = 0usize;
    let mut formats_written = false;
    let push = |out: &mut String, line: &str| {
        out.push_str(line);
        out.push_str("\r\n");
    };
    let finish_audio = |out: &mut String, formats_written: &mut bool| {
        if !*formats_written {
            write_formats(out, &rw.codecs);
            *formats_written = true;
        }
        if rw.rtcp_port != rw.port.wrapping_add(1) && !rw.rtcp_mux {
            out.push_str(&format!("a=rtcp:{}\r\n", rw.rtcp_port));
        }
        if rw.rtcp_mux {
            out.push_str("a=rtcp-mux\r\n");
        }
        if let Some(c) = &rw.crypto {
            out.push_str(&format!("a=crypto:{c}\r\n"));
        }
    };
    for raw in text.split('\n') {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("m=") {
            if section == Some(index) {
                finish_audio(&mut out, &mut formats_written);
            }
            section = Some(media_seen);
            media_seen += 1;
            let mut fields = rest.splitn(4, ' ');
            let kind = fields.next().unwrap_or("audio");
            let _port = fields.next();
            let proto = fields.next().unwrap_or("RTP/AVP");
            let fmts = fields.next().unwrap_or("");
            if section == Some(index) {
                let list: Vec<String> = rw
                    .codecs
                    .iter()
                    .map(|c| c.payload_type.to_string())
                    .collect();
                push(
                    &mut out,
                    &format!("m={kind} {} {} {}", rw.port, rw.proto, list.join(" ")),
                );
            } else {
                push(&mut out, &format!("m={kind} 0 {proto} {fmts}"));
            }
            continue;
        }
        let in_audio = section == Some(index);
        if line.starts_with("c=") && (section.is_none() || in_audio) {
            push(&mut out, &connection_line(rw.ip));
            continue;
        }
        if in_audio {
            if line.starts_with("a=rtpmap:") || line.starts_with("a=fmtp:") {
                if !formats_written {
                    write_formats(&mut out, &rw.codecs);
                    formats_written = true;
                }
                continue;
            }
            if line.starts_with("a=crypto:")
                || line.starts_with("a=rtcp:")
                || line == "a=rtcp-mux"
                || is_ice(line)
            {
                continue;
            }
        } else if section.is_none() && is_ice(line) {
            continue;
        }
        push(&mut out, line);
    }
    if section == Some(index) {
        finish_audio(&mut out, &mut formats_written);
    }
    out
}

fn write_formats(out: &mut String, codecs: &[SdpCodec]) {
    for c in codecs {
        out.push_str(&format!("a=rtpmap:{}\r\n", c.rtpmap()));
        if let Some(f) = &c.fmtp {
            out.push_str(&format!("a=fmtp:{} {f}\r\n", c.payload_type));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OFFER: &str = "v=0\r\no=alice 1 1 IN IP4 10.0.0.5\r\ns=-\r\nc=IN IP4 10.0.0.5\r\nt=0 0\r\n\
        m=audio 4000 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n\
        a=fmtp:101 0-16\r\na=ptime:20\r\na=x-custom:keep me\r\na=candidate:1 1 UDP 1 10.0.0.5 4000 typ host\r\n\
        m=video 5000 RTP/AVP 96\r\na=rtpmap:96 VP8/90000\r\n";

    #[test]
    fn reads_the_audio_stream() {
        let a = AudioSdp::read(OFFER.as_bytes()).unwrap();
        assert_eq!(a.index, 0);
        assert_eq!(a.rtp_addr(), Some("10.0.0.5:4000".parse().unwrap()));
        assert_eq!(a.rtcp_addr(), Some("10.0.0.5:4001".parse().unwrap()));
        assert_eq!(a.audio_codecs().count(), 2);
        assert_eq!(a.telephone_event(8000).map(|c| c.payload_type), Some(101));
        assert_eq!(a.ptime, Some(20));
        assert!(!a.secure());
        assert!(matches!(
            AudioSdp::read(b"garbage"),
            Err(RelayError::MalformedSdp(_))
        ));
        let video_only = "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=video 5000 RTP/AVP 96\r\n";
        assert_eq!(
            AudioSdp::read(video_only.as_bytes()).unwrap_err(),
            RelayError::NoAudio
        );
    }

    #[test]
    fn rewrite_points_at_the_relay_and_keeps_unknown_lines() {
        let a = AudioSdp::read(OFFER.as_bytes()).unwrap();
        let rw = Rewrite {
            ip: "192.0.2.1".parse().unwrap(),
            port: 30000,
            rtcp_port: 30001,
            proto: profile(&a.proto, true),
            codecs: a.codecs.clone(),
            crypto: Some("1 AES_CM_128_HMAC_SHA1_80 inline:AAAA".into()),
            rtcp_mux: false,
        };
        let out = rewrite(OFFER.as_bytes(), a.index, &rw);
        assert!(out.contains("c=IN IP4 192.0.2.1\r\n"), "{out}");
        assert!(!out.contains("10.0.0.5 4000"), "{out}");
        assert!(out.contains("o=alice 1 1 IN IP4 10.0.0.5\r\n"));
        assert!(out.contains("m=audio 30000 RTP/SAVP 0 8 101\r\n"), "{out}");
        assert!(out.contains("a=rtpmap:8 PCMA/8000\r\n"));
        assert!(out.contains("a=fmtp:101 0-16\r\n"));
        assert!(out.contains("a=x-custom:keep me\r\n"));
        assert!(out.contains("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:AAAA\r\n"));
        assert!(!out.contains("candidate"));
        assert!(out.contains("m=video 0 RTP/AVP 96\r\n"));
        // It parses again and says what we wrote.
        let again = AudioSdp::read(out.as_bytes()).unwrap();
        assert_eq!(again.rtp_addr(), Some("192.0.2.1:30000".parse().unwrap()));
        assert!(again.secure());
        assert_eq!(again.codecs, a.codecs);
    }

    #[test]
    fn rtcp_port_and_mux_lines() {
        let a = AudioSdp::read(OFFER.as_bytes()).unwrap();
        let mut rw = Rewrite {
            ip: "2001:db8::1".parse().unwrap(),
            port: 30000,
            rtcp_port: 30011,
            proto: "RTP/AVP".into(),
            codecs: vec![SdpCodec::pcmu()],
            crypto: None,
            rtcp_mux: false,
        };
        let out = rewrite(OFFER.as_bytes(), a.index, &rw);
        assert!(out.contains("c=IN IP6 2001:db8::1\r\n"));
        assert!(out.contains("a=rtcp:30011\r\n"));
        assert!(out.contains("m=audio 30000 RTP/AVP 0\r\n"));
        assert!(!out.contains("telephone-event"));
        rw.rtcp_mux = true;
        let out = rewrite(OFFER.as_bytes(), a.index, &rw);
        assert!(out.contains("a=rtcp-mux\r\n") && !out.contains("a=rtcp:"));
        assert!(AudioSdp::read(out.as_bytes()).unwrap().rtcp_mux);
        assert_eq!(profile("RTP/SAVPF", false), "RTP/AVPF");
    }
}
