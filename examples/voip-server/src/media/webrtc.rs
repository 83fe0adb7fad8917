//! Browser calls in the anchor (rtpengine's WebRTC bridge next to
//! Kamailio's WebSocket gateway): the sans-IO tracker that says, for each
//! message the proxy sends, which `WebRtcBridge` command its SDP needs.
//!
//! Which side is a browser:
//! - the **caller** is a browser when its offer is WebRTC: the audio
//!   `m=` line is `UDP/TLS/RTP/SAVPF` (or `.../SAVP`) and the SDP has an
//!   `a=fingerprint` (what every browser sends, over WS or not);
//! - the **callee** is a browser when the INVITE leaves over WS/WSS (it
//!   registered over a WebSocket, RFC 7118: a browser's binding).
//!
//! ```text
//! caller  callee   shape             INVITE body to the callee       2xx body to the caller
//! browser plain    BrowserToPlain    bridge plain offer (RTP/AVP)    bridge WebRTC answer
//! plain   browser  PlainToBrowser    bridge WebRTC offer             bridge plain answer
//! browser browser  BrowserToBrowser  bridge B's WebRTC offer         bridge A's WebRTC answer
//!                                    (A's plain offer into B)        (B's plain answer into A)
//! plain   plain    — (the relay's, `exchange`)
//! ```
//!
//! Only the initial offer/answer (INVITE, then 18x/2xx) is bridged.
//! Copies (retransmissions, forks, the 200 after a 183 with the same
//! answer) get the body rewritten before. A re-offer later in the call
//! is sent on with the body that side already has (the session goes on
//! as first negotiated).

use std::collections::HashMap;

use bytes::Bytes;
use voip_core::{Transmit, TransportProtocol};
use voip_sip::{Message, Method};

use super::message::{Facts, Kind};
use super::webrtc_dialog::DialogTrace;

/// Who is a browser in a bridged call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A browser calls a SIP phone, a trunk or the IVR.
    BrowserToPlain,
    /// A SIP phone (or the IVR) calls a browser.
    PlainToBrowser,
    /// A browser calls a browser; media through the server.
    BrowserToBrowser,
}

impl Shape {
    /// The shape of a call whose first INVITE carries `offer` and leaves
    /// over `protocol`; `None`: no browser on either end.
    pub fn of(offer: &[u8], protocol: TransportProtocol) -> Option<Self> {
        let to_browser = matches!(protocol, TransportProtocol::Ws | TransportProtocol::Wss);
        match (is_webrtc(offer), to_browser) {
            (true, false) => Some(Self::BrowserToPlain),
            (false, true) => Some(Self::PlainToBrowser),
            (true, true) => Some(Self::BrowserToBrowser),
            (false, false) => None,
        }
    }
}

/// Whether an SDP is a WebRTC one: the first audio stream uses DTLS-SRTP
/// (`UDP/TLS/RTP/SAVP[F]`) and there is an `a=fingerprint`.
pub fn is_webrtc(sdp: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(sdp) else {
        return false;
    };
    let dtls = text.lines().any(|l| {
        let mut words = l.split_whitespace();
        words.next().is_some_and(|m| m.starts_with("m=audio"))
            && words
                .nth(1)
                .is_some_and(|p| p.starts_with("UDP/TLS/RTP/SAVP"))
    });
    dtls && text.lines().any(|l| l.starts_with("a=fingerprint:"))
}

/// What to do with one outgoing message of a browser call.
#[derive(Debug, Clone, PartialEq)]
pub enum WebPlan {
    /// Send it as it is.
    Pass,
    /// Send it with this body.
    Body(Bytes),
    /// Open the call's bridges with the caller's offer; the result is the
    /// INVITE's body. Then [`BrowserCalls::complete`].
    Open {
        /// The call.
        call_id: String,
        /// Who is a browser.
        shape: Shape,
        /// The caller's offer.
        offer: Bytes,
    },
    /// The callee's answer; the result is the body for the caller.
    Answer {
        /// The call.
        call_id: String,
        /// The callee's answer.
        answer: Bytes,
    },
}

#[derive(Debug)]
struct WebCall {
    #[cfg_attr(not(test), allow(dead_code))]
    shape: Shape,
    a_tag: Option<Bytes>,
    invite_cseq: u32,
    /// The body the callee got (our offer), and the one the caller got (our answer).
    to_callee: Option<Bytes>,
    to_caller: Option<Bytes>,
    /// The bridge refused: messages pass untouched.
    broken: bool,
    dialog: DialogTrace,
}

/// The tracker of browser calls.
#[derive(Debug, Default)]
pub struct BrowserCalls {
    calls: HashMap<String, WebCall>,
}

impl BrowserCalls {
    /// Whether the call is a browser call.
    pub fn contains(&self, call_id: &str) -> bool {
        self.calls.contains_key(call_id)
    }

    /// The call's shape.
    #[cfg(test)]
    pub fn shape(&self, call_id: &str) -> Option<Shape> {
        self.calls.get(call_id).map(|c| c.shape)
    }

