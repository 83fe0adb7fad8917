//! Token list headers: Supported, Require, Proxy-Require, Unsupported (option
//! tags, RFC 3261 §19.2) and Allow (methods).

use bytes::{Bytes, BytesMut};

use super::scan::is_token_char;
use super::{HeaderError, TypedHeader};
use crate::message::{HeaderName, Known, Method};

/// An option tag such as `100rel`, `timer`, `replaces`, `outbound`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OptionTag(pub Bytes);

fn parse_token(raw: &Bytes, what: &'static str) -> Result<Bytes, HeaderError> {
    let t = raw.trim_ascii();
    if t.is_empty() || !t.iter().all(|c| is_token_char(*c)) {
        return Err(HeaderError::Invalid(what));
    }
    Ok(raw.slice_ref(t))
}

macro_rules! option_tag_header {
    ($(#[$doc:meta])* $ty:ident, $known:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub struct $ty(pub OptionTag);

        impl TypedHeader for $ty {
            const NAME: HeaderName = HeaderName::Known(Known::$known);
            const LIST: bool = true;

            fn parse(raw: &Bytes) -> Result<Self, HeaderError> {
                parse_token(raw, Known::$known.as_str()).map(|t| Self(OptionTag(t)))
            }

            fn write_to(&self, out: &mut BytesMut) {
                out.extend_from_slice(&(self.0).0);
            }
        }

        impl $ty {
            /// The option tag as bytes.
            pub fn as_bytes(&self) -> &[u8] {
                &(self.0).0
            }
        }
    };
}

option_tag_header!(
    /// One `Supported` option tag.
    Supported, Supported
);
option_tag_header!(
    /// One `Require` option tag.
    Require, Require
);
option_tag_header!(
    /// One `Proxy-Require` option tag.
    ProxyRequire, ProxyRequire
);
option_tag_header!(
    /// One `Unsupported` option tag.
    Unsupported, Unsupported
);

/// One method of an `Allow` header.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Allow(pub Method);

impl TypedHeader for Allow {
    const NAME: HeaderName = HeaderName::Known(Known::Allow);
    const LIST: bool = true;

    fn parse(raw: &Bytes) -> Result<Self, HeaderError> {
        parse_token(raw, "Allow").map(|t| Self(Method::from_bytes(t)))
    }

    fn write_to(&self, out: &mut BytesMut) {
        out.extend_from_slice(self.0.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Headers;

    #[test]
    fn lists() {
        let mut h = Headers::new();
        h.push(
            Known::Require,
            "nothingSupportsThis, nothingSupportsThisEither",
        );
        h.push(Known::Allow, "INVITE, ACK,BYE");
        let req: Vec<_> = h.typed_all::<Require>().map(|r| r.unwrap()).collect();
        assert_eq!(req.len(), 2);
        assert_eq!(req[1].as_bytes(), b"nothingSupportsThisEither");
        let allow: Vec<_> = h.typed_all::<Allow>().map(|r| r.unwrap().0).collect();
        assert_eq!(allow, [Method::Invite, Method::Ack, Method::Bye]);
        h.push(Known::Supported, "");
        assert_eq!(h.typed_all::<Supported>().count(), 0);
    }
}
