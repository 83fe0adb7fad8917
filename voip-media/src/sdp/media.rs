//! A typed view of one `m=` section, read from an `sdp_types::Media` with
//! the session-level defaults it inherits (`c=`, direction attributes).

use std::net::IpAddr;

use sdp_types::{Attribute, Direction, Media, Session};

use super::codec::SdpCodec;

/// Media-level attributes this module interprets; every other attribute is
/// kept as received in [`MediaView::other_attributes`].
const KNOWN: &[&str] = &[
    "rtpmap", "fmtp", "ptime", "maxptime", "sendrecv", "sendonly", "recvonly", "inactive",
    "rtcp-mux", "crypto", "rtcp",
];

/// What one `m=` line says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaView {
    /// `audio`, `video`, `image`, …
    pub kind: String,
    /// Transport port; 0 means the stream is rejected or disabled.
    pub port: u16,
    /// Transport profile (`RTP/AVP`, `RTP/SAVP`, `UDP/TLS/RTP/SAVPF`, `udptl`).
    pub proto: String,
    /// The format list as written.
    pub formats: Vec<String>,
    /// The RTP payload formats, in m-line order (formats without an rtpmap
    /// and outside the static table are skipped).
    pub codecs: Vec<SdpCodec>,
    /// Direction: media-level, else session-level, else sendrecv.
    pub direction: Direction,
    /// `a=ptime` in ms.
    pub ptime: Option<u32>,
    /// `a=maxptime` in ms.
    pub maxptime: Option<u32>,
    /// `a=rtcp-mux` (RFC 5761).
    pub rtcp_mux: bool,
    /// `a=rtcp` port (RFC 3605), when given.
    pub rtcp_port: Option<u16>,
    /// Values of the `a=crypto` lines, verbatim, for the SRTP module.
    pub crypto: Vec<String>,
    /// Connection address: media-level `c=`, else session-level.
    pub address: Option<IpAddr>,
    /// `c=` is `0.0.0.0`: RFC 2543 hold (RFC 3264 §8.4).
    pub null_address: bool,
    /// Attributes not interpreted here, in order.
    pub other_attributes: Vec<Attribute>,
}

impl MediaView {
    /// Reads `media`, inheriting from `session`.
    pub fn read(session: &Session, media: &Media) -> Self {
        let direction = direction_of(&media.attributes)
            .or_else(|| direction_of(&session.attributes))
            .unwrap_or(Direction::SendRecv);
        let conn = media.connections.first().or(session.connection.as_ref());
        let raw_address = conn.map(|c| {
            c.connection_address
                .split('/')
                .next()
                .unwrap_or("")
                .trim()
                .to_string()
        });
        let address = raw_address
            .as_deref()
            .and_then(|a| a.parse::<IpAddr>().ok());
        let null_address = address.is_some_and(|a| a.is_unspecified());
        let formats: Vec<String> = media.fmt.split_whitespace().map(str::to_string).collect();
        let is_rtp = media.proto.to_ascii_uppercase().contains("RTP/");
        let codecs = if is_rtp {
            codecs_of(&formats, &media.attributes)
        } else {
            Vec::new()
        };
        MediaView {
            kind: media.media.clone(),
            port: media.port,
            proto: media.proto.clone(),
            formats,
            codecs,
            direction,
            ptime: number(&media.attributes, "ptime"),
            maxptime: number(&media.attributes, "maxptime"),
            rtcp_mux: media
                .attributes
                .iter()
                .any(|a| a.attribute.eq_ignore_ascii_case("rtcp-mux")),
            rtcp_port: value(&media.attributes, "rtcp")
                .and_then(|v| v.split_whitespace().next())
                .and_then(|p| p.parse().ok()),
            crypto: media
                .attributes
                .iter()
                .filter(|a| a.attribute.eq_ignore_ascii_case("crypto"))
                .filter_map(|a| a.value.clone())
                .collect(),
            address,
            null_address,
            other_attributes: media
                .attributes
                .iter()
                .filter(|a| !KNOWN.iter().any(|k| a.attribute.eq_ignore_ascii_case(k)))
                .cloned()
                .collect(),
        }
    }

    /// Whether the profile is secure RTP (`RTP/SAVP`, `RTP/SAVPF`, …).
    pub fn is_secure(&self) -> bool {
        self.proto.to_ascii_uppercase().contains("SAVP")
    }

    /// Whether the transport is RTP (any profile).
    pub fn is_rtp(&self) -> bool {
        self.proto.to_ascii_uppercase().contains("RTP/")
    }
}

/// The direction attribute among `attrs`, if any.
pub(crate) fn direction_of(attrs: &[Attribute]) -> Option<Direction> {
    attrs
        .iter()
        .rev()
        .find_map(|a| a.attribute.parse::<Direction>().ok())
}