    /// The dialog seen so far (for a teardown).
    pub fn dialog(&self, call_id: &str) -> Option<&DialogTrace> {
        self.calls.get(call_id).map(|c| &c.dialog)
    }

    /// Forgets a call.
    pub fn remove(&mut self, call_id: &str) -> bool {
        self.calls.remove(call_id).is_some()
    }

    /// What to do with a message; `None` when the call is not (and does
    /// not become) a browser call. `new_call_allowed`: the call is not
    /// anchored otherwise yet.
    pub fn plan(
        &mut self,
        facts: &Facts,
        message: &Message,
        transmit: &Transmit,
        new_call_allowed: bool,
    ) -> Option<WebPlan> {
        let initial = facts.kind == Kind::Request(Method::Invite) && facts.to_tag.is_none();
        if !self.calls.contains_key(&facts.call_id) {
            if !initial || !new_call_allowed {
                return None;
            }
            let offer = facts.sdp.clone()?;
            let shape = Shape::of(&offer, transmit.protocol)?;
            let mut dialog = DialogTrace::default();
            dialog.invite(message, transmit, facts.cseq);
            self.calls.insert(
                facts.call_id.clone(),
                WebCall {
                    shape,
                    a_tag: facts.from_tag.clone(),
                    invite_cseq: facts.cseq,
                    to_callee: None,
                    to_caller: None,
                    broken: false,
                    dialog,
                },
            );
            return Some(WebPlan::Open {
                call_id: facts.call_id.clone(),
                shape,
                offer,
            });
        }
        let call = self.calls.get_mut(&facts.call_id)?;
        let from_caller = facts.from_tag == call.a_tag;
        if let Kind::Request(_) = facts.kind
            && !initial
        {
            call.dialog.request(from_caller, facts.cseq);
        }
        if call.broken {
            return Some(WebPlan::Pass);
        }
        let initial_answer = matches!(facts.kind, Kind::Response(101..=299))
            && facts.cseq_method == Method::Invite
            && facts.cseq == call.invite_cseq
            && from_caller;
        if initial_answer && matches!(facts.kind, Kind::Response(200..=299)) {
            call.dialog.answered(message, transmit);
        }
        if initial {
            // a retransmission or a forked copy of the first INVITE
            return Some(call.to_callee.clone().map_or(WebPlan::Pass, WebPlan::Body));
        }
        let Some(sdp) = facts.sdp.clone() else {
            return Some(WebPlan::Pass);
        };
        if initial_answer {
            return Some(match &call.to_caller {
                Some(body) => WebPlan::Body(body.clone()),
                None => WebPlan::Answer {
                    call_id: facts.call_id.clone(),
                    answer: sdp,
                },
            });
        }
        // A later offer or answer: the receiving side keeps what it has.
        // Requests from the caller and responses to the callee's requests
        // go to the callee.
        let to_callee = match facts.kind {
            Kind::Request(_) => from_caller,
            Kind::Response(_) => !from_caller,
        };
        let body = if to_callee {
            &call.to_callee
        } else {
            &call.to_caller
        };
        Some(body.clone().map_or(WebPlan::Pass, WebPlan::Body))
    }

    /// The outcome of an `Open` or `Answer`: the body sent, or a refusal
    /// (the call's messages then pass untouched).
    pub fn complete(&mut self, call_id: &str, opened: bool, result: Option<Bytes>) {
        let Some(call) = self.calls.get_mut(call_id) else {
            return;
        };
        match (opened, result) {
            (_, None) => call.broken = true,
            (true, Some(body)) => call.to_callee = Some(body),
            (false, Some(body)) => call.to_caller = Some(body),
        }
    }
}

#[cfg(test)]
mod tests {
    use voip_sip::{ParseConfig, parse_message};

    use super::*;

    const WEBRTC: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
        a=group:BUNDLE 0\r\na=fingerprint:sha-256 AB:CD\r\n\
        m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=rtpmap:111 opus/48000/2\r\n";
    const PLAIN: &str = "v=0\r\no=- 1 2 IN IP4 10.0.0.2\r\ns=-\r\nc=IN IP4 10.0.0.2\r\nt=0 0\r\n\
        m=audio 4000 RTP/AVP 0\r\n";

    fn message(start: &str, to_tag: bool, from_caller: bool, cseq: &str, body: &str) -> Message {
        let (f, t) = if from_caller {
            ("ta", "tb")
        } else {
            ("tb", "ta")
        };
        let to = if to_tag {
            format!(";tag={t}")
        } else {
            String::new()
        };
        let ct = if body.is_empty() {
            ""
        } else {
            "Content-Type: application/sdp\r\n"
        };
        let text = format!(
            "{start}\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@h>;tag={f}\r\n\
             To: <sip:b@h>{to}\r\nCall-ID: c1\r\nCSeq: {cseq}\r\nContact: <sip:a@10.0.0.9>\r\n\
             {ct}Content-Length: {}\r\n\r\n{body}",
            body.len()
        );
        parse_message(Bytes::from(text), &ParseConfig::default()).unwrap()
    }

