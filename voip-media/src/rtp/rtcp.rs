//! RTCP compound packets (RFC 3550 §6): SR, RR, SDES (CNAME) and BYE, parsed
//! and built over the `rtcp` crate, with the validity checks of Appendix A.2.

use std::any::Any;

use bytes::Bytes;
use rtcp::goodbye::Goodbye;
use rtcp::receiver_report::ReceiverReport;
use rtcp::reception_report::ReceptionReport;
use rtcp::sender_report::SenderReport;
use rtcp::source_description::{
    SdesType, SourceDescription, SourceDescriptionChunk, SourceDescriptionItem,
};

use super::ntp::NtpTime;

/// Why an RTCP datagram was dropped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RtcpError {
    /// Shorter than one RTCP header.
    #[error("rtcp packet too short")]
    TooShort,
    /// A version other than 2.
    #[error("rtcp version is not 2")]
    BadVersion,
    /// The length fields do not add up to the datagram's size.
    #[error("rtcp length fields do not match the datagram")]
    BadLength,
    /// The padding bit is set on a packet other than the last one.
    #[error("rtcp padding on a packet other than the last")]
    BadPadding,
    /// The `rtcp` crate refused a packet.
    #[error("malformed rtcp: {0}")]
    Malformed(String),
    /// A value does not fit its field when building.
    #[error("cannot build rtcp: {0}")]
    Build(String),
}

/// One reception report block (RFC 3550 §6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReportBlock {
    /// The source this block is about.
    pub ssrc: u32,
    /// Fraction lost since the previous report, in 1/256.
    pub fraction_lost: u8,
    /// Cumulative packets lost (24-bit signed on the wire).
    pub cumulative_lost: i32,
    /// Extended highest sequence number received.
    pub extended_highest_seq: u32,
    /// Interarrival jitter in timestamp units.
    pub jitter: u32,
    /// Middle 32 bits of the NTP time of the last SR from `ssrc` (0: none).
    pub lsr: u32,
    /// Delay since that SR in 1/65536 s.
    pub dlsr: u32,
}

/// The sender info of an SR (RFC 3550 §6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SenderInfo {
    /// Wall-clock time the report was sent.
    pub ntp: NtpTime,
    /// The same instant in the sender's RTP timestamp units.
    pub rtp_timestamp: u32,
    /// Packets sent since the start of transmission.
    pub packet_count: u32,
    /// Payload octets sent since the start of transmission.
    pub octet_count: u32,
}

/// One SDES chunk: a source and its items this crate uses.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SdesChunk {
    /// The source described.
    pub ssrc: u32,
    /// Its CNAME item, if present.
    pub cname: Option<Bytes>,
}

/// One packet of a compound RTCP datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RtcpPacket {
    /// A sender report (PT 200).
    SenderReport {
        /// The sender.
        ssrc: u32,
        /// Its sender info.
        info: SenderInfo,
        /// Report blocks about the sources it receives.
        reports: Vec<ReportBlock>,
    },
    /// A receiver report (PT 201).
    ReceiverReport {
        /// The reporter.
        ssrc: u32,
        /// Report blocks about the sources it receives.
        reports: Vec<ReportBlock>,
    },
    /// Source description (PT 202).
    SourceDescription(Vec<SdesChunk>),
    /// Goodbye (PT 203).
    Bye {
        /// The sources leaving.
        sources: Vec<u32>,
        /// The reason, if given.
        reason: Option<Bytes>,
    },
    /// Any other packet type (APP, feedback, XR), kept by type only.
    Other {
        /// The RTCP packet type.
        packet_type: u8,
    },
}

/// Checks a compound datagram's headers (RFC 3550 A.2, without the
/// "first packet is SR or RR" rule, which RFC 5506 reduced-size RTCP relaxes).
pub fn validate_compound(datagram: &[u8]) -> Result<usize, RtcpError> {
    if datagram.len() < 4 {
        return Err(RtcpError::TooShort);
    }
    let mut offset = 0;
    let mut count = 0;
    while offset < datagram.len() {
        let Some(header) = datagram.get(offset..offset + 4) else {
            return Err(RtcpError::BadLength);
        };
        if header[0] >> 6 != 2 {
            return Err(RtcpError::BadVersion);
        }
        let len = (usize::from(u16::from_be_bytes([header[2], header[3]])) + 1) * 4;
        let padding = header[0] & 0x20 != 0;
        offset += len;
        count += 1;
        if padding && offset != datagram.len() {
            return Err(RtcpError::BadPadding);
        }
    }
    if offset != datagram.len() {
        return Err(RtcpError::BadLength);
    }
    Ok(count)
}

