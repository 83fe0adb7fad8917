//! The RFC 3264 rules for one m-line: answering an offered stream (§6)
//! and reading the answer to one we offered (§7).

use std::net::{IpAddr, SocketAddr};

use sdp_types::{Attribute, Direction, Media};

use super::codec::SdpCodec;
use super::config::{LocalMedia, SrtpPolicy};
use super::media::MediaView;

/// The outcome of offer/answer for one m-line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NegotiatedMedia {
    /// Position of the m-line in the session.
    pub index: usize,
    /// `audio`, `video`, …
    pub kind: String,
    /// Whether the stream is in use (port not 0 on either side).
    pub accepted: bool,
    /// Transport profile both sides use (`RTP/AVP`, `RTP/SAVP`, …).
    pub proto: String,
    /// Local RTP port.
    pub local_port: u16,
    /// Where to send RTP; `None` when rejected or on RFC 2543 hold
    /// (`c=0.0.0.0`).
    pub remote_rtp: Option<SocketAddr>,
    /// Where to send RTCP when not multiplexed (`a=rtcp`, else port + 1).
    pub remote_rtcp: Option<SocketAddr>,
    /// Agreed codecs with the payload types to send with, best first; the
    /// first is the one to send.
    pub codecs: Vec<SdpCodec>,
    /// Agreed telephone-event formats, one per clock rate.
    pub telephone_events: Vec<SdpCodec>,
    /// Our direction: `SendRecv`, `SendOnly` (we send, they do not), …
    pub direction: Direction,
    /// The peer's `a=ptime` (how it wants to receive), ms.
    pub remote_ptime: Option<u32>,
    /// The peer's `a=maxptime`, ms.
    pub remote_maxptime: Option<u32>,
    /// RTP and RTCP share the RTP port (RFC 5761).
    pub rtcp_mux: bool,
    /// The profile is SRTP.
    pub secure: bool,
    /// The peer's `a=crypto` values, verbatim (for the SRTP module).
    pub remote_crypto: Vec<String>,
    /// Our `a=crypto` values, verbatim.
    pub local_crypto: Vec<String>,
    /// The peer put us on hold: it does not want to receive (`sendonly`,
    /// `inactive` or `c=0.0.0.0`).
    pub remote_hold: bool,
    /// The peer's attributes this module does not interpret.
    pub remote_attributes: Vec<Attribute>,
}

impl NegotiatedMedia {
    /// The codec to send with.
    pub fn send_codec(&self) -> Option<&SdpCodec> {
        self.codecs.first()
    }

    /// The telephone-event format at `clock_rate` (the send codec's rate).
    pub fn telephone_event_for(&self, clock_rate: u32) -> Option<&SdpCodec> {
        self.telephone_events
            .iter()
            .find(|t| t.clock_rate == clock_rate)
    }

    pub(crate) fn rejected(index: usize, kind: &str, proto: &str, local_port: u16) -> Self {
        NegotiatedMedia {
            index,
            kind: kind.to_string(),
            accepted: false,
            proto: proto.to_string(),
            local_port,
            remote_rtp: None,
            remote_rtcp: None,
            codecs: Vec::new(),
            telephone_events: Vec::new(),
            direction: Direction::Inactive,
            remote_ptime: None,
            remote_maxptime: None,
            rtcp_mux: false,
            secure: false,
            remote_crypto: Vec::new(),
            local_crypto: Vec::new(),
            remote_hold: false,
            remote_attributes: Vec::new(),
        }
    }
}

/// The direction the local side wants: on hold, `sendrecv` becomes
/// `sendonly` and `recvonly` becomes `inactive` (RFC 3264 §8.4).
pub(crate) fn local_direction(wanted: Direction, hold: bool) -> Direction {
    match (hold, wanted) {
        (false, d) => d,
        (true, Direction::SendRecv | Direction::SendOnly) => Direction::SendOnly,
        (true, _) => Direction::Inactive,
    }
}

/// The peer's direction seen from its side, with RFC 2543 hold folded in:
/// `c=0.0.0.0` means it does not want to receive.
fn remote_direction(view: &MediaView) -> Direction {
    if view.null_address {
        match view.direction {
            Direction::SendRecv | Direction::SendOnly => Direction::SendOnly,
            _ => Direction::Inactive,
        }
    } else {
        view.direction
    }
}

