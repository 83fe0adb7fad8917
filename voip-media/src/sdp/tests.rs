//! Offer/answer scenarios with SDP as real phones write it.

use std::net::{IpAddr, SocketAddr};

use super::*;

const BARESIP: &str = "v=0\r
o=- 1483912468 2187341542 IN IP4 192.168.1.20\r
s=-\r
c=IN IP4 192.168.1.20\r
t=0 0\r
m=audio 10078 RTP/AVP 96 97 9 0 8 101\r
b=AS:117\r
a=rtpmap:96 opus/48000/2\r
a=fmtp:96 stereo=1;sprop-stereo=1\r
a=rtpmap:97 G7221/16000\r
a=fmtp:97 bitrate=32000\r
a=rtpmap:9 G722/8000\r
a=rtpmap:0 PCMU/8000\r
a=rtpmap:8 PCMA/8000\r
a=rtpmap:101 telephone-event/8000\r
a=fmtp:101 0-15\r
a=sendrecv\r
a=label:1\r
a=rtcp-rsize\r
a=ssrc:3566429321 cname:7e6f5a41-44c6-4a8c-94cb-3b6a1ab1c1b1\r
a=ptime:20\r
";

const LINPHONE: &str = "v=0\r
o=alice 3271 2137 IN IP4 192.168.0.12\r
s=Talk\r
c=IN IP4 192.168.0.12\r
t=0 0\r
a=rtcp-xr:rcvr-rtt=all:10000 stat-summary=loss,dup,jitt,TTL voip-metrics\r
a=record:off\r
m=audio 7078 RTP/AVP 96 97 98 0 8 18 101 99 100\r
a=rtpmap:96 opus/48000/2\r
a=fmtp:96 useinbandfec=1\r
a=rtpmap:97 SILK/16000\r
a=rtpmap:98 speex/16000\r
a=fmtp:98 vbr=on\r
a=fmtp:18 annexb=yes\r
a=rtpmap:101 telephone-event/48000\r
a=rtpmap:99 telephone-event/16000\r
a=rtpmap:100 telephone-event/8000\r
a=rtcp-fb:* trr-int 1000\r
a=rtcp-fb:* ccm tmmbr\r
m=video 9078 RTP/AVP 96 97\r
a=rtpmap:96 VP8/90000\r
a=rtpmap:97 H264/90000\r
a=fmtp:97 profile-level-id=42801F\r
a=rtcp-fb:* ccm fir\r
";

/// The audio part of a browser offer that still uses SDES (RTP/SAVPF).
const CHROME_SDES: &str = "v=0\r
o=- 4611731400430051336 2 IN IP4 127.0.0.1\r
s=-\r
t=0 0\r
a=group:BUNDLE 0\r
a=msid-semantic: WMS stream\r
m=audio 51372 RTP/SAVPF 111 63 9 0 8 110 126\r
c=IN IP4 203.0.113.7\r
a=rtcp:9 IN IP4 0.0.0.0\r
a=ice-ufrag:EsAw\r
a=ice-pwd:P2uYro0UCOQ4zxjKXaWCBui1\r
a=ice-options:trickle\r
a=mid:0\r
a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r
a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time\r
a=sendrecv\r
a=msid:stream track\r
a=rtcp-mux\r
a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^31|1:1\r
a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:NzB4d1BINUAvLEw6UzF3WSJ+PSdFcGdUJShpX1Zj|2^20|1:32\r
a=rtpmap:111 opus/48000/2\r
a=rtcp-fb:111 transport-cc\r
a=fmtp:111 minptime=10;useinbandfec=1\r
a=rtpmap:63 red/48000/2\r
a=fmtp:63 111/111\r
a=rtpmap:9 G722/8000\r
a=rtpmap:0 PCMU/8000\r
a=rtpmap:8 PCMA/8000\r
a=rtpmap:110 telephone-event/48000\r
a=rtpmap:126 telephone-event/8000\r
a=ssrc:1001 cname:browser\r
";