/// Parses a compound RTCP datagram (after SRTCP unprotect).
///
/// Only SR, RR, SDES and BYE go through the `rtcp` crate, one packet at a
/// time; every other type (APP, feedback, XR) is kept by type without
/// being parsed: this stack does not interpret them, and some of the
/// crate's parsers for them index past the packet on hostile input (a FIR
/// whose entries do not fill its length, a REMB whose SSRC count exceeds
/// it) and panic.
pub fn parse_compound(datagram: &[u8]) -> Result<Vec<RtcpPacket>, RtcpError> {
    validate_compound(datagram)?;
    let mut out = Vec::new();
    let mut offset = 0;
    while let Some(header) = datagram.get(offset..offset + 4) {
        let len = (usize::from(u16::from_be_bytes([header[2], header[3]])) + 1) * 4;
        let packet = datagram
            .get(offset..offset + len)
            .ok_or(RtcpError::BadLength)?;
        let packet_type = header[1];
        if (200..=203).contains(&packet_type) {
            let mut buf = packet;
            let parsed = rtcp::packet::unmarshal(&mut buf)
                .map_err(|e| RtcpError::Malformed(e.to_string()))?;
            out.extend(
                parsed
                    .iter()
                    .map(|p| convert(p.as_any(), p.header().packet_type as u8)),
            );
        } else {
            out.push(RtcpPacket::Other { packet_type });
        }
        offset += len;
    }
    Ok(out)
}

fn convert(any: &(dyn Any + Send + Sync), packet_type: u8) -> RtcpPacket {
    if let Some(sr) = any.downcast_ref::<SenderReport>() {
        RtcpPacket::SenderReport {
            ssrc: sr.ssrc,
            info: SenderInfo {
                ntp: NtpTime(sr.ntp_time),
                rtp_timestamp: sr.rtp_time,
                packet_count: sr.packet_count,
                octet_count: sr.octet_count,
            },
            reports: sr.reports.iter().map(block_from).collect(),
        }
    } else if let Some(rr) = any.downcast_ref::<ReceiverReport>() {
        RtcpPacket::ReceiverReport {
            ssrc: rr.ssrc,
            reports: rr.reports.iter().map(block_from).collect(),
        }
    } else if let Some(sdes) = any.downcast_ref::<SourceDescription>() {
        RtcpPacket::SourceDescription(
            sdes.chunks
                .iter()
                .map(|c| SdesChunk {
                    ssrc: c.source,
                    cname: c
                        .items
                        .iter()
                        .find(|i| i.sdes_type == SdesType::SdesCname)
                        .map(|i| i.text.clone()),
                })
                .collect(),
        )
    } else if let Some(bye) = any.downcast_ref::<Goodbye>() {
        RtcpPacket::Bye {
            sources: bye.sources.clone(),
            reason: (!bye.reason.is_empty()).then(|| bye.reason.clone()),
        }
    } else {
        RtcpPacket::Other { packet_type }
    }
}

fn block_from(r: &ReceptionReport) -> ReportBlock {
    ReportBlock {
        ssrc: r.ssrc,
        fraction_lost: r.fraction_lost,
        // Sign-extend the 24-bit field.
        cumulative_lost: ((r.total_lost << 8) as i32) >> 8,
        extended_highest_seq: r.last_sequence_number,
        jitter: r.jitter,
        lsr: r.last_sender_report,
        dlsr: r.delay,
    }
}

