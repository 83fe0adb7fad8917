//! The RTP the IVR speaks itself: PCMU prompts cut into 20 ms packets, the
//! header of received packets, and the RTP port pool.

use std::net::{IpAddr, SocketAddr};

use voip_media::codec::ulaw_encode;
pub use voip_media::rtp::packet::RtpView;

/// Samples per 20 ms packet at 8 kHz.
pub const SAMPLES_PER_PACKET: usize = 160;
/// PCMU's static payload type.
pub const PCMU: u8 = 0;

/// Cuts 8 kHz audio into PCMU RTP packets: sequence numbers step by one,
/// timestamps by the samples sent, the marker bit on the first packet of
/// each talkspurt (RFC 3551 §4.1).
#[derive(Debug, Clone)]
pub struct Packetizer {
    ssrc: u32,
    seq: u16,
    timestamp: u32,
    payload_type: u8,
    talkspurt: bool,
}

impl Packetizer {
    /// A stream with random-looking starting values from the caller.
    pub fn new(ssrc: u32, seq: u16, timestamp: u32, payload_type: u8) -> Self {
        Self {
            ssrc,
            seq,
            timestamp,
            payload_type,
            talkspurt: true,
        }
    }

    /// The next talkspurt starts with a marker bit.
    pub fn new_talkspurt(&mut self) {
        self.talkspurt = true;
    }

    /// One packet of `samples` (20 ms = 160), µ-law encoded; a short last
    /// frame is padded with silence.
    pub fn packet(&mut self, samples: &[i16]) -> Vec<u8> {
        let mut out = Vec::with_capacity(12 + SAMPLES_PER_PACKET);
        let marker = if self.talkspurt { 0x80 } else { 0 };
        self.talkspurt = false;
        out.extend_from_slice(&[0x80, marker | (self.payload_type & 0x7f)]);
        out.extend_from_slice(&self.seq.to_be_bytes());
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        out.extend_from_slice(&self.ssrc.to_be_bytes());
        out.extend(samples.iter().map(|s| ulaw_encode(*s)));
        let len = samples.len().max(SAMPLES_PER_PACKET);
        out.resize(12 + len, ulaw_encode(0));
        self.seq = self.seq.wrapping_add(1);
        self.timestamp = self.timestamp.wrapping_add(len as u32);
        out
    }
}

/// Reads an RTP packet (voip-media's borrowed view, fuzzed there); `None`
/// for anything else (RTCP on an rtcp-mux port, garbage).
pub fn parse(datagram: &[u8]) -> Option<RtpView<'_>> {
    let view = RtpView::parse(datagram).ok()?;
    // RTCP on the same port (rtcp-mux): packet types 200-207 = PT 72-79
    (!(72..=79).contains(&view.payload_type)).then_some(view)
}

/// Why no RTP port could be had.
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    /// Every port of the range is in use.
    #[error("no free RTP port in {low}-{high} on {ip} (widen [ivr] rtp_ports)")]
    Exhausted {
        /// The IP.
        ip: IpAddr,
        /// Lowest port.
        low: u16,
        /// Highest port.
        high: u16,
    },
}

/// Hands out UDP sockets in a port range, starting after the last one
/// given out (so a port just freed is not reused at once). Even ports
/// only, as RTP wants (RFC 3550 §11).
#[derive(Debug)]
pub struct PortPool {
    ip: IpAddr,
    low: u16,
    high: u16,
    next: u16,
}

impl PortPool {
    /// A pool of `low..=high` on `ip`.
    pub fn new(ip: IpAddr, low: u16, high: u16) -> Self {
        let low = low + low % 2;
        Self {
            ip,
            low,
            high,
            next: low,
        }
    }