/// The same browser with DTLS-SRTP (no a=crypto): not for a SIP leg.
const CHROME_DTLS: &str = "v=0\r
o=- 4611731400430051336 2 IN IP4 127.0.0.1\r
s=-\r
t=0 0\r
m=audio 9 UDP/TLS/RTP/SAVPF 111 0 8 126\r
c=IN IP4 0.0.0.0\r
a=fingerprint:sha-256 19:E2:1C:3B:4B:9F:81:E6:B8:5C:F4:A5:A8:D8:73:04:BB:05:2F:70:9F:04:A9:0E:05:E9:26:33:E8:70:88:A2\r
a=setup:actpass\r
a=rtcp-mux\r
a=rtpmap:111 opus/48000/2\r
a=rtpmap:0 PCMU/8000\r
a=rtpmap:8 PCMA/8000\r
a=rtpmap:126 telephone-event/8000\r
";

fn polycom(version: u32, direction: &str, address: &str) -> String {
    format!(
        "v=0\r
o=- 1607352738 {version} IN IP4 10.0.0.50\r
s=Polycom IP Phone\r
c=IN IP4 {address}\r
t=0 0\r
{direction}\
m=audio 2222 RTP/AVP 9 102 0 8 18 127\r
a=rtpmap:9 G722/8000\r
a=rtpmap:102 G7221/16000\r
a=fmtp:102 bitrate=32000\r
a=rtpmap:0 PCMU/8000\r
a=rtpmap:8 PCMA/8000\r
a=rtpmap:18 G729/8000\r
a=fmtp:18 annexb=no\r
a=rtpmap:127 telephone-event/8000\r
a=x-polycom-feature:1\r
"
    )
}

const LOCAL_IP: &str = "192.0.2.10";

fn config(codecs: Vec<SdpCodec>) -> SdpConfig {
    let ip: IpAddr = LOCAL_IP.parse().unwrap();
    SdpConfig::new(ip, 99, vec![LocalMedia::audio(30000, codecs)])
        .build()
        .unwrap()
}

fn text(b: &bytes::Bytes) -> String {
    String::from_utf8(b.to_vec()).unwrap()
}

fn line<'a>(sdp: &'a str, prefix: &str) -> Vec<&'a str> {
    sdp.lines().filter(|l| l.starts_with(prefix)).collect()
}

#[test]
fn baresip_offer_answered_in_our_order_with_their_payload_types() {
    let mut s = SdpSession::new(config(vec![
        SdpCodec::pcma(),
        SdpCodec::opus(111),
        SdpCodec::pcmu(),
    ]));
    let n = s.handle_offer(BARESIP.as_bytes()).unwrap().to_vec();
    assert_eq!(n.len(), 1);
    let audio = &n[0];
    assert!(audio.accepted);
    let pts: Vec<u8> = audio.codecs.iter().map(|c| c.payload_type).collect();
    assert_eq!(pts, [8, 96, 0], "ours first, their numbers for opus");
    assert_eq!(audio.send_codec().unwrap().name, "PCMA");
    assert_eq!(
        audio.telephone_event_for(8000).map(|t| t.payload_type),
        Some(101)
    );
    assert_eq!(audio.telephone_event_for(48000), None);
    assert_eq!(
        audio.remote_rtp,
        Some("192.168.1.20:10078".parse().unwrap())
    );
    assert_eq!(
        audio.remote_rtcp,
        Some("192.168.1.20:10079".parse().unwrap())
    );
    assert_eq!(audio.remote_ptime, Some(20));
    assert!(!audio.rtcp_mux && !audio.secure && !audio.remote_hold);
    assert!(
        audio
            .remote_attributes
            .iter()
            .any(|a| a.attribute == "label")
    );
    let answer = text(&s.create_answer().unwrap());
    assert_eq!(line(&answer, "m="), ["m=audio 30000 RTP/AVP 8 96 0 101"]);
    assert!(answer.contains("a=rtpmap:96 opus/48000/2\r\n"));
    assert!(answer.contains("a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n"));
    assert!(answer.contains("a=ptime:20\r\n") && answer.contains("a=sendrecv\r\n"));
    assert!(!answer.contains("rtcp-mux"), "not offered, not answered");
    assert_eq!(line(&answer, "o="), ["o=- 99 1 IN IP4 192.0.2.10"]);
    assert_eq!(line(&answer, "c="), ["c=IN IP4 192.0.2.10"]);
}

