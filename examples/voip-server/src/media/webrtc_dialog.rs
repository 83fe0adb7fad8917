//! What the anchor remembers of a bridged call's dialog so the server can
//! hang it up itself when the browser's media fails (a wrong DTLS
//! fingerprint, no ICE, consent lost): a BYE each way, built from the
//! messages the proxy sent (Kamailio's `dlg_end_dlg` role).
//!
//! ```text
//! INVITE to the callee ... From (caller tag), Call-ID, CSeq, caller Contact,
//!                          Record-Route [ours.., caller side..], where it went
//! 2xx to the caller ...... To (callee tag), callee Contact,
//!                          Record-Route [callee side.., ours.., caller side..], where it went
//! requests in the dialog . the highest CSeq each side used
//!   ─► BYE to the callee: R-URI callee Contact, Route = callee side reversed,
//!                         CSeq caller's + 1, sent where the INVITE went
//!   ─► BYE to the caller: R-URI caller Contact, Route = caller side,
//!                         CSeq callee's + 1, sent where the 2xx went
//! ```

use bytes::Bytes;
use voip_core::Transmit;
use voip_sip::header::{Contact, RecordRoute, Route, TypedHeader};
use voip_sip::transaction::Target;
use voip_sip::{Known, Message, ParseConfig, Request, Uri, parse_message};

/// The dialog as the proxy saw it pass.
#[derive(Debug, Clone, Default)]
pub struct DialogTrace {
    call_id: Bytes,
    from: Option<Bytes>,
    to: Option<Bytes>,
    caller_contact: Option<Uri>,
    callee_contact: Option<Uri>,
    invite_rr: Vec<RecordRoute>,
    answer_rr: Vec<RecordRoute>,
    to_callee: Option<Target>,
    to_caller: Option<Target>,
    /// Highest CSeq used by `[caller, callee]`.
    cseq: [u32; 2],
}

fn target_of(transmit: &Transmit) -> Target {
    Target {
        protocol: transmit.protocol,
        destination: transmit.destination,
        connection: transmit.connection,
    }
}

fn contact_uri(message: &Message) -> Option<Uri> {
    let contact = message.headers().typed::<Contact>()?.ok()?;
    Some(contact.address()?.uri().clone())
}

impl DialogTrace {
    /// Notes the initial INVITE as it goes to the callee.
    pub fn invite(&mut self, message: &Message, transmit: &Transmit, cseq: u32) {
        let headers = message.headers();
        self.call_id = headers.get_bytes(&Known::CallId.into()).unwrap_or_default();
        self.from = headers.get_bytes(&Known::From.into());
        self.caller_contact = contact_uri(message);
        self.invite_rr = headers
            .typed_all::<RecordRoute>()
            .filter_map(Result::ok)
            .collect();
        self.to_callee = Some(target_of(transmit));
        self.cseq[0] = self.cseq[0].max(cseq);
    }

    /// Notes a 2xx to the initial INVITE as it goes to the caller.
    pub fn answered(&mut self, message: &Message, transmit: &Transmit) {
        if self.to.is_some() {
            return;
        }
        let headers = message.headers();
        self.to = headers.get_bytes(&Known::To.into());
        self.callee_contact = contact_uri(message);
        self.answer_rr = headers
            .typed_all::<RecordRoute>()
            .filter_map(Result::ok)
            .collect();
        self.to_caller = Some(target_of(transmit));
    }

    /// Notes a request inside the dialog from the caller (`true`) or the callee.
    pub fn request(&mut self, from_caller: bool, cseq: u32) {
        let i = usize::from(!from_caller);
        self.cseq[i] = self.cseq[i].max(cseq);
    }

    /// Whether a 2xx reached the caller (the dialog exists).
    pub fn is_confirmed(&self) -> bool {
        self.to.is_some()
    }

    /// The two BYEs (to the callee, to the caller) with where to send
    /// them; `None` until the call was answered. `is_ours` tells our own
    /// Record-Route entries (the proxy's addresses). The requests carry no
    /// Via: the sender adds its own.
    pub fn byes(
        &self,
        reason: &str,
        is_ours: impl Fn(&Uri) -> bool,
    ) -> Option<Vec<(Request, Target)>> {
        let (from, to) = (self.from.as_ref()?, self.to.as_ref()?);
        let ours_on_top = self
            .invite_rr
            .iter()
            .take_while(|r| is_ours(r.uri()))
            .count();
        let callee_side = self.answer_rr.len().saturating_sub(self.invite_rr.len());
        let to_callee_routes: Vec<&RecordRoute> =
            self.answer_rr[..callee_side].iter().rev().collect();
        let to_caller_routes: Vec<&RecordRoute> = self.invite_rr[ours_on_top..].iter().collect();
        let mut out = Vec::with_capacity(2);
        if let (Some(uri), Some(target)) = (&self.callee_contact, self.to_callee) {
            let bye = self.bye(uri, &to_callee_routes, from, to, self.cseq[0] + 1, reason)?;
            out.push((bye, target));
        }
        if let (Some(uri), Some(target)) = (&self.caller_contact, self.to_caller) {
            let bye = self.bye(uri, &to_caller_routes, to, from, self.cseq[1] + 1, reason)?;
            out.push((bye, target));
        }
        Some(out)
    }

