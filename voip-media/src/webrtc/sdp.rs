//! SDP between the two profiles: what the browser offered
//! (`UDP/TLS/RTP/SAVPF`, ICE, DTLS, BUNDLE) and what the plain side gets
//! (`RTP/AVP`, one address and port, no ICE, no DTLS).
//!
//! The browser side's SDP is written by str0m ([`WebRtcLeg`](super::WebRtcLeg));
//! the plain side's by [`SdpSession`](crate::sdp::SdpSession). This file
//! maps the codec lists between them: the plain offer carries Opus only
//! when the browser offered it (then no transcoding is needed if the plain
//! peer picks it), then the G.711 laws, then telephone-event.

use sdp_types::Session;

use super::config::WebRtcAudioCodec;
use super::leg::WebRtcError;
use crate::codec::{Codec, OpusConfig};
use crate::sdp::{LocalMedia, MediaView, SdpCodec};

/// The payload type Opus gets on the plain side (browsers use 111 too).
pub const PLAIN_OPUS_PT: u8 = 111;

/// The `RTP/AVP` rtpmap entry for a codec.
pub fn rtp_avp_codec(codec: WebRtcAudioCodec) -> SdpCodec {
    match codec {
        WebRtcAudioCodec::Opus => SdpCodec::opus(PLAIN_OPUS_PT),
        WebRtcAudioCodec::Pcmu => SdpCodec::pcmu(),
        WebRtcAudioCodec::Pcma => SdpCodec::pcma(),
    }
}

/// The codec module's codec for a WebRTC audio codec (mono PCM; Opus at
/// 48 kHz with `opus` settings).
pub(crate) fn media_codec(codec: WebRtcAudioCodec, opus: &OpusConfig) -> Codec {
    match codec {
        WebRtcAudioCodec::Opus => Codec::Opus(opus.clone()),
        WebRtcAudioCodec::Pcmu => Codec::Pcmu,
        WebRtcAudioCodec::Pcma => Codec::Pcma,
    }
}

/// The WebRTC audio codec a negotiated plain-side codec is, if any.
pub(crate) fn from_sdp_codec(codec: &SdpCodec) -> Option<WebRtcAudioCodec> {
    let name = codec.name.to_ascii_lowercase();
    match (name.as_str(), codec.clock_rate) {
        ("opus", 48000) => Some(WebRtcAudioCodec::Opus),
        ("pcmu", 8000) => Some(WebRtcAudioCodec::Pcmu),
        ("pcma", 8000) => Some(WebRtcAudioCodec::Pcma),
        _ => None,
    }
}

/// The audio codecs a browser's offer or answer lists (first audio
/// m-line), in its order. Refuses SDP that is not a WebRTC profile
/// (`UDP/TLS/RTP/SAVPF` or `UDP/TLS/RTP/SAVP`).
pub fn browser_audio_codecs(sdp: &str) -> Result<Vec<WebRtcAudioCodec>, WebRtcError> {
    let session = Session::parse(sdp.as_bytes()).map_err(|e| WebRtcError::BadSdp(e.to_string()))?;
    let media = session
        .medias
        .iter()
        .find(|m| m.media.eq_ignore_ascii_case("audio"))
        .ok_or_else(|| WebRtcError::BadSdp("no audio m-line".into()))?;
    let view = MediaView::read(&session, media);
    if !view
        .proto
        .to_ascii_uppercase()
        .starts_with("UDP/TLS/RTP/SAVP")
    {
        return Err(WebRtcError::BadSdp(format!(
            "profile {} is not UDP/TLS/RTP/SAVPF",
            view.proto
        )));
    }
    let mut codecs = Vec::new();
    for c in &view.codecs {
        if let Some(codec) = from_sdp_codec(c)
            && !codecs.contains(&codec)
        {
            codecs.push(codec);
        }
    }
    Ok(codecs)
}

/// The plain `RTP/AVP` m-line for a bridge: Opus first when the browser
/// has it and `offer_opus` is set, then `g711` (PCMU/PCMA) in order;
/// telephone-event, ptime 20, rtcp-mux offered.
pub fn plain_media_for(
    port: u16,
    browser: &[WebRtcAudioCodec],
    offer_opus: bool,
    g711: &[WebRtcAudioCodec],
) -> LocalMedia {
    let mut codecs = Vec::new();
    if offer_opus && browser.contains(&WebRtcAudioCodec::Opus) {
        codecs.push(rtp_avp_codec(WebRtcAudioCodec::Opus));
    }
    for c in g711 {
        if *c != WebRtcAudioCodec::Opus {
            codecs.push(rtp_avp_codec(*c));
        }
    }
    LocalMedia::audio(port, codecs)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHROME_OFFER: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
        a=group:BUNDLE 0\r\n\
        m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126\r\nc=IN IP4 0.0.0.0\r\n\
        a=rtcp:9 IN IP4 0.0.0.0\r\na=ice-ufrag:abcd\r\na=ice-pwd:aaaaaaaaaaaaaaaaaaaaaaaa\r\n\
        a=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\r\n\
        a=setup:actpass\r\na=mid:0\r\na=sendrecv\r\na=rtcp-mux\r\n\
        a=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\n\
        a=rtpmap:63 red/48000/2\r\na=rtpmap:9 G722/8000\r\na=rtpmap:0 PCMU/8000\r\n\
        a=rtpmap:8 PCMA/8000\r\na=rtpmap:13 CN/8000\r\n\
        a=rtpmap:110 telephone-event/48000\r\na=rtpmap:126 telephone-event/8000\r\n";

    #[test]
    fn chrome_offer_codecs_in_order() {
        let codecs = browser_audio_codecs(CHROME_OFFER).unwrap();
        assert_eq!(
            codecs,
            vec![
                WebRtcAudioCodec::Opus,
                WebRtcAudioCodec::Pcmu,
                WebRtcAudioCodec::Pcma
            ]
        );
    }

    #[test]
    fn plain_profile_is_not_a_browser_offer() {
        let plain = CHROME_OFFER.replace("UDP/TLS/RTP/SAVPF", "RTP/AVP");
        assert!(matches!(
            browser_audio_codecs(&plain),
            Err(WebRtcError::BadSdp(_))
        ));
    }

    #[test]
    fn plain_media_lists_opus_only_when_the_browser_has_it() {
        let g711 = [WebRtcAudioCodec::Pcmu, WebRtcAudioCodec::Pcma];
        let both = plain_media_for(4000, &[WebRtcAudioCodec::Opus], true, &g711);
        let names: Vec<_> = both.codecs.iter().map(|c| c.name.clone()).collect();
        assert_eq!(names, ["opus", "PCMU", "PCMA"]);
        let g711_only = plain_media_for(4000, &[WebRtcAudioCodec::Pcmu], true, &g711);
        assert_eq!(g711_only.codecs.len(), 2);
        let no_opus = plain_media_for(4000, &[WebRtcAudioCodec::Opus], false, &g711);
        assert_eq!(no_opus.codecs[0].name, "PCMU");
        assert!(no_opus.telephone_event);
    }
}
