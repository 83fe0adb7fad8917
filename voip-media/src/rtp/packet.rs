//! Parsing RTP packets (RFC 3550 §5.1, header extensions RFC 8285) through
//! the `rtp` crate, behind a structural check that makes malformed input an
//! error instead of a panic: the crate's extension walker trusts element
//! lengths, so every element is checked to lie inside the extension block
//! first.

use bytes::Bytes;
use rtp::packet::Packet;
use webrtc_util::marshal::Unmarshal;

/// Why an RTP packet could not be parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RtpParseError {
    /// Shorter than the fixed header plus its CSRC list.
    #[error("rtp packet too short")]
    TooShort,
    /// A version other than 2.
    #[error("rtp version is not 2")]
    BadVersion,
    /// The header extension runs past the packet, or one of its elements
    /// past the extension.
    #[error("rtp header extension malformed")]
    BadExtension,
    /// The padding count is zero or larger than the payload.
    #[error("rtp padding malformed")]
    BadPadding,
}

/// Size of the fixed RTP header.
pub const FIXED_HEADER_LEN: usize = 12;

/// Checks the header of an RTP packet and returns its length (fixed header,
/// CSRCs and extension). `with_padding` also checks the padding count, which
/// is only possible before SRTP encryption or after decryption.
pub fn check_rtp_header(packet: &[u8], with_padding: bool) -> Result<usize, RtpParseError> {
    if packet.len() < FIXED_HEADER_LEN {
        return Err(RtpParseError::TooShort);
    }
    if packet[0] >> 6 != 2 {
        return Err(RtpParseError::BadVersion);
    }
    let cc = usize::from(packet[0] & 0x0f);
    let mut len = FIXED_HEADER_LEN + 4 * cc;
    if packet.len() < len {
        return Err(RtpParseError::TooShort);
    }
    if packet[0] & 0x10 != 0 {
        let Some(ext) = packet.get(len..len + 4) else {
            return Err(RtpParseError::BadExtension);
        };
        let profile = u16::from_be_bytes([ext[0], ext[1]]);
        let words = usize::from(u16::from_be_bytes([ext[2], ext[3]]));
        let start = len + 4;
        let end = start + words * 4;
        let Some(block) = packet.get(start..end) else {
            return Err(RtpParseError::BadExtension);
        };
        check_extension_elements(profile, block)?;
        len = end;
    }
    if with_padding && packet[0] & 0x20 != 0 {
        let pad = usize::from(packet[packet.len() - 1]);
        if pad == 0 || len + pad > packet.len() {
            return Err(RtpParseError::BadPadding);
        }
    }
    Ok(len)
}