fn profile_allowed(view: &MediaView, policy: SrtpPolicy) -> bool {
    match policy {
        SrtpPolicy::Disabled => !view.is_secure(),
        SrtpPolicy::Optional => true,
        SrtpPolicy::Required => view.is_secure(),
    }
}

/// Answers one offered m-line. `crypto` are our `a=crypto` values for a
/// secure stream (an SRTP offer without them is rejected).
pub(crate) fn answer_media(
    index: usize,
    offer: &MediaView,
    local: Option<&LocalMedia>,
    crypto: &[String],
    hold: bool,
) -> (Media, NegotiatedMedia) {
    let reject = |port_kind: &MediaView| {
        let media = Media {
            media: port_kind.kind.clone(),
            port: 0,
            num_ports: None,
            proto: port_kind.proto.clone(),
            fmt: port_kind
                .formats
                .first()
                .cloned()
                .unwrap_or_else(|| "0".into()),
            media_title: None,
            connections: Vec::new(),
            bandwidths: Vec::new(),
            key: None,
            attributes: Vec::new(),
        };
        (
            media,
            NegotiatedMedia::rejected(index, &offer.kind, &offer.proto, 0),
        )
    };
    let Some(local) = local else {
        return reject(offer);
    };
    if offer.port == 0 || !offer.is_rtp() || !profile_allowed(offer, local.srtp) {
        return reject(offer);
    }
    if offer.is_secure() && crypto.is_empty() {
        return reject(offer);
    }
    // Intersection in our preference order, with the offerer's numbers.
    let mut codecs: Vec<SdpCodec> = Vec::new();
    for ours in local.codecs.iter().filter(|c| !c.is_telephone_event()) {
        if let Some(theirs) = offer.codecs.iter().find(|o| o.same_encoding(ours)) {
            if codecs.iter().any(|c| c.payload_type == theirs.payload_type) {
                continue;
            }
            let fmtp = ours.fmtp.clone().or_else(|| theirs.fmtp.clone());
            codecs.push(SdpCodec {
                fmtp,
                ..theirs.clone()
            });
        }
    }
    if codecs.iter().all(|c| c.is_comfort_noise()) {
        return reject(offer);
    }
    let wants_events = local.telephone_event || local.codecs.iter().any(|c| c.is_telephone_event());
    let telephone_events: Vec<SdpCodec> = if wants_events {
        offer
            .codecs
            .iter()
            .filter(|o| o.is_telephone_event())
            .filter(|o| codecs.iter().any(|c| c.clock_rate == o.clock_rate))
            .map(|o| SdpCodec {
                fmtp: o.fmtp.clone().or_else(|| Some("0-15".into())),
                ..o.clone()
            })
            .collect()
    } else {
        Vec::new()
    };
    let direction =
        local_direction(local.direction, hold).intersect_with_remote(remote_direction(offer));
    let rtcp_mux = offer.rtcp_mux && local.rtcp_mux;
    let secure = offer.is_secure();
    let mut all = codecs.clone();
    all.extend(telephone_events.iter().cloned());
    let media = build_media(
        &offer.kind,
        local.port,
        &offer.proto,
        &all,
        local,
        direction,
        rtcp_mux,
        if secure { crypto } else { &[] },
    );
    let negotiated = NegotiatedMedia {
        index,
        kind: offer.kind.clone(),
        accepted: true,
        proto: offer.proto.clone(),
        local_port: local.port,
        remote_rtp: remote_rtp(offer),
        remote_rtcp: remote_rtcp(offer, rtcp_mux),
        codecs: codecs
            .into_iter()
            .filter(|c| !c.is_comfort_noise())
            .collect(),
        telephone_events,
        direction,
        remote_ptime: offer.ptime,
        remote_maxptime: offer.maxptime,
        rtcp_mux,
        secure,
        remote_crypto: offer.crypto.clone(),
        local_crypto: if secure { crypto.to_vec() } else { Vec::new() },
        remote_hold: !remote_direction(offer).has_recv(),
        remote_attributes: offer.other_attributes.clone(),
    };
    (media, negotiated)
}