    fn bye(
        &self,
        uri: &Uri,
        routes: &[&RecordRoute],
        from: &Bytes,
        to: &Bytes,
        cseq: u32,
        reason: &str,
    ) -> Option<Request> {
        let mut text = format!("BYE {uri} SIP/2.0\r\n");
        for r in routes {
            let route = Route(r.0.clone()).to_bytes();
            text.push_str(&format!("Route: {}\r\n", String::from_utf8_lossy(&route)));
        }
        let quoted: String = reason
            .chars()
            .filter(|c| *c != '"' && *c != '\\' && !c.is_control())
            .collect();
        text.push_str(&format!(
            "Max-Forwards: 70\r\nFrom: {}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: {cseq} BYE\r\n\
             Reason: SIP;cause=500;text=\"{quoted}\"\r\nContent-Length: 0\r\n\r\n",
            String::from_utf8_lossy(from),
            String::from_utf8_lossy(to),
            String::from_utf8_lossy(&self.call_id),
        ));
        match parse_message(Bytes::from(text), &ParseConfig::default()).ok()? {
            Message::Request(r) => Some(r),
            Message::Response(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use voip_core::{ConnectionId, TransportProtocol};

    use super::*;

    fn parse(text: &str) -> Message {
        parse_message(
            Bytes::from(text.replace('\n', "\r\n")),
            &ParseConfig::default(),
        )
        .unwrap()
    }

    fn transmit(protocol: TransportProtocol, to: &str, connection: Option<u64>) -> Transmit {
        Transmit {
            protocol,
            source: None,
            destination: to.parse().unwrap(),
            connection: connection.map(ConnectionId),
            contents: Bytes::new(),
        }
    }

    #[test]
    fn byes_each_way_follow_the_route_sets_and_the_flows() {
        let invite = parse(
            "INVITE sip:1002@192.0.2.9:5062 SIP/2.0\n\
             Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1\n\
             Record-Route: <sip:tok1@10.0.0.1:5060;lr>\n\
             Record-Route: <sip:tok2@10.0.0.1:8080;transport=ws;lr>\n\
             Record-Route: <sip:edge.example;lr>\n\
             From: <sip:1001@example.com>;tag=ta\nTo: <sip:1002@example.com>\n\
             Call-ID: c1\nCSeq: 7 INVITE\nContact: <sip:x@df7.invalid;transport=ws>\n\
             Content-Length: 0\n\n",
        );
        let ok = parse(
            "SIP/2.0 200 OK\nVia: SIP/2.0/WSS df7.invalid;branch=z9hG4bK2\n\
             Record-Route: <sip:callee-proxy.example;lr>\n\
             Record-Route: <sip:tok1@10.0.0.1:5060;lr>\n\
             Record-Route: <sip:tok2@10.0.0.1:8080;transport=ws;lr>\n\
             Record-Route: <sip:edge.example;lr>\n\
             From: <sip:1001@example.com>;tag=ta\nTo: <sip:1002@example.com>;tag=tb\n\
             Call-ID: c1\nCSeq: 7 INVITE\nContact: <sip:1002@192.0.2.9:5062>\n\
             Content-Length: 0\n\n",
        );
        let mut trace = DialogTrace::default();
        trace.invite(
            &invite,
            &transmit(TransportProtocol::Udp, "192.0.2.9:5062", None),
            7,
        );
        assert!(trace.byes("x", |_| false).is_none(), "not answered yet");
        trace.answered(
            &ok,
            &transmit(TransportProtocol::Ws, "198.51.100.4:50123", Some(4)),
        );
        trace.request(true, 8);
        trace.request(false, 3);
        let ours = |uri: &Uri| uri.to_string().contains("10.0.0.1");
        let byes = trace.byes("media: dtls fingerprint", ours).unwrap();
        assert_eq!(byes.len(), 2);

        let (to_callee, target) = &byes[0];
        assert_eq!(to_callee.uri.to_string(), "sip:1002@192.0.2.9:5062");
        assert_eq!(target.destination, "192.0.2.9:5062".parse().unwrap());
        let routes: Vec<String> = to_callee
            .headers
            .get_all(&Known::Route.into())
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .collect();
        assert_eq!(routes, ["<sip:callee-proxy.example;lr>"]);
        let text = String::from_utf8_lossy(&to_callee.to_bytes()).into_owned();
        assert!(text.contains("CSeq: 9 BYE"), "{text}");
        assert!(
            text.contains("From: <sip:1001@example.com>;tag=ta"),
            "{text}"
        );
        assert!(text.contains("To: <sip:1002@example.com>;tag=tb"), "{text}");
        assert!(text.contains("text=\"media: dtls fingerprint\""), "{text}");

        let (to_caller, target) = &byes[1];
        assert_eq!(to_caller.uri.to_string(), "sip:x@df7.invalid;transport=ws");
        assert_eq!(
            (target.protocol, target.connection),
            (TransportProtocol::Ws, Some(ConnectionId(4)))
        );
        let routes: Vec<String> = to_caller
            .headers
            .get_all(&Known::Route.into())
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .collect();
        assert_eq!(routes, ["<sip:edge.example;lr>"]);
        let text = String::from_utf8_lossy(&to_caller.to_bytes()).into_owned();
        assert!(text.contains("CSeq: 4 BYE"), "{text}");
        assert!(
            text.contains("From: <sip:1002@example.com>;tag=tb"),
            "{text}"
        );
        assert!(text.contains("To: <sip:1001@example.com>;tag=ta"), "{text}");
    }
}
