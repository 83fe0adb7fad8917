//! `Event` and `Subscription-State` (RFC 6665).

use bytes::{Bytes, BytesMut};

use super::scan::{is_token_char, parse_params};
use super::{HeaderError, TypedHeader};
use crate::message::{HeaderName, Known};
use crate::uri::Params;

fn token_then_params(raw: &Bytes, what: &'static str) -> Result<(Bytes, Params), HeaderError> {
    let b = &raw[..];
    let s = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let mut e = s;
    while e < b.len() && is_token_char(b[e]) {
        e += 1;
    }
    if s == e {
        return Err(HeaderError::Invalid(what));
    }
    Ok((raw.slice(s..e), parse_params(raw, e, what)?))
}

/// `Event`: an event package (`refer`, `dialog`, `message-summary`) and params.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Event {
    /// The event type.
    pub event_type: Bytes,
    /// Parameters (`id`).
    pub params: Params,
}

impl Event {
    /// The `id` parameter.
    pub fn id(&self) -> Option<&[u8]> {
        self.params.value("id")
    }
}

impl TypedHeader for Event {
    const NAME: HeaderName = HeaderName::Known(Known::Event);

    fn parse(raw: &Bytes) -> Result<Self, HeaderError> {
        let (event_type, params) = token_then_params(raw, "Event")?;
        Ok(Self { event_type, params })
    }

    fn write_to(&self, out: &mut BytesMut) {
        out.extend_from_slice(&self.event_type);
        self.params.write_to(out);
    }
}

/// `Subscription-State`: `active`, `pending` or `terminated`, with params.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SubscriptionState {
    /// The state token.
    pub state: Bytes,
    /// Parameters (`expires`, `reason`, `retry-after`).
    pub params: Params,
}

impl SubscriptionState {
    /// The `expires` parameter.
    pub fn expires(&self) -> Option<u32> {
        std::str::from_utf8(self.params.value("expires")?)
            .ok()?
            .parse()
            .ok()
    }

    /// The `reason` parameter.
    pub fn reason(&self) -> Option<&[u8]> {
        self.params.value("reason")
    }

    /// Whether the state is `terminated`.
    pub fn is_terminated(&self) -> bool {
        self.state.eq_ignore_ascii_case(b"terminated")
    }
}

impl TypedHeader for SubscriptionState {
    const NAME: HeaderName = HeaderName::Known(Known::SubscriptionState);

    fn parse(raw: &Bytes) -> Result<Self, HeaderError> {
        let (state, params) = token_then_params(raw, "Subscription-State")?;
        Ok(Self { state, params })
    }

    fn write_to(&self, out: &mut BytesMut) {
        out.extend_from_slice(&self.state);
        self.params.write_to(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let e = Event::parse(&Bytes::from_static(b"refer;id=93809824")).unwrap();
        assert_eq!(
            (&e.event_type[..], e.id()),
            (&b"refer"[..], Some(&b"93809824"[..]))
        );
        let s =
            SubscriptionState::parse(&Bytes::from_static(b"terminated;reason=noresource")).unwrap();
        assert!(s.is_terminated());
        assert_eq!(s.reason(), Some(&b"noresource"[..]));
        let s = SubscriptionState::parse(&Bytes::from_static(b"active;expires=60")).unwrap();
        assert_eq!(s.expires(), Some(60));
        assert!(Event::parse(&Bytes::from_static(b"")).is_err());
    }
}
