//! SIP for the VoIP SDK: a zero-copy message parser and printer over
//! [`bytes::Bytes`], typed headers, request validation with the RFC's
//! answers, and transports.
//!
//! # Parsing and answering
//!
//! ```
//! use bytes::Bytes;
//! use voip_sip::{Message, ParseConfig, Response, StatusCode, parse_message};
//! use voip_sip::header::Via;
//!
//! let raw = Bytes::from_static(
//!     b"OPTIONS sip:carol@chicago.example.com SIP/2.0\r\n\
//!       Via: SIP/2.0/UDP pc33.example.com;branch=z9hG4bKhjhs8ass877;rport\r\n\
//!       Max-Forwards: 70\r\n\
//!       To: <sip:carol@chicago.example.com>\r\n\
//!       From: Alice <sip:alice@example.com>;tag=1928301774\r\n\
//!       Call-ID: a84b4c76e66710\r\n\
//!       CSeq: 63104 OPTIONS\r\n\
//!       Content-Length: 0\r\n\r\n",
//! );
//! let Ok(Message::Request(request)) = parse_message(raw, &ParseConfig::default()) else {
//!     panic!("valid request");
//! };
//! voip_sip::validate::check_request(&request).expect("well formed");
//! let via: Via = request.headers.typed().unwrap().unwrap();
//! assert_eq!(via.branch(), Some(&b"z9hG4bKhjhs8ass877"[..]));
//! let response = Response::for_request(&request, StatusCode::OK).with_to_tag("a6c85cf");
//! assert!(response.to_bytes().starts_with(b"SIP/2.0 200 OK\r\n"));
//! ```
//!
//! # Calls
//!
//! [`Ua`] is the user agent core over the [`transaction`] layer: UAC and UAS
//! [`dialog`]s, forking, re-INVITE and UPDATE, PRACK, session timers, INFO,
//! MESSAGE and transfer (REFER, Replaces). Feed it `handle_receive`,
//! `handle_timeout` and commands; drain `poll_transmit`, `poll_event`
//! ([`UaEvent`]) and `poll_timeout` (see the [`ua`] module).
//!
//! # Sans-IO
//!
//! Nothing in the message layer performs I/O, reads a clock or draws random
//! numbers: tags and branches are passed in. The tokio drivers for the
//! transports live behind the `tokio` feature (on by default);
//! `--no-default-features` builds the pure core.
//!
//! # Panics
//!
//! Nothing here panics on input from the network: every parser returns an
//! error that maps to the protocol's answer ([`ParseError::status`],
//! [`validate::Rejection`]). The `fuzz/` targets enforce this.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod auth;
pub mod b2bua;
mod charset;
pub mod dialog;
pub mod dispatcher;
pub mod header;
mod message;
pub mod proxy;
pub mod registrar;
pub mod reply;
pub mod resolve;
#[cfg(feature = "rsip")]
mod rsip_compat;
pub mod transaction;
pub mod transport;
pub mod trunk;
pub mod ua;
pub mod uri;
pub mod validate;

#[cfg(test)]
mod tests;

pub use dispatcher::{Dispatcher, DispatcherConfig, DispatcherEvent};
pub use message::{
    Header, HeaderIter, HeaderName, HeaderRef, Headers, Known, Message, Method, ParseConfig,
    ParseError, Request, Response, StatusCode, TypedValues, parse_message,
};
pub use resolve::{DnsAnswer, DnsQuery, ResolveEvent, Resolver, ResolverConfig};
pub use uri::{Host, SipUri, Uri};

pub use dialog::{Dialog, DialogId, DialogState};
pub use ua::{Body, InviteOptions, RequestId, TerminationCause, Ua, UaConfig, UaError, UaEvent};

pub use transport::{Framed, FramingError, FramingLimits, StreamFramer, TransportConfig};
#[cfg(feature = "tokio")]
pub use transport::{TransportError, Transports};

#[cfg(feature = "rsip")]
pub use rsip_compat::RsipError;
