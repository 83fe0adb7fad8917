//! Telling packets apart on one port: RTP from RTCP under rtcp-mux
//! (RFC 5761 §4) and, ahead of both, STUN and DTLS (RFC 7983 §7).

/// What one datagram on a multiplexed port is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PacketKind {
    /// An RTP packet.
    Rtp,
    /// An RTCP (or SRTCP) packet: second octet 192–223, i.e. the payload
    /// type field (without the marker bit) is in 64–95.
    Rtcp,
    /// A STUN message (first octet 0–3).
    Stun,
    /// A DTLS record (first octet 20–63).
    Dtls,
    /// Anything else (ZRTP, TURN channels, noise).
    Unknown,
}

/// Classifies a datagram (RFC 7983 §7 for the first octet, RFC 5761 §4 for
/// RTP against RTCP). Never panics; short datagrams are `Unknown`.
pub fn classify(datagram: &[u8]) -> PacketKind {
    let Some(&first) = datagram.first() else {
        return PacketKind::Unknown;
    };
    match first {
        0..=3 => PacketKind::Stun,
        20..=63 => PacketKind::Dtls,
        128..=191 => match datagram.get(1) {
            Some(&second) if is_rtcp_packet_type(second) => PacketKind::Rtcp,
            Some(_) if datagram.len() >= 12 => PacketKind::Rtp,
            _ => PacketKind::Unknown,
        },
        _ => PacketKind::Unknown,
    }
}

/// RFC 5761 §4: with the marker bit masked off, payload types 64–95 collide
/// with RTCP packet types 192–223 and are taken as RTCP.
pub fn is_rtcp_packet_type(second_octet: u8) -> bool {
    (64..=95).contains(&(second_octet & 0x7f))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rtp(pt_byte: u8) -> Vec<u8> {
        let mut p = vec![0x80, pt_byte];
        p.resize(12, 0);
        p
    }

    #[test]
    fn rtcp_packet_types_are_rtcp() {
        for pt in 192..=223u8 {
            assert_eq!(classify(&[0x80, pt, 0, 1, 0, 0, 0, 0]), PacketKind::Rtcp);
        }
        // SR, RR, SDES, BYE, APP, RTPFB, PSFB, XR
        for pt in [200u8, 201, 202, 203, 204, 205, 206, 207] {
            assert_eq!(classify(&[0x81, pt, 0, 7]), PacketKind::Rtcp);
        }
    }

    #[test]
    fn audio_payload_types_are_rtp_with_or_without_marker() {
        for pt in [0u8, 8, 9, 18, 96, 101, 111, 127] {
            assert_eq!(classify(&rtp(pt)), PacketKind::Rtp);
            assert_eq!(classify(&rtp(pt | 0x80)), PacketKind::Rtp);
        }
        // PT 63 and 96 bound the RTCP range.
        assert_eq!(classify(&rtp(63)), PacketKind::Rtp);
        assert_eq!(classify(&rtp(64)), PacketKind::Rtcp);
        assert_eq!(classify(&rtp(95 | 0x80)), PacketKind::Rtcp);
    }

    #[test]
    fn stun_dtls_and_garbage() {
        assert_eq!(classify(&[0x00, 0x01, 0, 0]), PacketKind::Stun);
        assert_eq!(classify(&[22, 0xfe, 0xfd]), PacketKind::Dtls);
        assert_eq!(classify(&[]), PacketKind::Unknown);
        assert_eq!(classify(&[0x80]), PacketKind::Unknown);
        assert_eq!(classify(&[0x80, 0x00, 0x00]), PacketKind::Unknown);
        assert_eq!(classify(&[0x40, 0, 0, 0]), PacketKind::Unknown);
    }
}