#[test]
fn linphone_audio_accepted_video_rejected_events_per_rate() {
    let mut s = SdpSession::new(config(vec![SdpCodec::opus(111), SdpCodec::pcmu()]));
    let n = s.handle_offer(LINPHONE.as_bytes()).unwrap().to_vec();
    assert!(n[0].accepted && !n[1].accepted);
    let te: Vec<(u32, u8)> = n[0]
        .telephone_events
        .iter()
        .map(|t| (t.clock_rate, t.payload_type))
        .collect();
    assert_eq!(
        te,
        [(48000, 101), (8000, 100)],
        "16 kHz events have no codec"
    );
    let answer = text(&s.create_answer().unwrap());
    assert_eq!(
        line(&answer, "m="),
        ["m=audio 30000 RTP/AVP 96 0 101 100", "m=video 0 RTP/AVP 96"]
    );
    // Static G729 (18) offered without rtpmap is understood but not ours.
    let remote = s.remote_description().unwrap();
    let view = MediaView::read(remote, &remote.medias[0]);
    assert!(
        view.codecs
            .iter()
            .any(|c| c.name == "G729" && c.fmtp.as_deref() == Some("annexb=yes"))
    );
    assert!(
        remote.attributes.iter().any(|a| a.attribute == "record"),
        "unknown session attributes kept"
    );
}

#[test]
fn chrome_like_sdes_offer_keeps_profile_and_passes_crypto() {
    let mut cfg = config(vec![SdpCodec::opus(111), SdpCodec::pcmu()]);
    cfg.media[0].srtp = SrtpPolicy::Optional;
    let mut s = SdpSession::new(cfg);
    let n = s.handle_offer(CHROME_SDES.as_bytes()).unwrap().to_vec();
    let a = &n[0];
    assert!(a.accepted && a.secure && a.rtcp_mux);
    assert_eq!(a.proto, "RTP/SAVPF");
    assert_eq!(a.remote_crypto.len(), 2);
    assert!(a.remote_crypto[0].starts_with("1 AES_CM_128_HMAC_SHA1_80 inline:"));
    assert_eq!(a.remote_rtcp, a.remote_rtp, "rtcp-mux: one port");
    let te: Vec<u8> = a.telephone_events.iter().map(|t| t.payload_type).collect();
    assert_eq!(te, [110, 126]);
    // Without keys from the SRTP module the secure stream cannot be answered.
    let mut no_keys = SdpSession::new(s.config_for_test());
    no_keys.handle_offer(CHROME_SDES.as_bytes()).unwrap();
    let err = no_keys.create_answer().unwrap_err();
    assert_eq!((err.clone(), err.status()), (SdpError::NotAcceptable, 488));
    // With them: same profile, our crypto line, rtcp-mux.
    let ours = "1 AES_CM_128_HMAC_SHA1_80 inline:d0RmdmcmVCspeEc3QGZiNWpVLFJhQX1cfHAwJSoj|2^31"
        .to_string();
    s.set_answer_crypto(0, vec![ours.clone()]);
    let answer = text(&s.create_answer().unwrap());
    assert_eq!(
        line(&answer, "m="),
        ["m=audio 30000 RTP/SAVPF 111 0 110 126"]
    );
    assert!(answer.contains(&format!("a=crypto:{ours}\r\n")));
    assert!(answer.contains("a=rtcp-mux\r\n"));
    assert_eq!(s.negotiated()[0].local_crypto, [ours]);
}

