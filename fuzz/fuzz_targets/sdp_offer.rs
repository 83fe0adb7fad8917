//! Arbitrary bytes as a remote offer or answer into the SDP negotiator:
//! nothing may panic, errors carry a SIP status, and whatever we answer
//! parses back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use voip_media::sdp::{LocalMedia, SdpCodec, SdpConfig, SdpSession, Session, SrtpPolicy};

fn session(srtp: SrtpPolicy) -> SdpSession {
    let mut audio = LocalMedia::audio(30000, vec![SdpCodec::opus(111), SdpCodec::pcmu(), SdpCodec::pcma()]);
    audio.srtp = srtp;
    let video = LocalMedia {
        kind: "video".into(),
        ..LocalMedia::audio(30002, vec![SdpCodec::new("H264", 90000, 1, 102)])
    };
    let config = SdpConfig::new([192, 0, 2, 10].into(), 1, vec![audio, video]);
    let mut s = SdpSession::new(config);
    s.set_offer_crypto(0, vec!["1 AES_CM_128_HMAC_SHA1_80 inline:abc".into()]);
    s
}

fn check_answer(bytes: &[u8]) {
    assert!(Session::parse(bytes).is_ok(), "our own answer must parse");
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, body)) = data.split_first() else { return };
    let policy = match mode % 3 {
        0 => SrtpPolicy::Disabled,
        1 => SrtpPolicy::Optional,
        _ => SrtpPolicy::Required,
    };
    // As answerer: offer, answer, then the same bytes as a re-offer.
    let mut s = session(policy);
    for round in 0..2 {
        match s.handle_offer(body) {
            Ok(n) => {
                let n = n.len();
                for i in 0..n {
                    s.set_answer_crypto(i, vec!["1 AES_CM_128_HMAC_SHA1_80 inline:xyz".into()]);
                }
                match s.create_answer() {
                    Ok(answer) => check_answer(&answer),
                    Err(e) => assert!(e.status() >= 400),
                }
            }
            Err(e) => assert!(e.status() >= 400),
        }
        if round == 0 && mode & 4 != 0 {
            s.hold();
        }
    }
    // As offerer: our offer, then the bytes as the answer; then a re-offer.
    let mut s = session(policy);
    if let Ok(offer) = s.create_offer() {
        check_answer(&offer);
        if s.handle_answer(body).is_err() {
            s.rollback();
        }
        if let Ok(again) = s.create_offer() {
            check_answer(&again);
        }
    }
});
