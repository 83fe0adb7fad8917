//! DTMF in SIP INFO bodies: `application/dtmf-relay` and `application/dtmf`.
//!
//! `application/dtmf-relay` (de facto, from Cisco) is a list of `key=value`
//! lines, `Signal=5\r\nDuration=160\r\n`; `application/dtmf` is the key
//! alone (`5`). The parser is tolerant (any case, spaces around `=`, bare
//! LF, unknown lines ignored, `10`/`11` for `*`/`#` and `16` for flash
//! ignored) and bounded (bodies over [`MAX_INFO_BODY`] bytes are refused);
//! it never panics.

use std::time::Duration;

use super::digit::DtmfDigit;

/// Largest body looked at.
pub const MAX_INFO_BODY: usize = 1024;
/// Longest duration believed (anything longer is clamped).
const MAX_DURATION_MS: u64 = 60_000;

/// A key press carried in an INFO body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InfoDtmf {
    /// The key.
    pub digit: DtmfDigit,
    /// `Duration=` in milliseconds, when given.
    pub duration: Option<Duration>,
}

/// Why an INFO body carried no key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InfoError {
    /// The content type is neither `application/dtmf-relay` nor
    /// `application/dtmf` (answer 415).
    #[error("unsupported dtmf info content type")]
    UnsupportedContentType,
    /// The body is larger than [`MAX_INFO_BODY`] (answer 413).
    #[error("dtmf info body too large")]
    TooLarge,
    /// No `Signal=` line, or no key in an `application/dtmf` body (400).
    #[error("no dtmf signal in info body")]
    NoSignal,
    /// The signal is not one of the sixteen keys (400).
    #[error("dtmf signal is not a key")]
    BadSignal,
}

impl InfoError {
    /// The SIP status to answer the INFO with.
    pub fn status(&self) -> u16 {
        match self {
            InfoError::UnsupportedContentType => 415,
            InfoError::TooLarge => 413,
            InfoError::NoSignal | InfoError::BadSignal => 400,
        }
    }
}

impl InfoDtmf {
    /// Parses a body by its `Content-Type` (parameters are ignored).
    pub fn parse(content_type: &str, body: &[u8]) -> Result<Self, InfoError> {
        let mime = content_type.split(';').next().unwrap_or("").trim();
        if mime.eq_ignore_ascii_case("application/dtmf-relay") {
            Self::parse_dtmf_relay(body)
        } else if mime.eq_ignore_ascii_case("application/dtmf") {
            Self::parse_dtmf(body)
        } else {
            Err(InfoError::UnsupportedContentType)
        }
    }

    /// Parses an `application/dtmf-relay` body.
    pub fn parse_dtmf_relay(body: &[u8]) -> Result<Self, InfoError> {
        if body.len() > MAX_INFO_BODY {
            return Err(InfoError::TooLarge);
        }
        let text = String::from_utf8_lossy(body);
        let mut signal = None;
        let mut duration = None;
        for line in text.split(['\n', '\r']) {
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            let key = key.trim();
            let value = value.trim();
            if key.eq_ignore_ascii_case("signal") && signal.is_none() {
                signal = Some(parse_signal(value));
            } else if key.eq_ignore_ascii_case("duration") && duration.is_none() {
                duration = value
                    .parse::<u64>()
                    .ok()
                    .map(|ms| Duration::from_millis(ms.min(MAX_DURATION_MS)));
            }
        }
        let digit = signal.ok_or(InfoError::NoSignal)??;
        Ok(InfoDtmf { digit, duration })
    }

    /// Parses an `application/dtmf` body: the key alone. A `Signal=` body
    /// sent with this type by mistake is accepted too.
    pub fn parse_dtmf(body: &[u8]) -> Result<Self, InfoError> {
        if body.len() > MAX_INFO_BODY {
            return Err(InfoError::TooLarge);
        }
        let text = String::from_utf8_lossy(body);
        if text.contains('=') {
            return Self::parse_dtmf_relay(body);
        }
        let value = text.trim();
        if value.is_empty() {
            return Err(InfoError::NoSignal);
        }
        Ok(InfoDtmf {
            digit: parse_signal(value)?,
            duration: None,
        })
    }

    /// The `application/dtmf-relay` body for this key press.
    pub fn to_dtmf_relay(&self) -> String {
        let ms = self
            .duration
            .map_or(160, |d| d.as_millis().min(u128::from(MAX_DURATION_MS)));
        format!("Signal={}\r\nDuration={}\r\n", self.digit.as_char(), ms)
    }
}