#[test]
fn profiles_must_match_the_policy() {
    // A DTLS-SRTP offer to a plain SIP leg: 488.
    let mut s = SdpSession::new(config(vec![SdpCodec::pcmu()]));
    let err = s.handle_offer(CHROME_DTLS.as_bytes()).unwrap_err();
    assert_eq!(err.status(), 488);
    // SRTP required: an RTP/AVP offer is not acceptable.
    let mut cfg = config(vec![SdpCodec::pcmu()]);
    cfg.media[0].srtp = SrtpPolicy::Required;
    let mut s = SdpSession::new(cfg);
    assert_eq!(
        s.handle_offer(BARESIP.as_bytes()).unwrap_err(),
        SdpError::NotAcceptable
    );
    // ...and our offer is RTP/SAVP with the crypto lines we were given.
    assert!(matches!(s.create_offer(), Err(SdpError::State(_))));
    s.set_offer_crypto(0, vec!["1 AES_CM_128_HMAC_SHA1_80 inline:abc".into()]);
    let offer = text(&s.create_offer().unwrap());
    assert_eq!(line(&offer, "m="), ["m=audio 30000 RTP/SAVP 0 101"]);
    assert!(offer.contains("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:abc\r\n"));
}

#[test]
fn no_common_codec_is_488_and_leaves_the_session_alone() {
    let mut s = SdpSession::new(config(vec![SdpCodec::opus(111)]));
    let offer = polycom(1, "", "10.0.0.50");
    let err = s.handle_offer(offer.as_bytes()).unwrap_err();
    assert_eq!(err, SdpError::NotAcceptable);
    assert_eq!(err.status(), 488);
    assert!(s.negotiated().is_empty() && s.local_description().is_none());
    // telephone-event alone is not a codec either.
    let only_events = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n\
m=audio 4000 RTP/AVP 101\r\na=rtpmap:101 telephone-event/8000\r\n";
    assert_eq!(
        s.handle_offer(only_events.as_bytes()).unwrap_err().status(),
        488
    );
    assert_eq!(s.handle_offer(b"hello").unwrap_err().status(), 400);
}

#[test]
fn polycom_hold_resume_and_refresh_as_answerer() {
    let mut s = SdpSession::new(config(vec![SdpCodec::g722(), SdpCodec::pcmu()]));
    s.handle_offer(polycom(1607352738, "", "10.0.0.50").as_bytes())
        .unwrap();
    let a1 = text(&s.create_answer().unwrap());
    assert_eq!(line(&a1, "m="), ["m=audio 30000 RTP/AVP 9 0 127"]);
    assert_eq!(s.version(), 1);
    assert!(
        s.negotiated()[0]
            .remote_attributes
            .iter()
            .any(|a| a.attribute == "x-polycom-feature")
    );

    // Hold: session-level a=sendonly in a re-INVITE.
    let n = s
        .handle_offer(polycom(1607352739, "a=sendonly\r\n", "10.0.0.50").as_bytes())
        .unwrap();
    assert!(n[0].remote_hold);
    let a2 = text(&s.create_answer().unwrap());
    assert!(a2.contains("a=recvonly\r\n"));
    assert_eq!(s.negotiated()[0].direction, Direction::RecvOnly);
    assert_eq!(s.version(), 2);
    assert_eq!(line(&a2, "o="), ["o=- 99 2 IN IP4 192.0.2.10"]);

    // Resume.
    s.handle_offer(polycom(1607352740, "a=sendrecv\r\n", "10.0.0.50").as_bytes())
        .unwrap();
    let a3 = text(&s.create_answer().unwrap());
    assert!(a3.contains("a=sendrecv\r\n"));
    assert_eq!(s.version(), 3);

    // Session refresh with the same SDP: our answer keeps its version.
    s.handle_offer(polycom(1607352740, "a=sendrecv\r\n", "10.0.0.50").as_bytes())
        .unwrap();
    let a4 = text(&s.create_answer().unwrap());
    assert_eq!(a4, a3);
    assert_eq!(s.version(), 3);

    // RFC 2543 hold: c=0.0.0.0, no direction attribute.
    let n = s
        .handle_offer(polycom(1607352741, "", "0.0.0.0").as_bytes())
        .unwrap();
    assert!(n[0].remote_hold && n[0].remote_rtp.is_none());
    let a5 = text(&s.create_answer().unwrap());
    assert!(a5.contains("a=recvonly\r\n"));

    // inactive answers inactive.
    s.handle_offer(polycom(1607352742, "a=inactive\r\n", "10.0.0.50").as_bytes())
        .unwrap();
    assert!(text(&s.create_answer().unwrap()).contains("a=inactive\r\n"));
}

