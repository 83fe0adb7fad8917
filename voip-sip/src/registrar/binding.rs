//! A binding of an address-of-record to a contact address (RFC 3261 §10),
//! and the canonical forms the registrar compares.

use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};

use crate::header::NameAddr;
use crate::transaction::ReplyPath;
use crate::uri::{Host, Uri};

/// One registered contact of an address-of-record.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Binding {
    /// The address-of-record in canonical form (`sip:user@host`, host in
    /// lower case, no parameters; see [`canonical_aor`]).
    pub aor: Bytes,
    /// The contact as registered, with its parameters (the `expires`
    /// parameter removed: [`Binding::expires_at`] holds the expiry).
    pub contact: NameAddr,
    /// When the binding expires.
    pub expires_at: Instant,
    /// When the binding was last registered or refreshed.
    pub registered_at: Instant,
    /// Preference in thousandths (`q=0.5` is 500); 1000 when absent.
    pub q: u16,
    /// The Call-ID of the REGISTER that created or last refreshed it.
    pub call_id: Bytes,
    /// The CSeq number of that REGISTER.
    pub cseq: u32,
    /// The `Path` header values of that REGISTER, in order (RFC 3327):
    /// requests to this contact are routed through them.
    pub path: Vec<Bytes>,
    /// The `+sip.instance` parameter, quotes removed (RFC 5626).
    pub instance: Option<Bytes>,
    /// The `reg-id` parameter, when the binding is an outbound flow
    /// (RFC 5626: only with an instance and `Supported: outbound`).
    pub reg_id: Option<u32>,
    /// How the REGISTER arrived: the flow to send requests back over.
    pub source: ReplyPath,
    /// The `User-Agent` header of that REGISTER.
    pub user_agent: Option<Bytes>,
}

impl Binding {
    /// What identifies the binding within its address-of-record.
    pub fn key(&self) -> BindingKey {
        match (&self.instance, self.reg_id) {
            (Some(instance), Some(reg_id)) => BindingKey::Flow {
                instance: instance.clone(),
                reg_id,
            },
            _ => BindingKey::Contact(canonical_contact(self.contact.uri())),
        }
    }

    /// Seconds left before expiry at `now`, rounded up (0 once expired).
    pub fn remaining(&self, now: Instant) -> u64 {
        let left = self.expires_at.saturating_duration_since(now);
        left.as_secs() + u64::from(left.subsec_nanos() > 0)
    }

    /// Whether the binding has expired at `now`.
    pub fn is_expired(&self, now: Instant) -> bool {
        self.expires_at <= now
    }

    /// The contact as a `Contact` header value with `;expires=<remaining>`
    /// (for a 200 OK to a REGISTER).
    pub fn contact_value(&self, now: Instant) -> Bytes {
        let mut contact = self.contact.clone();
        contact.set_param(
            "expires",
            Some(Bytes::from(self.remaining(now).to_string())),
        );
        let mut out = BytesMut::with_capacity(96);
        contact.write_to(&mut out);
        out.freeze()
    }

    /// How long the binding lasts from `now`.
    pub fn lifetime(&self, now: Instant) -> Duration {
        self.expires_at.saturating_duration_since(now)
    }
}

/// What identifies a binding within its address-of-record: an outbound flow
/// (`+sip.instance` and `reg-id`, RFC 5626 §6) or the contact URI
/// (RFC 3261 §10.3 step 6).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BindingKey {
    /// The canonical contact URI ([`canonical_contact`]).
    Contact(Bytes),
    /// An outbound flow.
    Flow {
        /// The instance identifier.
        instance: Bytes,
        /// The registration id.
        reg_id: u32,
    },
}