fn value<'a>(attrs: &'a [Attribute], name: &str) -> Option<&'a str> {
    attrs
        .iter()
        .find(|a| a.attribute.eq_ignore_ascii_case(name))
        .and_then(|a| a.value.as_deref())
}

fn number(attrs: &[Attribute], name: &str) -> Option<u32> {
    // Some phones write "a=ptime:20.0"; take the integer part.
    let v = value(attrs, name)?.trim();
    v.split('.').next()?.parse().ok()
}

fn codecs_of(formats: &[String], attrs: &[Attribute]) -> Vec<SdpCodec> {
    let mut out = Vec::new();
    for f in formats {
        let Ok(pt) = f.parse::<u8>() else { continue };
        if pt > 127 {
            continue;
        }
        let mut codec = match rtpmap_for(attrs, pt) {
            Some(c) => c,
            None => match SdpCodec::from_static(pt) {
                Some(c) => c,
                None => continue,
            },
        };
        codec.fmtp = fmtp_for(attrs, pt);
        if !out.iter().any(|c: &SdpCodec| c.payload_type == pt) {
            out.push(codec);
        }
    }
    out
}

fn split_pt(v: &str) -> Option<(u8, &str)> {
    let v = v.trim_start();
    let (pt, rest) = v.split_once(|c: char| c.is_ascii_whitespace())?;
    Some((pt.parse().ok()?, rest.trim()))
}

fn rtpmap_for(attrs: &[Attribute], pt: u8) -> Option<SdpCodec> {
    attrs
        .iter()
        .filter(|a| a.attribute.eq_ignore_ascii_case("rtpmap"))
        .filter_map(|a| split_pt(a.value.as_deref()?))
        .find(|(p, _)| *p == pt)
        .and_then(|(_, rest)| {
            let mut parts = rest.split('/');
            let name = parts.next()?.trim();
            let rate = parts.next()?.trim().parse().ok()?;
            let channels = match parts.next() {
                Some(c) => c.trim().parse().ok()?,
                None => 1,
            };
            if name.is_empty() || channels == 0 {
                return None;
            }
            Some(SdpCodec::new(name, rate, channels, pt))
        })
}

fn fmtp_for(attrs: &[Attribute], pt: u8) -> Option<String> {
    attrs
        .iter()
        .filter(|a| a.attribute.eq_ignore_ascii_case("fmtp"))
        .filter_map(|a| split_pt(a.value.as_deref()?))
        .find(|(p, _)| *p == pt)
        .map(|(_, rest)| rest.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const OFFER: &str = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n\
a=sendonly\r\n\
m=audio 4000 RTP/SAVP 111 0 8 101 99\r\n\
a=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\n\
a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n\
a=ptime:20.0\r\na=maxptime:40\r\na=rtcp-mux\r\na=rtcp:4001 IN IP4 192.0.2.1\r\n\
a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\n\
a=x-vendor:thing\r\nm=image 0 udptl t38\r\nc=IN IP4 0.0.0.0\r\n";

    #[test]
    fn reads_codecs_attributes_and_inheritance() {
        let s = Session::parse(OFFER.as_bytes()).unwrap();
        let m = MediaView::read(&s, &s.medias[0]);
        let names: Vec<_> = m.codecs.iter().map(|c| c.to_string()).collect();
        // 99 has no rtpmap and is not static: skipped.
        assert_eq!(
            names,
            [
                "111 opus/48000/2",
                "0 PCMU/8000",
                "8 PCMA/8000",
                "101 telephone-event/8000"
            ]
        );
        assert_eq!(
            m.codecs[0].fmtp.as_deref(),
            Some("minptime=10;useinbandfec=1")
        );
        assert_eq!(m.codecs[3].fmtp.as_deref(), Some("0-15"));
        assert_eq!(m.direction, Direction::SendOnly);
        assert_eq!((m.ptime, m.maxptime), (Some(20), Some(40)));
        assert!(m.rtcp_mux && m.is_secure() && m.is_rtp());
        assert_eq!(m.rtcp_port, Some(4001));
        assert_eq!(m.crypto.len(), 1);
        assert!(m.crypto[0].starts_with("1 AES_CM_128_HMAC_SHA1_80 inline:"));
        assert_eq!(m.address, Some("192.0.2.1".parse().unwrap()));
        assert!(!m.null_address);
        assert_eq!(
            m.other_attributes,
            [Attribute::with_value("x-vendor", "thing")]
        );
        let t38 = MediaView::read(&s, &s.medias[1]);
        assert!(t38.null_address && t38.codecs.is_empty() && !t38.is_rtp());
        assert_eq!(t38.formats, ["t38"]);
    }
}