#[test]
fn we_hold_and_resume_as_offerer() {
    let mut s = SdpSession::new(config(vec![
        SdpCodec::opus(111),
        SdpCodec::pcmu(),
        SdpCodec::pcma(),
    ]));
    let o1 = text(&s.create_offer().unwrap());
    assert_eq!(line(&o1, "m="), ["m=audio 30000 RTP/AVP 111 0 8 96 101"]);
    assert!(o1.contains("a=rtpmap:96 telephone-event/48000\r\n"));
    assert!(o1.contains("a=rtpmap:101 telephone-event/8000\r\n"));
    assert!(o1.contains("a=rtcp-mux\r\n") && o1.contains("a=sendrecv\r\n"));
    assert!(s.has_pending_offer());
    // The answerer picks PCMU and telephone-event/8000, with rtcp-mux.
    let answer = "v=0\r\no=- 5 5 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\n\
m=audio 40000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-15\r\na=rtcp-mux\r\na=ptime:30\r\n";
    let n = s.handle_answer(answer.as_bytes()).unwrap();
    assert_eq!(n[0].send_codec(), Some(&SdpCodec::pcmu()));
    assert_eq!(
        n[0].telephone_event_for(8000).map(|t| t.payload_type),
        Some(101)
    );
    assert!(n[0].rtcp_mux);
    assert_eq!(
        n[0].remote_rtcp,
        Some(SocketAddr::from(([198, 51, 100, 7], 40000)))
    );
    assert_eq!(n[0].remote_ptime, Some(30));
    assert_eq!(n[0].direction, Direction::SendRecv);

    // Same offer again (e.g. a session refresh): version unchanged.
    let again = text(&s.create_offer().unwrap());
    assert_eq!(line(&again, "o="), ["o=- 99 1 IN IP4 192.0.2.10"]);
    s.handle_answer(answer.as_bytes()).unwrap();

    s.hold();
    let o2 = text(&s.create_offer().unwrap());
    assert_eq!(line(&o2, "o="), ["o=- 99 2 IN IP4 192.0.2.10"]);
    assert!(o2.contains("a=sendonly\r\n"));
    let held = answer.replace("a=ptime:30\r\n", "a=recvonly\r\n");
    let n = s.handle_answer(held.as_bytes()).unwrap();
    assert_eq!(n[0].direction, Direction::SendOnly);
    assert!(!n[0].remote_hold, "the peer still receives");

    s.resume();
    let o3 = text(&s.create_offer().unwrap());
    assert_eq!(s.version(), 3);
    assert!(o3.contains("a=sendrecv\r\n"));
    s.handle_answer(answer.as_bytes()).unwrap();
    assert!(!s.is_on_hold());
}

#[test]
fn reoffer_keeps_agreed_payload_types_and_m_line_order() {
    let ip: IpAddr = LOCAL_IP.parse().unwrap();
    let mut audio2 = LocalMedia::audio(30002, vec![SdpCodec::pcmu()]);
    audio2.telephone_event = false;
    let cfg = SdpConfig::new(
        ip,
        7,
        vec![
            LocalMedia::audio(30000, vec![SdpCodec::opus(111), SdpCodec::pcmu()]),
            audio2,
        ],
    )
    .build()
    .unwrap();
    let mut s = SdpSession::new(cfg);
    // Linphone offers audio (opus as 96) and video: video is rejected.
    s.handle_offer(LINPHONE.as_bytes()).unwrap();
    s.create_answer().unwrap();
    // Our re-offer: same m-lines in the same order (video stays port 0),
    // opus keeps 96, telephone-events keep 101/100; the unused second
    // audio stream is added at the end.
    let o = text(&s.create_offer().unwrap());
    assert_eq!(
        line(&o, "m="),
        [
            "m=audio 30000 RTP/AVP 96 0 101 100",
            "m=video 0 RTP/AVP 0",
            "m=audio 30002 RTP/AVP 0"
        ]
    );
    // The answer must have the same number of m-lines.
    let short = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
    assert_eq!(
        s.handle_answer(short.as_bytes()).unwrap_err(),
        SdpError::BadAnswer("m-line count differs from the offer")
    );
    s.rollback();
    assert!(!s.has_pending_offer());
}

