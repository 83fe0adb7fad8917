//! Typed headers.
//!
//! Messages keep header values raw; a [`TypedHeader`] parses one on demand
//! (`headers.typed::<Via>()`) and prints one back (`headers.push_typed(&via)`).
//! Implement the trait for your own headers:
//!
//! ```
//! use bytes::{Bytes, BytesMut};
//! use voip_sip::header::{HeaderError, TypedHeader};
//! use voip_sip::HeaderName;
//!
//! struct Account(Bytes);
//!
//! impl TypedHeader for Account {
//!     const NAME: HeaderName = HeaderName::custom("X-Account");
//!     fn parse(value: &Bytes) -> Result<Self, HeaderError> {
//!         if value.is_empty() { Err(HeaderError::Invalid("X-Account")) } else { Ok(Account(value.clone())) }
//!     }
//!     fn write_to(&self, out: &mut BytesMut) {
//!         out.extend_from_slice(&self.0);
//!     }
//! }
//!
//! let msg = voip_sip::parse_message(
//!     Bytes::from_static(b"OPTIONS sip:a@b SIP/2.0\r\nx-account: 42\r\n\r\n"),
//!     &voip_sip::ParseConfig::default(),
//! ).unwrap();
//! let account = msg.headers().typed::<Account>().unwrap().unwrap();
//! assert_eq!(&account.0[..], b"42");
//! ```

mod auth;
mod call_id;
mod content_type;
mod cseq;
mod date;
mod event;
mod name_addr;
mod numeric;
mod rack;
mod replaces;
mod scan;
mod tokens;
mod via;

use bytes::{Bytes, BytesMut};

use crate::message::HeaderName;
use crate::uri::UriError;

pub use auth::{AuthParams, Authorization, ProxyAuthenticate, ProxyAuthorization, WwwAuthenticate};
pub use call_id::CallId;
pub use content_type::{Accept, ContentType, MediaType};
pub use cseq::CSeq;
pub use date::Date;
pub use event::{Event, SubscriptionState};
pub use name_addr::{
    Contact, From, NameAddr, PAssertedIdentity, Path, RecordRoute, ReferTo, ReferredBy, Route, To,
};
pub use numeric::{ContentLength, Expires, MaxForwards, MinExpires, MinSe, RSeq, SessionExpires};
pub use rack::RAck;
pub use replaces::Replaces;
pub(crate) use scan::is_token_char;
pub(crate) use scan::{ListRanges, list_ranges, split_list};
pub use tokens::{Allow, OptionTag, ProxyRequire, Require, Supported, Unsupported};
pub use via::Via;

/// Why a header value did not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HeaderError {
    /// The value does not follow the header's grammar.
    #[error("invalid {0} header")]
    Invalid(&'static str),
    /// A number is missing, malformed or out of range.
    #[error("invalid number in {0} header")]
    Number(&'static str),
    /// A URI inside the header is invalid.
    #[error("invalid uri in header: {0}")]
    Uri(#[from] UriError),
}

/// A header with a typed value.
pub trait TypedHeader: Sized {
    /// The header's name.
    const NAME: HeaderName;
    /// Whether one header line may carry several comma-separated values
    /// (RFC 3261 §7.3.1); each is then parsed alone.
    const LIST: bool = false;

    /// Parses one value.
    fn parse(value: &Bytes) -> Result<Self, HeaderError>;

    /// Parses the value `buf[start..end]`, where `buf` is the whole
    /// message: parsers that keep parts of the value slice them from
    /// `buf` directly. The default slices the value and calls
    /// [`parse`](Self::parse).
    fn parse_in(buf: &Bytes, start: usize, end: usize) -> Result<Self, HeaderError> {
        Self::parse(&buf.slice(start..end))
    }

    /// Prints the value.
    fn write_to(&self, out: &mut BytesMut);

    /// The value as bytes.
    fn to_bytes(&self) -> Bytes {
        let mut b = BytesMut::with_capacity(64);
        self.write_to(&mut b);
        b.freeze()
    }
}