fn block_to(b: &ReportBlock) -> ReceptionReport {
    ReceptionReport {
        ssrc: b.ssrc,
        fraction_lost: b.fraction_lost,
        total_lost: (b.cumulative_lost.clamp(-0x80_0000, 0x7f_ffff) as u32) & 0xff_ffff,
        last_sequence_number: b.extended_highest_seq,
        jitter: b.jitter,
        last_sender_report: b.lsr,
        delay: b.dlsr,
    }
}

/// Builds a compound RTCP datagram from packets (at most 31 report blocks
/// per SR/RR and 31 sources per BYE; a CNAME of at most 255 octets).
pub fn build_compound(packets: &[RtcpPacket]) -> Result<Bytes, RtcpError> {
    let mut out: Vec<Box<dyn rtcp::packet::Packet + Send + Sync>> = Vec::new();
    for p in packets {
        match p {
            RtcpPacket::SenderReport {
                ssrc,
                info,
                reports,
            } => out.push(Box::new(SenderReport {
                ssrc: *ssrc,
                ntp_time: info.ntp.0,
                rtp_time: info.rtp_timestamp,
                packet_count: info.packet_count,
                octet_count: info.octet_count,
                reports: reports.iter().map(block_to).collect(),
                profile_extensions: Bytes::new(),
            })),
            RtcpPacket::ReceiverReport { ssrc, reports } => out.push(Box::new(ReceiverReport {
                ssrc: *ssrc,
                reports: reports.iter().map(block_to).collect(),
                profile_extensions: Bytes::new(),
            })),
            RtcpPacket::SourceDescription(chunks) => out.push(Box::new(SourceDescription {
                chunks: chunks
                    .iter()
                    .map(|c| SourceDescriptionChunk {
                        source: c.ssrc,
                        items: c
                            .cname
                            .iter()
                            .map(|text| SourceDescriptionItem {
                                sdes_type: SdesType::SdesCname,
                                text: text.clone(),
                            })
                            .collect(),
                    })
                    .collect(),
            })),
            RtcpPacket::Bye { sources, reason } => out.push(Box::new(Goodbye {
                sources: sources.clone(),
                reason: reason.clone().unwrap_or_default(),
            })),
            RtcpPacket::Other { packet_type } => {
                return Err(RtcpError::Build(format!(
                    "packet type {packet_type} cannot be built here"
                )));
            }
        }
    }
    rtcp::packet::marshal(&out).map_err(|e| RtcpError::Build(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// RFC 3550 §6.4.2 RR + §6.5 SDES + §6.6 BYE, bytes from the `rtcp`
    /// crate's own compound test (a Chrome capture).
    const CAPTURE: &[u8] = &[
        0x81, 0xc9, 0x0, 0x7, 0x90, 0x2f, 0x9e, 0x2e, 0xbc, 0x5e, 0x9a, 0x40, 0x0, 0x0, 0x0, 0x0,
        0x0, 0x0, 0x46, 0xe1, 0x0, 0x0, 0x1, 0x11, 0x9, 0xf3, 0x64, 0x32, 0x0, 0x2, 0x4a, 0x79,
        0x81, 0xca, 0x0, 0xc, 0x90, 0x2f, 0x9e, 0x2e, 0x1, 0x26, 0x7b, 0x39, 0x63, 0x30, 0x30,
        0x65, 0x62, 0x39, 0x32, 0x2d, 0x31, 0x61, 0x66, 0x62, 0x2d, 0x39, 0x64, 0x34, 0x39, 0x2d,
        0x61, 0x34, 0x37, 0x64, 0x2d, 0x39, 0x31, 0x66, 0x36, 0x34, 0x65, 0x65, 0x65, 0x36, 0x39,
        0x66, 0x35, 0x7d, 0x0, 0x0, 0x0, 0x0, 0x81, 0xcb, 0x0, 0x1, 0x90, 0x2f, 0x9e, 0x2e,
    ];

    #[test]
    fn parses_a_captured_compound() {
        let packets = parse_compound(CAPTURE).unwrap();
        assert_eq!(packets.len(), 3);
        assert_eq!(
            packets[0],
            RtcpPacket::ReceiverReport {
                ssrc: 0x902f9e2e,
                reports: vec![ReportBlock {
                    ssrc: 0xbc5e9a40,
                    fraction_lost: 0,
                    cumulative_lost: 0,
                    extended_highest_seq: 0x46e1,
                    jitter: 273,
                    lsr: 0x9f36432,
                    dlsr: 150137,
                }],
            }
        );
        assert_eq!(
            packets[1],
            RtcpPacket::SourceDescription(vec![SdesChunk {
                ssrc: 0x902f9e2e,
                cname: Some(Bytes::from_static(
                    b"{9c00eb92-1afb-9d49-a47d-91f64eee69f5}"
                )),
            }])
        );
        assert_eq!(
            packets[2],
            RtcpPacket::Bye {
                sources: vec![0x902f9e2e],
                reason: None
            }
        );
    }

    #[test]
    fn sr_sdes_bye_round_trip_with_negative_loss() {
        let packets = vec![
            RtcpPacket::SenderReport {
                ssrc: 1,
                info: SenderInfo {
                    ntp: NtpTime(0xe000_0000_8000_0000),
                    rtp_timestamp: 160,
                    packet_count: 10,
                    octet_count: 1600,
                },
                reports: vec![ReportBlock {
                    ssrc: 2,
                    fraction_lost: 25,
                    cumulative_lost: -3,
                    extended_highest_seq: 0x1_0005,
                    jitter: 40,
                    lsr: 0xb705_2000,
                    dlsr: 0x0005_4000,
                }],
            },
            RtcpPacket::SourceDescription(vec![SdesChunk {
                ssrc: 1,
                cname: Some(Bytes::from_static(b"leg-a@example.com")),
            }]),
            RtcpPacket::Bye {
                sources: vec![1],
                reason: Some(Bytes::from_static(b"hangup")),
            },
        ];
        let wire = build_compound(&packets).unwrap();
        assert_eq!(validate_compound(&wire), Ok(3));
        assert_eq!(parse_compound(&wire).unwrap(), packets);
    }

    #[test]
    fn header_checks() {
        assert_eq!(parse_compound(&[0x81]), Err(RtcpError::TooShort));
        assert_eq!(
            parse_compound(&[0x41, 0xc9, 0, 0]),
            Err(RtcpError::BadVersion)
        );
        // Length says 8 octets, datagram has 4.
        assert_eq!(
            parse_compound(&[0x80, 0xc9, 0, 1]),
            Err(RtcpError::BadLength)
        );
        // Padding bit on the first of two packets.
        let mut two = CAPTURE.to_vec();
        two[0] |= 0x20;
        assert_eq!(parse_compound(&two), Err(RtcpError::BadPadding));
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = parse_compound(&bytes);
        }

        #[test]
        fn feedback_packets_the_crate_misparses_are_kept_by_type(
            words in 2u16..10, fill in any::<u8>(), remb_count in 0u8..=255,
        ) {
            // FIR (PT 206, FMT 4) whose entries do not fill its length, and
            // REMB (FMT 15) claiming more SSRCs than it holds: kept by type.
            let mut fir = vec![0x84, 206];
            fir.extend_from_slice(&words.to_be_bytes());
            fir.resize(4 + usize::from(words) * 4, fill);
            prop_assert_eq!(
                parse_compound(&fir),
                Ok(vec![RtcpPacket::Other { packet_type: 206 }])
            );
            let mut remb = vec![0x8f, 206, 0, 4];
            remb.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0]);
            remb.extend_from_slice(b"REMB");
            remb.extend_from_slice(&[remb_count, 0x10, 0, 0]);
            prop_assert_eq!(
                parse_compound(&remb),
                Ok(vec![RtcpPacket::Other { packet_type: 206 }])
            );
        }

        #[test]
        fn valid_headers_random_bodies_never_panic(
            count in 0u8..32, pt in 192u8..=223, words in 0u16..12,
            body in proptest::collection::vec(any::<u8>(), 0..48),
            padding in any::<bool>(),
        ) {
            let mut p = vec![0x80 | count | if padding { 0x20 } else { 0 }, pt];
            p.extend_from_slice(&words.to_be_bytes());
            let mut body = body;
            body.resize(usize::from(words) * 4, 0);
            p.extend_from_slice(&body);
            let _ = parse_compound(&p);
        }
    }
}