#[test]
fn glare_rollback_and_state_errors() {
    let mut s = SdpSession::new(config(vec![SdpCodec::pcmu()]));
    assert!(matches!(s.create_answer(), Err(SdpError::State(_))));
    assert!(matches!(
        s.handle_answer(BARESIP.as_bytes()),
        Err(SdpError::BadAnswer(_))
    ));
    s.create_offer().unwrap();
    let err = s.handle_offer(BARESIP.as_bytes()).unwrap_err();
    assert_eq!((err.clone(), err.status()), (SdpError::Glare, 491));
    assert!(matches!(s.create_offer(), Err(SdpError::State(_))));
    s.rollback();
    assert!(s.local_description().is_none());
    s.handle_offer(BARESIP.as_bytes()).unwrap();
    assert!(matches!(
        s.handle_offer(BARESIP.as_bytes()),
        Err(SdpError::State(_))
    ));
    s.create_answer().unwrap();
    // An answer naming a codec we never offered.
    s.create_offer().unwrap();
    let odd = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n\
m=audio 4000 RTP/AVP 18\r\n";
    assert!(matches!(
        s.handle_answer(odd.as_bytes()),
        Err(SdpError::BadAnswer(_))
    ));
}

#[test]
fn multiple_m_lines_image_and_unknown_lines() {
    let offer = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n\
y=an unknown line type\r\n\
m=image 5000 udptl t38\r\na=T38FaxVersion:0\r\n\
m=audio 4000 RTP/AVP 0 8\r\na=x-unknown\r\na=maxptime:40\r\n\
m=audio 4002 RTP/AVP 0\r\n";
    let mut s = SdpSession::new(config(vec![SdpCodec::pcma(), SdpCodec::pcmu()]));
    let n = s.handle_offer(offer.as_bytes()).unwrap().to_vec();
    assert_eq!(
        n.iter().map(|m| m.accepted).collect::<Vec<_>>(),
        [false, true, false]
    );
    assert_eq!(n[1].remote_maxptime, Some(40));
    let answer = text(&s.create_answer().unwrap());
    assert_eq!(
        line(&answer, "m="),
        [
            "m=image 0 udptl t38",
            "m=audio 30000 RTP/AVP 8 0",
            "m=audio 0 RTP/AVP 0"
        ]
    );
}

#[test]
fn round_trip_parse_print() {
    let samples = [
        BARESIP.to_string(),
        LINPHONE.to_string(),
        CHROME_SDES.to_string(),
        CHROME_DTLS.to_string(),
        polycom(3, "a=sendonly\r\n", "10.0.0.50"),
    ];
    for sdp in samples {
        let parsed = Session::parse(sdp.as_bytes()).unwrap();
        let mut printed = Vec::new();
        parsed.write(&mut printed).unwrap();
        assert_eq!(Session::parse(&printed).unwrap(), parsed);
        // Our printer changes nothing but the b= value formatting.
        assert_eq!(String::from_utf8(printed).unwrap(), sdp, "printed differs");
    }
    // Our own descriptions parse back to what we built.
    let mut s = SdpSession::new(config(vec![SdpCodec::opus(111), SdpCodec::pcmu()]));
    let offer = s.create_offer().unwrap();
    assert_eq!(
        &Session::parse(&offer).unwrap(),
        s.local_description().unwrap()
    );
}

impl SdpSession {
    fn config_for_test(&self) -> SdpConfig {
        let mut c = config(vec![SdpCodec::opus(111), SdpCodec::pcmu()]);
        c.media[0].srtp = SrtpPolicy::Optional;
        c
    }
}
