//! Payload formats as SDP describes them: name, clock rate, channels,
//! format parameters and payload type (RFC 8866 `a=rtpmap`/`a=fmtp`,
//! RFC 3551 static payload types).

use std::fmt;

/// The encoding name of RFC 4733 events.
pub const TELEPHONE_EVENT: &str = "telephone-event";

/// One payload format of a media line.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SdpCodec {
    /// Encoding name as written in `a=rtpmap` (`PCMU`, `opus`, …).
    pub name: String,
    /// RTP clock rate in Hz.
    pub clock_rate: u32,
    /// Audio channels (1 unless the rtpmap says otherwise).
    pub channels: u16,
    /// The `a=fmtp` parameters, verbatim (`0-16`, `minptime=10;useinbandfec=1`).
    pub fmtp: Option<String>,
    /// RTP payload type. For a dynamic codec in a local capability list it
    /// is the preferred number; negotiation may change it.
    pub payload_type: u8,
}

/// RFC 3551 Table 4 and 5: static payload types.
const STATIC: &[(u8, &str, u32, u16)] = &[
    (0, "PCMU", 8000, 1),
    (3, "GSM", 8000, 1),
    (4, "G723", 8000, 1),
    (5, "DVI4", 8000, 1),
    (6, "DVI4", 16000, 1),
    (7, "LPC", 8000, 1),
    (8, "PCMA", 8000, 1),
    (9, "G722", 8000, 1),
    (10, "L16", 44100, 2),
    (11, "L16", 44100, 1),
    (12, "QCELP", 8000, 1),
    (13, "CN", 8000, 1),
    (14, "MPA", 90000, 1),
    (15, "G728", 8000, 1),
    (16, "DVI4", 11025, 1),
    (17, "DVI4", 22050, 1),
    (18, "G729", 8000, 1),
    (25, "CelB", 90000, 1),
    (26, "JPEG", 90000, 1),
    (28, "nv", 90000, 1),
    (31, "H261", 90000, 1),
    (32, "MPV", 90000, 1),
    (33, "MP2T", 90000, 1),
    (34, "H263", 90000, 1),
];

impl SdpCodec {
    /// A codec with no format parameters.
    pub fn new(name: impl Into<String>, clock_rate: u32, channels: u16, payload_type: u8) -> Self {
        SdpCodec {
            name: name.into(),
            clock_rate,
            channels,
            fmtp: None,
            payload_type,
        }
    }

    /// With format parameters.
    pub fn with_fmtp(mut self, fmtp: impl Into<String>) -> Self {
        self.fmtp = Some(fmtp.into());
        self
    }

    /// G.711 µ-law, static payload type 0.
    pub fn pcmu() -> Self {
        Self::new("PCMU", 8000, 1, 0)
    }
    /// G.711 A-law, static payload type 8.
    pub fn pcma() -> Self {
        Self::new("PCMA", 8000, 1, 8)
    }
    /// G.722, static payload type 9 (RTP clock 8000 by RFC 3551's erratum).
    pub fn g722() -> Self {
        Self::new("G722", 8000, 1, 9)
    }
    /// Opus (RFC 7587: always `opus/48000/2`), dynamic.
    pub fn opus(payload_type: u8) -> Self {
        Self::new("opus", 48000, 2, payload_type)
    }
    /// RFC 4733 telephone-event at `clock_rate`, events 0–16.
    pub fn telephone_event(clock_rate: u32, payload_type: u8) -> Self {
        Self::new(TELEPHONE_EVENT, clock_rate, 1, payload_type).with_fmtp("0-16")
    }

    /// The codec a static payload type stands for without an rtpmap.
    pub fn from_static(payload_type: u8) -> Option<Self> {
        STATIC
            .iter()
            .find(|(pt, ..)| *pt == payload_type)
            .map(|&(pt, name, rate, ch)| Self::new(name, rate, ch, pt))
    }

    /// The static payload type of this codec, if RFC 3551 assigns one.
    pub fn static_payload_type(&self) -> Option<u8> {
        STATIC
            .iter()
            .find(|(_, name, rate, ch)| {
                name.eq_ignore_ascii_case(&self.name)
                    && *rate == self.clock_rate
                    && *ch == self.channels
            })
            .map(|(pt, ..)| *pt)
    }

    /// Whether the payload type is in the dynamic range 96–127.
    pub fn is_dynamic(&self) -> bool {
        (96..=127).contains(&self.payload_type)
    }

    /// Whether this is RFC 4733's telephone-event.
    pub fn is_telephone_event(&self) -> bool {
        self.name.eq_ignore_ascii_case(TELEPHONE_EVENT)
    }

    /// Whether this is comfort noise (RFC 3389 `CN`).
    pub fn is_comfort_noise(&self) -> bool {
        self.name.eq_ignore_ascii_case("CN")
    }

    /// Same encoding: name (any case), clock rate and channels.
    pub fn same_encoding(&self, other: &SdpCodec) -> bool {
        self.name.eq_ignore_ascii_case(&other.name)
            && self.clock_rate == other.clock_rate
            && self.channels == other.channels
    }

    /// The `a=rtpmap` value: `0 PCMU/8000`, `111 opus/48000/2`.
    pub fn rtpmap(&self) -> String {
        if self.channels > 1 {
            format!(
                "{} {}/{}/{}",
                self.payload_type, self.name, self.clock_rate, self.channels
            )
        } else {
            format!("{} {}/{}", self.payload_type, self.name, self.clock_rate)
        }
    }
}

impl fmt::Display for SdpCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.rtpmap())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_table_follows_rfc3551() {
        assert_eq!(SdpCodec::from_static(0), Some(SdpCodec::pcmu()));
        assert_eq!(SdpCodec::from_static(8), Some(SdpCodec::pcma()));
        assert_eq!(SdpCodec::from_static(9), Some(SdpCodec::g722()));
        assert_eq!(
            SdpCodec::from_static(18).map(|c| c.name),
            Some("G729".into())
        );
        assert_eq!(SdpCodec::from_static(6).map(|c| c.clock_rate), Some(16000));
        assert_eq!(SdpCodec::from_static(96), None);
        assert_eq!(
            SdpCodec::new("pcma", 8000, 1, 100).static_payload_type(),
            Some(8)
        );
        assert_eq!(SdpCodec::opus(111).static_payload_type(), None);
    }

    #[test]
    fn matching_and_rtpmap() {
        let a = SdpCodec::new("OPUS", 48000, 2, 96);
        assert!(a.same_encoding(&SdpCodec::opus(111)));
        assert!(!a.same_encoding(&SdpCodec::new("opus", 48000, 1, 111)));
        assert!(
            !SdpCodec::telephone_event(8000, 101)
                .same_encoding(&SdpCodec::telephone_event(48000, 101))
        );
        assert_eq!(SdpCodec::opus(111).rtpmap(), "111 opus/48000/2");
        assert_eq!(SdpCodec::pcmu().to_string(), "0 PCMU/8000");
        assert!(SdpCodec::telephone_event(8000, 101).is_telephone_event());
        assert!(SdpCodec::opus(111).is_dynamic() && !SdpCodec::pcmu().is_dynamic());
    }
}