fn parse_signal(value: &str) -> Result<DtmfDigit, InfoError> {
    let mut chars = value.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) => DtmfDigit::from_char(c).ok_or(InfoError::BadSignal),
        // Some gateways send the RFC 4733 event code: 10 = *, 11 = #.
        _ => match value.parse::<u8>() {
            Ok(code) => DtmfDigit::from_event(code).ok_or(InfoError::BadSignal),
            Err(_) => Err(InfoError::BadSignal),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dtmf_relay_bodies() {
        let ok = |ct: &str, body: &str| InfoDtmf::parse(ct, body.as_bytes());
        assert_eq!(
            ok("application/dtmf-relay", "Signal=5\r\nDuration=160\r\n"),
            Ok(InfoDtmf {
                digit: DtmfDigit::D5,
                duration: Some(Duration::from_millis(160))
            })
        );
        assert_eq!(
            ok("Application/DTMF-Relay", "signal = #\nduration= 250")
                .unwrap()
                .digit,
            DtmfDigit::Pound
        );
        assert_eq!(
            ok("application/dtmf-relay", "Signal=*").unwrap().duration,
            None
        );
        assert_eq!(
            ok("application/dtmf-relay", "Signal=10\r\n").unwrap().digit,
            DtmfDigit::Star
        );
        assert_eq!(
            ok("application/dtmf-relay", "Signal=11\r\n").unwrap().digit,
            DtmfDigit::Pound
        );
        assert_eq!(
            ok("application/dtmf-relay", "Signal=d\r\n").unwrap().digit,
            DtmfDigit::D
        );
        assert_eq!(
            ok(
                "application/dtmf-relay;charset=utf-8",
                "X-Foo=1\r\nSignal=1\r\nDuration=x\r\n"
            ),
            Ok(InfoDtmf {
                digit: DtmfDigit::D1,
                duration: None
            })
        );
        assert_eq!(
            ok(
                "application/dtmf-relay",
                "Signal=1\r\nDuration=99999999999\r\n"
            )
            .unwrap()
            .duration,
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            ok("application/dtmf-relay", "Duration=160"),
            Err(InfoError::NoSignal)
        );
        assert_eq!(
            ok("application/dtmf-relay", "Signal=16"),
            Err(InfoError::BadSignal)
        );
        assert_eq!(
            ok("application/dtmf-relay", "Signal=55"),
            Err(InfoError::BadSignal)
        );
        assert_eq!(
            ok("application/dtmf-relay", "Signal="),
            Err(InfoError::BadSignal)
        );
        assert_eq!(
            ok("text/plain", "Signal=1"),
            Err(InfoError::UnsupportedContentType)
        );
        assert_eq!(InfoError::UnsupportedContentType.status(), 415);
    }

    #[test]
    fn dtmf_bodies_and_limits() {
        assert_eq!(
            InfoDtmf::parse("application/dtmf", b"7\r\n").unwrap().digit,
            DtmfDigit::D7
        );
        assert_eq!(
            InfoDtmf::parse("application/dtmf", b"Signal=8")
                .unwrap()
                .digit,
            DtmfDigit::D8
        );
        assert_eq!(
            InfoDtmf::parse("application/dtmf", b"  "),
            Err(InfoError::NoSignal)
        );
        assert_eq!(
            InfoDtmf::parse("application/dtmf", b"xyz"),
            Err(InfoError::BadSignal)
        );
        assert_eq!(
            InfoDtmf::parse("application/dtmf", b"\xff\xfe"),
            Err(InfoError::BadSignal)
        );
        let big = vec![b'1'; MAX_INFO_BODY + 1];
        assert_eq!(
            InfoDtmf::parse("application/dtmf-relay", &big),
            Err(InfoError::TooLarge)
        );
        assert_eq!(InfoError::TooLarge.status(), 413);
    }

    #[test]
    fn printed_body_parses_back() {
        let d = InfoDtmf {
            digit: DtmfDigit::Pound,
            duration: Some(Duration::from_millis(250)),
        };
        let body = d.to_dtmf_relay();
        assert_eq!(body, "Signal=#\r\nDuration=250\r\n");
        assert_eq!(InfoDtmf::parse_dtmf_relay(body.as_bytes()), Ok(d));
    }
}
