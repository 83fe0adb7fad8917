//! SIP request methods (RFC 3261 §7.1 and extensions).

use std::fmt;

use bytes::Bytes;

/// A request method. Unknown methods are kept, not rejected (RFC 3261 §8.2.1
/// answers them with 501).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Method {
    /// INVITE (RFC 3261).
    Invite,
    /// ACK (RFC 3261).
    Ack,
    /// BYE (RFC 3261).
    Bye,
    /// CANCEL (RFC 3261).
    Cancel,
    /// OPTIONS (RFC 3261).
    Options,
    /// REGISTER (RFC 3261).
    Register,
    /// PRACK (RFC 3262).
    Prack,
    /// SUBSCRIBE (RFC 6665).
    Subscribe,
    /// NOTIFY (RFC 6665).
    Notify,
    /// PUBLISH (RFC 3903).
    Publish,
    /// INFO (RFC 6086).
    Info,
    /// REFER (RFC 3515).
    Refer,
    /// MESSAGE (RFC 3428).
    Message,
    /// UPDATE (RFC 3311).
    Update,
    /// Any other token, exactly as received (methods are case-sensitive).
    Other(Bytes),
}

impl Method {
    /// Methods this SDK knows by name.
    pub const KNOWN: [Method; 14] = [
        Method::Invite,
        Method::Ack,
        Method::Bye,
        Method::Cancel,
        Method::Options,
        Method::Register,
        Method::Prack,
        Method::Subscribe,
        Method::Notify,
        Method::Publish,
        Method::Info,
        Method::Refer,
        Method::Message,
        Method::Update,
    ];

    /// The known method spelled `token`, if any (case-sensitive).
    pub fn known_from_slice(token: &[u8]) -> Option<Self> {
        Some(match token {
            b"INVITE" => Self::Invite,
            b"ACK" => Self::Ack,
            b"BYE" => Self::Bye,
            b"CANCEL" => Self::Cancel,
            b"OPTIONS" => Self::Options,
            b"REGISTER" => Self::Register,
            b"PRACK" => Self::Prack,
            b"SUBSCRIBE" => Self::Subscribe,
            b"NOTIFY" => Self::Notify,
            b"PUBLISH" => Self::Publish,
            b"INFO" => Self::Info,
            b"REFER" => Self::Refer,
            b"MESSAGE" => Self::Message,
            b"UPDATE" => Self::Update,
            _ => return None,
        })
    }

    /// The method named by `buf[range]`, slicing the buffer only for an
    /// unknown method.
    pub(crate) fn from_buf(buf: &Bytes, range: std::ops::Range<usize>) -> Self {
        Self::known_from_slice(&buf[range.clone()]).unwrap_or_else(|| Self::Other(buf.slice(range)))
    }

    /// Classifies a method token (case-sensitive, RFC 3261 §7.1).
    pub fn from_bytes(token: Bytes) -> Self {
        Self::known_from_slice(&token).unwrap_or(Self::Other(token))
    }

    /// The method token.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Invite => b"INVITE",
            Self::Ack => b"ACK",
            Self::Bye => b"BYE",
            Self::Cancel => b"CANCEL",
            Self::Options => b"OPTIONS",
            Self::Register => b"REGISTER",
            Self::Prack => b"PRACK",
            Self::Subscribe => b"SUBSCRIBE",
            Self::Notify => b"NOTIFY",
            Self::Publish => b"PUBLISH",
            Self::Info => b"INFO",
            Self::Refer => b"REFER",
            Self::Message => b"MESSAGE",
            Self::Update => b"UPDATE",
            Self::Other(b) => b,
        }
    }

    /// Whether this is a method this SDK knows by name.
    pub fn is_known(&self) -> bool {
        !matches!(self, Self::Other(_))
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(self.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_round_trip_and_case_sensitivity() {
        for m in Method::KNOWN {
            assert_eq!(Method::from_bytes(Bytes::copy_from_slice(m.as_bytes())), m);
        }
        assert_eq!(
            Method::from_bytes(Bytes::from_static(b"invite")),
            Method::Other(Bytes::from_static(b"invite"))
        );
    }
}