    fn transmit(protocol: TransportProtocol) -> Transmit {
        Transmit {
            protocol,
            source: None,
            destination: "10.0.0.9:5060".parse().unwrap(),
            connection: None,
            contents: Bytes::new(),
        }
    }

    fn plan(x: &mut BrowserCalls, m: &Message, p: TransportProtocol) -> Option<WebPlan> {
        x.plan(&Facts::of(m).unwrap(), m, &transmit(p), true)
    }

    #[test]
    fn shapes_from_the_offer_and_the_transport() {
        use TransportProtocol::*;
        assert!(is_webrtc(WEBRTC.as_bytes()));
        assert!(!is_webrtc(PLAIN.as_bytes()));
        assert!(
            !is_webrtc(b"m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"),
            "no fingerprint"
        );
        assert_eq!(
            Shape::of(WEBRTC.as_bytes(), Udp),
            Some(Shape::BrowserToPlain)
        );
        assert_eq!(
            Shape::of(WEBRTC.as_bytes(), Wss),
            Some(Shape::BrowserToBrowser)
        );
        assert_eq!(Shape::of(PLAIN.as_bytes(), Ws), Some(Shape::PlainToBrowser));
        assert_eq!(Shape::of(PLAIN.as_bytes(), Tcp), None);
    }

    #[test]
    fn browser_to_plain_offer_answer_copies_and_reoffers() {
        use TransportProtocol::*;
        let mut x = BrowserCalls::default();
        let invite = message("INVITE sip:b@h SIP/2.0", false, true, "1 INVITE", WEBRTC);
        assert_eq!(
            plan(&mut x, &invite, Udp),
            Some(WebPlan::Open {
                call_id: "c1".into(),
                shape: Shape::BrowserToPlain,
                offer: Bytes::from_static(WEBRTC.as_bytes()),
            })
        );
        x.complete("c1", true, Some(Bytes::from_static(b"plain-offer")));
        assert_eq!(
            plan(&mut x, &invite, Udp),
            Some(WebPlan::Body(Bytes::from_static(b"plain-offer")))
        );
        let ringing = message("SIP/2.0 180 Ringing", true, true, "1 INVITE", "");
        assert_eq!(plan(&mut x, &ringing, Ws), Some(WebPlan::Pass));
        let ok = message("SIP/2.0 200 OK", true, true, "1 INVITE", PLAIN);
        assert_eq!(
            plan(&mut x, &ok, Ws),
            Some(WebPlan::Answer {
                call_id: "c1".into(),
                answer: Bytes::from_static(PLAIN.as_bytes())
            })
        );
        x.complete("c1", false, Some(Bytes::from_static(b"browser-answer")));
        assert!(x.dialog("c1").unwrap().is_confirmed());
        // the 200 retransmitted
        assert_eq!(
            plan(&mut x, &ok, Ws),
            Some(WebPlan::Body(Bytes::from_static(b"browser-answer")))
        );
        // a re-INVITE from the callee reaches the browser with its answer kept
        let reinvite = message("INVITE sip:a@h SIP/2.0", true, false, "5 INVITE", PLAIN);
        assert_eq!(
            plan(&mut x, &reinvite, Ws),
            Some(WebPlan::Body(Bytes::from_static(b"browser-answer")))
        );
        let reply = message("SIP/2.0 200 OK", true, false, "5 INVITE", WEBRTC);
        assert_eq!(
            plan(&mut x, &reply, Udp),
            Some(WebPlan::Body(Bytes::from_static(b"plain-offer")))
        );
        let bye = message("BYE sip:b@h SIP/2.0", true, true, "2 BYE", "");
        assert_eq!(plan(&mut x, &bye, Udp), Some(WebPlan::Pass));
        assert!(x.remove("c1"));
        // an unknown call's messages are not ours
        assert_eq!(plan(&mut x, &bye, Udp), None);
    }

    #[test]
    fn plain_calls_and_refusals() {
        use TransportProtocol::*;
        let mut x = BrowserCalls::default();
        let invite = message("INVITE sip:b@h SIP/2.0", false, true, "1 INVITE", PLAIN);
        assert_eq!(
            plan(&mut x, &invite, Udp),
            None,
            "phone to phone: the relay's"
        );
        let offerless = message("INVITE sip:b@h SIP/2.0", false, true, "1 INVITE", "");
        assert_eq!(
            plan(&mut x, &offerless, Ws),
            None,
            "no late offer to browsers"
        );
        assert_eq!(
            plan(&mut x, &invite, Ws).map(|p| matches!(p, WebPlan::Open { .. })),
            Some(true)
        );
        x.complete("c1", true, None);
        let ok = message("SIP/2.0 200 OK", true, true, "1 INVITE", WEBRTC);
        assert_eq!(plan(&mut x, &ok, Udp), Some(WebPlan::Pass));
        assert_eq!(x.shape("c1"), Some(Shape::PlainToBrowser));
    }
}
