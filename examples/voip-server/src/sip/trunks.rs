//! SIP trunks to carriers: what `[[trunks]]` and `[[dids]]` configure.
//! The core ([`super::core::SipCore`]) registers each trunk with
//! `register = true` (a [`voip_sip::trunk::Registration`]), sends dialled
//! numbers that start with a trunk's prefix to that trunk, and routes
//! INVITEs from a trunk's IP to a configured DID to its extension.

use std::net::SocketAddr;

/// One carrier trunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trunk {
    /// A name for logs.
    pub name: String,
    /// The carrier's registrar and proxy, `IP:port` (UDP).
    pub target: SocketAddr,
    /// The host in Request-URIs, the AoR and From toward the carrier
    /// (the carrier's domain); `None` uses the target's `IP:port`.
    pub domain: Option<String>,
    /// Digest username at the carrier.
    pub username: String,
    /// Digest password at the carrier.
    pub password: String,
    /// Whether to register to the carrier.
    pub register: bool,
    /// Requested registration expiry, seconds.
    pub expires: u32,
    /// The user part presented to the carrier in From and
    /// P-Asserted-Identity (the trunk's number).
    pub from_user: String,
    /// Dialled numbers starting with this go out through the trunk; empty:
    /// no outbound calls.
    pub prefix: String,
    /// Whether the prefix is removed from the number sent to the carrier.
    pub strip: bool,
}

impl Trunk {
    /// The host (and port) used in URIs toward the carrier.
    pub fn host(&self) -> String {
        match &self.domain {
            Some(domain) => domain.clone(),
            None => self.target.to_string(),
        }
    }

    /// The number to send to the carrier for `dialled`, if it goes out
    /// through this trunk.
    pub fn outbound_number(&self, dialled: &str) -> Option<String> {
        if self.prefix.is_empty() {
            return None;
        }
        let rest = dialled.strip_prefix(&self.prefix)?;
        if rest.is_empty() {
            return None;
        }
        Some(if self.strip {
            rest.to_owned()
        } else {
            dialled.to_owned()
        })
    }
}

/// An inbound number and the extension its calls ring.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Did {
    /// The number as the carrier sends it in the Request-URI user part.
    pub number: String,
    /// The local extension.
    pub extension: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes() {
        let mut t = Trunk {
            name: "c".into(),
            target: "192.0.2.9:5060".parse().unwrap(),
            domain: None,
            username: "u".into(),
            password: "p".into(),
            register: true,
            expires: 60,
            from_user: "5551000".into(),
            prefix: "9".into(),
            strip: true,
        };
        assert_eq!(t.outbound_number("95551234").as_deref(), Some("5551234"));
        assert_eq!(t.outbound_number("9"), None);
        assert_eq!(t.outbound_number("1001"), None);
        t.strip = false;
        assert_eq!(t.outbound_number("95551234").as_deref(), Some("95551234"));
        t.prefix.clear();
        assert_eq!(t.outbound_number("95551234"), None);
        assert_eq!(t.host(), "192.0.2.9:5060");
    }
}