    /// Binds the next free port.
    pub fn bind(&mut self) -> Result<std::net::UdpSocket, PortError> {
        let count = (u32::from(self.high.saturating_sub(self.low)) / 2 + 1) as usize;
        for _ in 0..count {
            let port = self.next;
            self.next = match port.checked_add(2) {
                Some(n) if n <= self.high => n,
                _ => self.low,
            };
            if port > self.high {
                continue;
            }
            if let Ok(socket) = std::net::UdpSocket::bind(SocketAddr::new(self.ip, port)) {
                return Ok(socket);
            }
        }
        Err(PortError::Exhausted {
            ip: self.ip,
            low: self.low,
            high: self.high,
        })
    }
}

#[cfg(test)]
mod tests {
    use voip_media::codec::ulaw_decode;

    use super::*;

    #[test]
    fn packets_pace_by_20_ms_of_samples() {
        let mut p = Packetizer::new(0x1234_5678, 65535, 4_294_967_200, PCMU);
        let speech: Vec<i16> = (0..400).map(|i| (i * 50) as i16).collect();
        let packets: Vec<Vec<u8>> = speech
            .chunks(SAMPLES_PER_PACKET)
            .map(|c| p.packet(c))
            .collect();
        assert_eq!(packets.len(), 3);
        for (i, pkt) in packets.iter().enumerate() {
            assert_eq!(pkt.len(), 12 + 160, "the short last frame is padded");
            let seq = u16::from_be_bytes([pkt[2], pkt[3]]);
            assert_eq!(seq, 65535u16.wrapping_add(i as u16));
            let view = parse(pkt).unwrap();
            assert_eq!(
                view.timestamp,
                4_294_967_200u32.wrapping_add(160 * i as u32)
            );
            assert_eq!(view.payload_type, 0);
            assert_eq!(pkt[1] & 0x80 != 0, i == 0, "marker on the first only");
            assert_eq!(&pkt[8..12], &[0x12, 0x34, 0x56, 0x78]);
        }
        // µ-law keeps the speech (within its step size)
        let back = ulaw_decode(packets[1][12 + 10]);
        assert!((i32::from(back) - 170 * 50).abs() < 300, "{back}");
        p.new_talkspurt();
        let next = p.packet(&[0; 160]);
        assert_eq!(
            parse(&next).unwrap().timestamp,
            4_294_967_200u32.wrapping_add(160 * 3)
        );
        assert_ne!(next[1] & 0x80, 0);
    }

    #[test]
    fn parse_refuses_rtcp_and_garbage() {
        assert!(parse(&[0x80, 200, 0, 1]).is_none());
        let mut rr = vec![0x81, 201, 0, 7];
        rr.extend_from_slice(&[0; 28]);
        assert!(parse(&rr).is_none(), "an RTCP receiver report");
        let mut padded = vec![
            0xa0, 101, 0, 1, 0, 0, 0, 160, 0, 0, 0, 1, 1, 0x8a, 0, 160, 0, 2,
        ];
        assert_eq!(parse(&padded).unwrap().payload, &[1, 0x8a, 0, 160]);
        *padded.last_mut().unwrap() = 200;
        assert!(parse(&padded).is_none(), "padding longer than the packet");
    }

    #[test]
    fn the_pool_hands_out_even_ports_and_says_when_exhausted() {
        let ip = IpAddr::from([127, 0, 0, 1]);
        // find a free even pair range by trying from a high port
        let base = 47_000 + (std::process::id() % 1000) as u16 * 4;
        let mut pool = PortPool::new(ip, base, base + 3);
        let a = pool.bind().unwrap();
        let b = pool.bind().unwrap();
        let ports = [
            a.local_addr().unwrap().port(),
            b.local_addr().unwrap().port(),
        ];
        assert!(ports.iter().all(|p| p % 2 == 0), "{ports:?}");
        let error = pool.bind().unwrap_err().to_string();
        assert!(error.contains("no free RTP port"), "{error}");
        drop(a);
        assert!(pool.bind().is_ok(), "a freed port is used again");
    }
}