/// The canonical address-of-record of a URI (RFC 3261 §10.3 step 5): scheme
/// `sip` (a `sips:` AoR is the same AoR), the user with escapes of
/// unreserved characters decoded, the host in lower case, the port if
/// given, and no parameters or headers. `None` for a URI that is not SIP.
pub fn canonical_aor(uri: &Uri) -> Option<Bytes> {
    let sip = uri.as_sip()?;
    let mut out = BytesMut::with_capacity(48);
    out.extend_from_slice(b"sip:");
    if let Some(user) = &sip.user() {
        unescape_unreserved(user, &mut out);
        out.put_u8(b'@');
    }
    write_host_lower(&sip.host(), &mut out);
    if let Some(port) = sip.port {
        out.put_u8(b':');
        out.extend_from_slice(port.to_string().as_bytes());
    }
    Some(out.freeze())
}

/// The form in which contact URIs are compared: the URI as printed with the
/// host in lower case. This approximates RFC 3261 §19.1.4 (which also
/// ignores parameter order); UAs refresh with the URI they registered, so
/// byte comparison after host folding matches in practice.
pub fn canonical_contact(uri: &Uri) -> Bytes {
    match uri {
        Uri::Sip(sip) => {
            let mut sip = sip.clone();
            if let Host::Domain(d) = &sip.host() {
                sip.set_host(&Host::Domain(Bytes::from(d.to_ascii_lowercase())));
            }
            let mut out = BytesMut::with_capacity(64);
            sip.write_to(&mut out);
            out.freeze()
        }
        Uri::Other { .. } => uri.to_bytes(),
    }
}

fn write_host_lower(host: &Host, out: &mut BytesMut) {
    match host {
        Host::Domain(d) => {
            for c in d.iter() {
                out.put_u8(c.to_ascii_lowercase());
            }
        }
        Host::V4(a) => out.extend_from_slice(a.to_string().as_bytes()),
        Host::V6(a) => {
            out.put_u8(b'[');
            out.extend_from_slice(a.to_string().as_bytes());
            out.put_u8(b']');
        }
    }
}

/// Decodes `%XX` escapes of unreserved characters (letters, digits,
/// `-._~`), keeping the others escaped so the result stays unambiguous.
fn unescape_unreserved(b: &[u8], out: &mut BytesMut) {
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                let c = h * 16 + l;
                if c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~') {
                    out.put_u8(c);
                } else {
                    out.put_u8(b'%');
                    out.put_u8(b[i + 1].to_ascii_uppercase());
                    out.put_u8(b[i + 2].to_ascii_uppercase());
                }
                i += 3;
                continue;
            }
        }
        out.put_u8(b[i]);
        i += 1;
    }
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(s: &'static str) -> Uri {
        Uri::parse(&Bytes::from_static(s.as_bytes())).unwrap()
    }

    #[test]
    fn aor_is_canonical() {
        let aor = |s| canonical_aor(&uri(s)).unwrap();
        assert_eq!(
            &aor("sip:alice@Example.COM;transport=tcp")[..],
            b"sip:alice@example.com"
        );
        assert_eq!(&aor("sips:alice@example.com")[..], b"sip:alice@example.com");
        assert_eq!(
            &aor("sip:%61lice@example.com:5070")[..],
            b"sip:alice@example.com:5070"
        );
        assert_eq!(&aor("sip:a%40b@example.com")[..], b"sip:a%40b@example.com");
        assert_eq!(&aor("sip:a%4@example.com")[..], b"sip:a%4@example.com");
        assert_eq!(&aor("sip:example.com")[..], b"sip:example.com");
        assert_eq!(&aor("sip:bob@[2001:db8::1]")[..], b"sip:bob@[2001:db8::1]");
        assert!(canonical_aor(&uri("tel:+15551234")).is_none());
    }

    #[test]
    fn contact_comparison_folds_host_case() {
        assert_eq!(
            canonical_contact(&uri("sip:a@HOST.example:5060;transport=tcp")),
            canonical_contact(&uri("sip:a@host.EXAMPLE:5060;transport=tcp"))
        );
        assert_ne!(
            canonical_contact(&uri("sip:A@host")),
            canonical_contact(&uri("sip:a@host"))
        );
    }
}