/// Reads the answer to an m-line we offered with `offered` codecs and
/// direction `ours`.
pub(crate) fn read_answer(
    index: usize,
    offered: &MediaView,
    ours: Direction,
    answer: &MediaView,
) -> Result<NegotiatedMedia, &'static str> {
    if !answer.kind.eq_ignore_ascii_case(&offered.kind) {
        return Err("media type differs from the offer");
    }
    if answer.port == 0 || offered.port == 0 {
        return Ok(NegotiatedMedia::rejected(
            index,
            &answer.kind,
            &answer.proto,
            offered.port,
        ));
    }
    if !answer.proto.eq_ignore_ascii_case(&offered.proto) {
        return Err("transport profile differs from the offer");
    }
    // Send with the answer's numbers: they say what the answerer receives.
    let agreed: Vec<SdpCodec> = answer
        .codecs
        .iter()
        .filter(|a| offered.codecs.iter().any(|o| o.same_encoding(a)))
        .cloned()
        .collect();
    let codecs: Vec<SdpCodec> = agreed
        .iter()
        .filter(|c| !c.is_telephone_event() && !c.is_comfort_noise())
        .cloned()
        .collect();
    if codecs.is_empty() {
        return Err("no codec of the offer in the answer");
    }
    let telephone_events = agreed
        .iter()
        .filter(|c| c.is_telephone_event())
        .cloned()
        .collect();
    let rtcp_mux = offered.rtcp_mux && answer.rtcp_mux;
    Ok(NegotiatedMedia {
        index,
        kind: answer.kind.clone(),
        accepted: true,
        proto: answer.proto.clone(),
        local_port: offered.port,
        remote_rtp: remote_rtp(answer),
        remote_rtcp: remote_rtcp(answer, rtcp_mux),
        codecs,
        telephone_events,
        direction: ours.intersect_with_remote(remote_direction(answer)),
        remote_ptime: answer.ptime,
        remote_maxptime: answer.maxptime,
        rtcp_mux,
        secure: answer.is_secure(),
        remote_crypto: answer.crypto.clone(),
        local_crypto: offered.crypto.clone(),
        remote_hold: !remote_direction(answer).has_recv(),
        remote_attributes: answer.other_attributes.clone(),
    })
}

fn remote_rtp(v: &MediaView) -> Option<SocketAddr> {
    let ip: IpAddr = v.address.filter(|a| !a.is_unspecified())?;
    (v.port != 0).then(|| SocketAddr::new(ip, v.port))
}

fn remote_rtcp(v: &MediaView, mux: bool) -> Option<SocketAddr> {
    let rtp = remote_rtp(v)?;
    if mux {
        return Some(rtp);
    }
    let port = v.rtcp_port.unwrap_or_else(|| rtp.port().saturating_add(1));
    Some(SocketAddr::new(rtp.ip(), port))
}

/// Writes one of our m-lines.
#[allow(clippy::too_many_arguments)]
pub(crate) fn build_media(
    kind: &str,
    port: u16,
    proto: &str,
    codecs: &[SdpCodec],
    local: &LocalMedia,
    direction: Direction,
    rtcp_mux: bool,
    crypto: &[String],
) -> Media {
    let fmt = codecs
        .iter()
        .map(|c| c.payload_type.to_string())
        .collect::<Vec<_>>()
        .join(" ");
    let mut attributes = Vec::new();
    for c in codecs {
        let map = c.rtpmap();
        let value = map
            .split_once(' ')
            .map_or(map.clone(), |(pt, rest)| format!("{pt} {rest}"));
        attributes.push(Attribute::with_value("rtpmap", value));
        if let Some(f) = &c.fmtp {
            attributes.push(Attribute::with_value(
                "fmtp",
                format!("{} {}", c.payload_type, f),
            ));
        }
    }
    if let Some(p) = local.ptime {
        attributes.push(Attribute::with_value("ptime", p));
    }
    if let Some(p) = local.maxptime {
        attributes.push(Attribute::with_value("maxptime", p));
    }
    if rtcp_mux {
        attributes.push(Attribute::new("rtcp-mux"));
    }
    for c in crypto {
        attributes.push(Attribute::with_value("crypto", c));
    }
    attributes.extend(local.extra_attributes.iter().cloned());
    attributes.push(Attribute::new(direction.as_str()));
    Media {
        media: kind.to_string(),
        port,
        num_ports: None,
        proto: proto.to_string(),
        fmt,
        media_title: None,
        connections: Vec::new(),
        bandwidths: Vec::new(),
        key: None,
        attributes,
    }
}