fn check_extension_elements(profile: u16, block: &[u8]) -> Result<(), RtpParseError> {
    let mut i = 0;
    match profile {
        // RFC 8285 §4.2 one-byte header.
        0xBEDE => {
            while i < block.len() {
                let b = block[i];
                if b == 0 {
                    i += 1;
                    continue;
                }
                if b >> 4 == 0x0f {
                    // ID 15 is reserved; the `rtp` crate would stop parsing
                    // mid-block and misplace the payload.
                    return Err(RtpParseError::BadExtension);
                }
                i += 1 + usize::from(b & 0x0f) + 1;
                if i > block.len() {
                    return Err(RtpParseError::BadExtension);
                }
            }
        }
        // RFC 8285 §4.3 two-byte header.
        0x1000 => {
            while i < block.len() {
                if block[i] == 0 {
                    i += 1;
                    continue;
                }
                let Some(&len) = block.get(i + 1) else {
                    return Err(RtpParseError::BadExtension);
                };
                i += 2 + usize::from(len);
                if i > block.len() {
                    return Err(RtpParseError::BadExtension);
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// The fields of a received RTP packet most receivers need, borrowed from
/// the datagram: no allocation, no copy (what an IVR or a recorder reads per
/// packet; [`parse_rtp`] gives the whole header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpView<'a> {
    /// Payload type (7 bits).
    pub payload_type: u8,
    /// The marker bit.
    pub marker: bool,
    /// Sequence number.
    pub sequence: u16,
    /// Timestamp.
    pub timestamp: u32,
    /// Synchronisation source.
    pub ssrc: u32,
    /// The payload, after CSRCs and header extension, padding removed.
    pub payload: &'a [u8],
}

impl<'a> RtpView<'a> {
    /// Checks the header (as [`check_rtp_header`] with padding) and reads
    /// the fields.
    pub fn parse(datagram: &'a [u8]) -> Result<Self, RtpParseError> {
        let header = check_rtp_header(datagram, true)?;
        let pad = if datagram[0] & 0x20 != 0 {
            datagram.last().map_or(0, |p| usize::from(*p))
        } else {
            0
        };
        let end = datagram
            .len()
            .checked_sub(pad)
            .ok_or(RtpParseError::BadPadding)?;
        let payload = datagram.get(header..end).ok_or(RtpParseError::BadPadding)?;
        let word = |i: usize| {
            u32::from_be_bytes([
                datagram[i],
                datagram[i + 1],
                datagram[i + 2],
                datagram[i + 3],
            ])
        };
        Ok(Self {
            payload_type: datagram[1] & 0x7f,
            marker: datagram[1] & 0x80 != 0,
            sequence: u16::from_be_bytes([datagram[2], datagram[3]]),
            timestamp: word(4),
            ssrc: word(8),
            payload,
        })
    }
}

/// Parses an RTP packet (the payload stays a slice of `datagram`).
pub fn parse_rtp(datagram: &Bytes) -> Result<Packet, RtpParseError> {
    check_rtp_header(datagram, true)?;
    let mut buf = datagram.clone();
    Packet::unmarshal(&mut buf).map_err(|_| RtpParseError::TooShort)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn header(first: u8) -> Vec<u8> {
        vec![first, 0, 0, 1, 0, 0, 0, 160, 0xde, 0xad, 0xbe, 0xef]
    }

    #[test]
    fn view_reads_what_parse_rtp_reads() {
        let mut p = vec![0xb1, 0x88, 0x12, 0x34, 0, 0, 0x01, 0x40, 1, 2, 3, 4];
        p.extend_from_slice(&[9, 9, 9, 9]); // one CSRC
        p.extend_from_slice(&[0xbe, 0xde, 0, 1, 0x10, 0xaa, 0, 0]); // one-byte ext
        p.extend_from_slice(&[5, 6, 7, 0, 0, 3]); // payload 5 6 7, 3 octets padding
        let v = RtpView::parse(&p).unwrap();
        let full = parse_rtp(&Bytes::from(p.clone())).unwrap();
        assert_eq!(v.payload_type, 8);
        assert!(v.marker);
        assert_eq!(v.sequence, full.header.sequence_number);
        assert_eq!(v.timestamp, full.header.timestamp);
        assert_eq!(v.ssrc, full.header.ssrc);
        assert_eq!(v.payload, &full.payload[..]);
        assert_eq!(v.payload, &[5, 6, 7]);
        assert!(RtpView::parse(&p[..11]).is_err());
    }

    #[test]
    fn plain_packet() {
        let mut p = header(0x80);
        p.extend_from_slice(&[1, 2, 3]);
        let pkt = parse_rtp(&Bytes::from(p)).unwrap();
        assert_eq!(pkt.header.sequence_number, 1);
        assert_eq!(pkt.header.timestamp, 160);
        assert_eq!(pkt.header.ssrc, 0xdeadbeef);
        assert_eq!(&pkt.payload[..], &[1, 2, 3]);
    }

    #[test]
    fn one_byte_extension_and_padding() {
        let mut p = header(0x90 | 0x20);
        p.extend_from_slice(&[0xbe, 0xde, 0, 1, 0x11, 0xaa, 0xbb, 0]);
        p.extend_from_slice(&[9, 9, 0, 0, 3]);
        let pkt = parse_rtp(&Bytes::from(p)).unwrap();
        assert_eq!(pkt.header.extensions.len(), 1);
        assert_eq!(&pkt.payload[..], &[9, 9]);
    }

    #[test]
    fn element_past_the_block_is_an_error_not_a_panic() {
        // One word of extension whose element claims 16 octets: the `rtp`
        // crate alone would panic on this packet.
        let mut p = header(0x90);
        p.extend_from_slice(&[0xbe, 0xde, 0, 1, 0x1f, 0, 0, 0]);
        assert_eq!(parse_rtp(&Bytes::from(p)), Err(RtpParseError::BadExtension));
        let mut p = header(0x90);
        p.extend_from_slice(&[0x10, 0x00, 0, 1, 0x01, 0xff, 0, 0]);
        assert_eq!(parse_rtp(&Bytes::from(p)), Err(RtpParseError::BadExtension));
    }

    #[test]
    fn short_bad_version_and_padding() {
        assert_eq!(
            parse_rtp(&Bytes::from_static(&[0x80; 11])),
            Err(RtpParseError::TooShort)
        );
        assert_eq!(
            parse_rtp(&Bytes::from(header(0x40))),
            Err(RtpParseError::BadVersion)
        );
        // Four CSRCs announced, none present.
        assert_eq!(
            parse_rtp(&Bytes::from(header(0x84))),
            Err(RtpParseError::TooShort)
        );
        let mut p = header(0xa0);
        p.push(5);
        assert_eq!(parse_rtp(&Bytes::from(p)), Err(RtpParseError::BadPadding));
        let mut p = header(0xa0);
        p.push(0);
        assert_eq!(parse_rtp(&Bytes::from(p)), Err(RtpParseError::BadPadding));
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
            let _ = parse_rtp(&Bytes::from(bytes));
        }

        #[test]
        fn arbitrary_extensions_never_panic(
            first in 0x80u8..=0xbf, profile in prop_oneof![Just(0xBEDEu16), Just(0x1000u16), any::<u16>()],
            words in 0u16..4, rest in proptest::collection::vec(any::<u8>(), 0..40),
        ) {
            let mut p = header(first | 0x10);
            p.truncate(12);
            p.extend_from_slice(&[0; 60][..usize::from(first & 0x0f) * 4]);
            p.extend_from_slice(&profile.to_be_bytes());
            p.extend_from_slice(&words.to_be_bytes());
            p.extend_from_slice(&rest);
            let _ = parse_rtp(&Bytes::from(p));
        }
    }
}
