//! Flow tokens: a Record-Route URI of ours names the connection (or NAT
//! binding) a request came over, so in-dialog requests find their way back
//! to clients whose Contact is unreachable (WebSocket, NAT) — the idea of
//! RFC 5626 §5.2 flow tokens. Tokens carry an HMAC so that nobody can make
//! the proxy send to an address of their choosing.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use hmac::{Hmac, Mac};
use sha2::Sha256;
use voip_core::{ConnectionId, TransportProtocol};

use crate::transaction::Target;

const MAC_LEN: usize = 8;
const PREFIX: &str = "fl";

/// Encodes `target` as a token for the user part of a Record-Route URI.
pub(crate) fn encode(secret: &[u8], target: &Target) -> String {
    let mut data = Vec::with_capacity(32);
    data.push(protocol_code(target.protocol));
    data.extend_from_slice(&target.connection.map_or(0, |c| c.0 + 1).to_be_bytes());
    match target.destination.ip() {
        IpAddr::V4(a) => {
            data.push(4);
            data.extend_from_slice(&a.octets());
        }
        IpAddr::V6(a) => {
            data.push(6);
            data.extend_from_slice(&a.octets());
        }
    }
    data.extend_from_slice(&target.destination.port().to_be_bytes());
    let mac = mac(secret, &data);
    data.extend_from_slice(&mac);
    let mut s = String::with_capacity(PREFIX.len() + data.len() * 2);
    s.push_str(PREFIX);
    for b in data {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// Decodes and verifies a token; `None` for anything forged or malformed.
pub(crate) fn decode(secret: &[u8], token: &[u8]) -> Option<Target> {
    let hex = token.strip_prefix(PREFIX.as_bytes())?;
    if hex.len() % 2 != 0 || hex.len() > 128 {
        return None;
    }
    let bytes: Vec<u8> = hex
        .chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).ok()?, 16).ok())
        .collect::<Option<_>>()?;
    if bytes.len() < MAC_LEN + 1 {
        return None;
    }
    let (data, tag) = bytes.split_at(bytes.len() - MAC_LEN);
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(secret).ok()?;
    m.update(data);
    m.verify_truncated_left(tag).ok()?;
    let protocol = protocol_from_code(*data.first()?)?;
    let conn = u64::from_be_bytes(data.get(1..9)?.try_into().ok()?);
    let (ip, rest) = match data.get(9)? {
        4 => {
            let o: [u8; 4] = data.get(10..14)?.try_into().ok()?;
            (IpAddr::V4(Ipv4Addr::from(o)), data.get(14..)?)
        }
        6 => {
            let o: [u8; 16] = data.get(10..26)?.try_into().ok()?;
            (IpAddr::V6(Ipv6Addr::from(o)), data.get(26..)?)
        }
        _ => return None,
    };
    let port = u16::from_be_bytes(rest.get(..2)?.try_into().ok()?);
    Some(Target {
        protocol,
        destination: SocketAddr::new(ip, port),
        connection: conn.checked_sub(1).map(ConnectionId),
    })
}

fn mac(secret: &[u8], data: &[u8]) -> [u8; MAC_LEN] {
    let mut out = [0u8; MAC_LEN];
    if let Ok(mut m) = <Hmac<Sha256> as Mac>::new_from_slice(secret) {
        m.update(data);
        let full = m.finalize().into_bytes();
        out.copy_from_slice(&full[..MAC_LEN]);
    }
    out
}

fn protocol_code(p: TransportProtocol) -> u8 {
    TransportProtocol::ALL
        .iter()
        .position(|q| *q == p)
        .unwrap_or(0) as u8
}

fn protocol_from_code(c: u8) -> Option<TransportProtocol> {
    TransportProtocol::ALL.get(usize::from(c)).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_forgery() {
        let t = Target {
            protocol: TransportProtocol::Ws,
            destination: "[2001:db8::1]:40000".parse().unwrap(),
            connection: Some(ConnectionId(7)),
        };
        let tok = encode(b"secret", &t);
        assert_eq!(decode(b"secret", tok.as_bytes()), Some(t));
        assert_eq!(decode(b"other", tok.as_bytes()), None);
        let mut forged = tok.clone().into_bytes();
        let i = forged.len() - MAC_LEN * 2 - 2;
        forged[i] = if forged[i] == b'0' { b'1' } else { b'0' };
        assert_eq!(decode(b"secret", &forged), None);
        assert_eq!(decode(b"secret", b"fl"), None);
        assert_eq!(decode(b"secret", b"flzz"), None);
        let udp = Target::new(TransportProtocol::Udp, "192.0.2.1:5060".parse().unwrap());
        assert_eq!(decode(b"s", encode(b"s", &udp).as_bytes()), Some(udp));
    }
}
