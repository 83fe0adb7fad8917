//! Why an offer or answer could not be used; [`SdpError::status`] is the
//! SIP answer.

/// Offer/answer failures.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SdpError {
    /// The body is not SDP (400).
    #[error("malformed sdp: {0}")]
    Malformed(String),
    /// The body is larger than the limit, or has too many m-lines (400).
    #[error("sdp too large")]
    TooLarge,
    /// No stream of the offer could be accepted: no common codec, profile
    /// or media type (488 Not Acceptable Here, RFC 3261 §13.3.1.3).
    #[error("no acceptable media in the offer")]
    NotAcceptable,
    /// An offer arrived while ours is outstanding (491 Request Pending,
    /// RFC 3261 §14.2).
    #[error("offer while an offer is pending")]
    Glare,
    /// An answer that does not fit our offer: wrong m-line count, a
    /// codec we did not offer, no offer outstanding (the dialog should be
    /// ended or the offer repeated; 488 if an answer to an INVITE).
    #[error("answer does not match the offer: {0}")]
    BadAnswer(&'static str),
    /// The local side called methods out of order (no pending offer to
    /// answer, an offer while one is pending) (500).
    #[error("offer/answer out of order: {0}")]
    State(&'static str),
}

impl SdpError {
    /// The SIP status code that reports this error.
    pub fn status(&self) -> u16 {
        match self {
            SdpError::Malformed(_) | SdpError::TooLarge => 400,
            SdpError::NotAcceptable | SdpError::BadAnswer(_) => 488,
            SdpError::Glare => 491,
            SdpError::State(_) => 500,
        }
    }
}
