//! The offer/answer tracker (sans-IO): for each SIP message the proxy
//! sends, which relay commands its SDP needs (rtpengine's `offer` and
//! `answer`), and the rewritten bodies to reuse for copies of it.
//!
//! ```text
//! INVITE (no To tag) ......... create the relay call; with SDP: offer from A (the caller)
//! INVITE/UPDATE + SDP ........ offer from the sender (re-INVITE from either side)
//! 18x/2xx + SDP to it ........ answer ─ or, after an offer-less INVITE, offer (late offer)
//! ACK/PRACK + SDP ............ answer to the offer in the 2xx/18x
//! 2xx with another answer .... the same offer again, then this answer (forked branch,
//!                              200 differing from the 183)
//! copies (retransmissions, forked INVITEs, stored responses) ─► the body rewritten before
//! ```
//!
//! Sides are the relay's: A is the caller (the From tag of the initial
//! INVITE), B the callee. A request comes from the side whose tag is in
//! From; a response from the other one.

use std::collections::{HashMap, VecDeque};

use bytes::Bytes;
use voip_media::relay::Side;
use voip_sip::Method;

use super::config::SrtpPolicy;
use super::message::{Facts, Kind, first_codec, is_secure};

/// Rewritten bodies kept per call for copies of a message.
const CACHE: usize = 16;

/// What to do with one outgoing message.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    /// Send it as it is.
    Pass,
    /// Send it with this body (a copy of a message rewritten before).
    Body(Bytes),
    /// Run the job against the relay, then [`Exchanges::complete`].
    Run(Job),
}

/// One relay command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// `offer` from a side; `srtp_to_answerer` as in `OfferOptions`.
    Offer {
        /// The offering side.
        from: Side,
        /// Its SDP.
        sdp: Bytes,
        /// SRTP toward the answerer (`None`: as the offerer).
        srtp_to_answerer: Option<bool>,
    },
    /// `answer` to the outstanding offer.
    Answer {
        /// The answerer's SDP.
        sdp: Bytes,
    },
}

/// Relay commands for one message; the last step's body replaces the
/// message's.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// The relay call (the Call-ID).
    pub call_id: String,
    /// Create the relay call first.
    pub create: bool,
    /// The commands, in order (none: create only).
    pub steps: Vec<Step>,
    key: Option<Key>,
}

/// Identifies copies of one message.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Key {
    cseq: u32,
    method: Method,
    request: bool,
    body: Bytes,
}

/// An offer the relay took, and the answer to it.
#[derive(Debug, Clone)]
struct Exchange {
    from: Side,
    cseq: u32,
    offer: Bytes,
    srtp_to_answerer: Option<bool>,
    answer: Option<Bytes>,
}

/// Media state of one call.
#[derive(Debug)]
struct CallMedia {
    a_tag: Option<Bytes>,
    /// The relay refused the call: its messages pass untouched.
    broken: bool,
    /// Whether the caller's first offer was SRTP.
    a_secure: Option<bool>,
    last: Option<Exchange>,
    /// An offer-less INVITE: (CSeq, its sender); the offer comes back in
    /// the response.
    late: Option<(u32, Side)>,
    cache: VecDeque<(Key, Bytes)>,
    codecs: [Option<String>; 2],
}

/// The tracker.
#[derive(Debug, Default)]
pub struct Exchanges {
    calls: HashMap<String, CallMedia>,
    srtp: SrtpPolicy,
}

impl Exchanges {
    /// A tracker applying `srtp` toward callees.
    pub fn new(srtp: SrtpPolicy) -> Self {
        Self {
            calls: HashMap::new(),
            srtp,
        }
    }

    /// Calls tracked.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.calls.len()
    }

    /// The tracked calls.
    pub fn ids(&self) -> Vec<String> {
        self.calls.keys().cloned().collect()
    }

    /// Whether a call is tracked (anchored or refused by the relay).
    pub fn contains(&self, call_id: &str) -> bool {
        self.calls.contains_key(call_id)
    }

    /// The negotiated codec of each side `[A, B]`, once answered.
    pub fn codecs(&self, call_id: &str) -> [Option<String>; 2] {
        self.calls
            .get(call_id)
            .map(|c| c.codecs.clone())
            .unwrap_or_default()
    }

    /// Forgets a call (it ended).
    pub fn remove(&mut self, call_id: &str) -> bool {
        self.calls.remove(call_id).is_some()
    }

    /// What to do with a message the proxy sends. `bypass`: the call must
    /// not be anchored (asked only for a call's first INVITE).
    pub fn plan(&mut self, facts: &Facts, bypass: impl FnOnce() -> bool) -> Plan {
        let initial = facts.kind == Kind::Request(Method::Invite) && facts.to_tag.is_none();
        let mut create = false;
        if !self.calls.contains_key(&facts.call_id) {
            if !initial || bypass() {
                return Plan::Pass;
            }
            self.calls.insert(
                facts.call_id.clone(),
                CallMedia {
                    a_tag: facts.from_tag.clone(),
                    broken: false,
                    a_secure: None,
                    last: None,
                    late: None,
                    cache: VecDeque::new(),
                    codecs: [None, None],
                },
            );
            create = true;
        }
        let policy = self.srtp;
        let Some(call) = self.calls.get_mut(&facts.call_id) else {
            return Plan::Pass;
        };
        if call.broken {
            return Plan::Pass;
        }
        let tag_side = if facts.from_tag == call.a_tag {
            Side::A
        } else {
            Side::B
        };
        let (sender, method) = match &facts.kind {
            Kind::Request(m) => (tag_side, m.clone()),
            Kind::Response(_) => (tag_side.other(), facts.cseq_method.clone()),
        };
        let job = |steps: Vec<Step>, key: Option<Key>| {
            Plan::Run(Job {
                call_id: facts.call_id.clone(),
                create,
                steps,
                key,
            })
        };
        let Some(sdp) = facts.sdp.clone() else {
            if facts.kind == Kind::Request(Method::Invite) {
                call.late = Some((facts.cseq, sender));
            }
            return if create {
                job(Vec::new(), None)
            } else {
                Plan::Pass
            };
        };
        let key = Key {
            cseq: facts.cseq,
            method: facts.cseq_method.clone(),
            request: matches!(facts.kind, Kind::Request(_)),
            body: sdp.clone(),
        };
        if let Some((_, body)) = call.cache.iter().find(|(k, _)| *k == key) {
            return Plan::Body(body.clone());
        }
        let offer = |from: Side, sdp: Bytes| Step::Offer {
            srtp_to_answerer: match from {
                Side::A => policy.to_callee(),
                Side::B => call.a_secure,
            },
            from,
            sdp,
        };
        let open_from = |side: Side, cseq: Option<u32>| {
            call.last.as_ref().is_some_and(|e| {
                e.answer.is_none() && e.from == side && cseq.is_none_or(|c| c == e.cseq)
            })
        };
        let steps = match (&facts.kind, method) {
            (Kind::Request(_), Method::Invite | Method::Update) => vec![offer(sender, sdp)],
            (Kind::Request(_), Method::Ack | Method::Prack) if open_from(sender.other(), None) => {
                vec![Step::Answer { sdp }]
            }
            (Kind::Request(_), Method::Prack) => vec![offer(sender, sdp)],
            (Kind::Response(101..=299), Method::Invite | Method::Update | Method::Prack) => {
                if open_from(sender.other(), Some(facts.cseq)) {
                    vec![Step::Answer { sdp }]
                } else if let Some(e) = call
                    .last
                    .as_ref()
                    .filter(|e| e.from == sender.other() && e.cseq == facts.cseq)
                {
                    // answered already, differently: a forked branch, or a
                    // 200 that differs from the 183
                    vec![
                        Step::Offer {
                            from: e.from,
                            sdp: e.offer.clone(),
                            srtp_to_answerer: e.srtp_to_answerer,
                        },
                        Step::Answer { sdp },
                    ]
                } else if call.late == Some((facts.cseq, sender.other())) {
                    vec![offer(sender, sdp)]
                } else {
                    return Plan::Pass;
                }
            }
            _ => return Plan::Pass,
        };
        job(steps, Some(key))
    }

    /// The outcome of a job: the body from its last step, or the relay's
    /// refusal (the message then goes out untouched; a refused call is
    /// left alone from then on).
    pub fn complete(&mut self, job: &Job, result: Result<Option<Bytes>, ()>) {
        let Some(call) = self.calls.get_mut(&job.call_id) else {
            return;
        };
        let body = match result {
            Ok(body) => body,
            Err(()) => {
                if job.create || call.last.is_none() {
                    call.broken = true;
                }
                return;
            }
        };
        let mut answerer = None;
        for step in &job.steps {
            match step {
                Step::Offer {
                    from,
                    sdp,
                    srtp_to_answerer,
                } => {
                    if *from == Side::A && call.a_secure.is_none() {
                        call.a_secure = Some(is_secure(sdp));
                    }
                    call.last = Some(Exchange {
                        from: *from,
                        cseq: job.key.as_ref().map_or(0, |k| k.cseq),
                        offer: sdp.clone(),
                        srtp_to_answerer: *srtp_to_answerer,
                        answer: None,
                    });
                    call.late = None;
                }
                Step::Answer { sdp } => {
                    if let Some(e) = &mut call.last {
                        e.answer = Some(sdp.clone());
                        answerer = Some((e.from.other(), first_codec(sdp)));
                    }
                }
            }
        }
        if let (Some((side, codec)), Some(body)) = (answerer, &body) {
            let i = usize::from(side == Side::B);
            call.codecs[i] = codec;
            call.codecs[1 - i] = first_codec(body);
        }
        if let (Some(key), Some(body)) = (job.key.clone(), body) {
            if call.cache.len() == CACHE {
                call.cache.pop_front();
            }
            call.cache.push_back((key, body));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OFFER: &[u8] = b"v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 4000 RTP/AVP 0\r\n";
    const ANSWER: &[u8] = b"v=0\r\nc=IN IP4 10.0.0.2\r\nm=audio 5000 RTP/AVP 0\r\n";
    const OTHER: &[u8] = b"v=0\r\nc=IN IP4 10.0.0.3\r\nm=audio 6000 RTP/AVP 8\r\n";

    fn facts(
        kind: Kind,
        cseq: (u32, Method),
        to_tag: bool,
        from_a: bool,
        sdp: Option<&'static [u8]>,
    ) -> Facts {
        Facts {
            call_id: "c1".into(),
            from_tag: Some(Bytes::from_static(if from_a { b"ta" } else { b"tb" })),
            to_tag: to_tag.then(|| Bytes::from_static(if from_a { b"tb" } else { b"ta" })),
            cseq: cseq.0,
            cseq_method: cseq.1,
            kind,
            sdp: sdp.map(Bytes::from_static),
        }
    }

    fn run(plan: Plan) -> Job {
        match plan {
            Plan::Run(job) => job,
            other => panic!("expected a job, got {other:?}"),
        }
    }

    fn offer(from: Side, sdp: &'static [u8], srtp: Option<bool>) -> Step {
        Step::Offer {
            from,
            sdp: Bytes::from_static(sdp),
            srtp_to_answerer: srtp,
        }
    }

    fn answer(sdp: &'static [u8]) -> Step {
        Step::Answer {
            sdp: Bytes::from_static(sdp),
        }
    }

    #[test]
    fn offer_answer_and_copies() {
        let mut x = Exchanges::new(SrtpPolicy::Plain);
        let invite = facts(
            Kind::Request(Method::Invite),
            (1, Method::Invite),
            false,
            true,
            Some(OFFER),
        );
        let job = run(x.plan(&invite, || false));
        assert!(job.create);
        assert_eq!(job.steps, [offer(Side::A, OFFER, Some(false))]);
        x.complete(&job, Ok(Some(Bytes::from_static(b"to-b"))));
        // a retransmission or a forked copy: the same body, no relay command
        assert_eq!(
            x.plan(&invite, || false),
            Plan::Body(Bytes::from_static(b"to-b"))
        );
        // 183 and 200 with the same answer: one answer command
        let ringing = facts(
            Kind::Response(183),
            (1, Method::Invite),
            true,
            true,
            Some(ANSWER),
        );
        let job = run(x.plan(&ringing, || false));
        assert_eq!((job.create, &job.steps[..]), (false, &[answer(ANSWER)][..]));
        x.complete(
            &job,
            Ok(Some(Bytes::from_static(b"v=0\r\nm=audio 1 RTP/AVP 0\r\n"))),
        );
        let ok = facts(
            Kind::Response(200),
            (1, Method::Invite),
            true,
            true,
            Some(ANSWER),
        );
        assert!(matches!(x.plan(&ok, || false), Plan::Body(_)));
        assert_eq!(x.codecs("c1"), [Some("PCMU".into()), Some("PCMU".into())]);
        // a 200 with another answer (another branch): offer again, answer
        let forked = facts(
            Kind::Response(200),
            (1, Method::Invite),
            true,
            true,
            Some(OTHER),
        );
        let job = run(x.plan(&forked, || false));
        assert_eq!(
            job.steps,
            [offer(Side::A, OFFER, Some(false)), answer(OTHER)]
        );
        x.complete(
            &job,
            Ok(Some(Bytes::from_static(b"v=0\r\nm=audio 1 RTP/AVP 8\r\n"))),
        );
        assert_eq!(x.codecs("c1"), [Some("PCMA".into()), Some("PCMA".into())]);
        // a BYE or an ACK without SDP: nothing
        let ack = facts(
            Kind::Request(Method::Ack),
            (1, Method::Ack),
            true,
            true,
            None,
        );
        assert_eq!(x.plan(&ack, || false), Plan::Pass);
        // a re-INVITE from the callee: offer from B, SRTP as the caller had
        let reinvite = facts(
            Kind::Request(Method::Invite),
            (5, Method::Invite),
            true,
            false,
            Some(OTHER),
        );
        let job = run(x.plan(&reinvite, || panic!("bypass is asked only for new calls")));
        assert_eq!(job.steps, [offer(Side::B, OTHER, Some(false))]);
        x.complete(&job, Ok(Some(Bytes::from_static(b"to-a"))));
        let reply = facts(
            Kind::Response(200),
            (5, Method::Invite),
            true,
            false,
            Some(OFFER),
        );
        assert_eq!(run(x.plan(&reply, || false)).steps, [answer(OFFER)]);
        assert!(x.remove("c1"));
        assert!(!x.contains("c1"));
    }

    #[test]
    fn late_offer_in_the_200_answer_in_the_ack() {
        let mut x = Exchanges::new(SrtpPolicy::AsOfferer);
        let invite = facts(
            Kind::Request(Method::Invite),
            (1, Method::Invite),
            false,
            true,
            None,
        );
        let job = run(x.plan(&invite, || false));
        assert!(job.create && job.steps.is_empty());
        x.complete(&job, Ok(None));
        // the retransmitted offer-less INVITE needs nothing
        assert_eq!(x.plan(&invite, || false), Plan::Pass);
        let ok = facts(
            Kind::Response(200),
            (1, Method::Invite),
            true,
            true,
            Some(OFFER),
        );
        let job = run(x.plan(&ok, || false));
        assert_eq!(job.steps, [offer(Side::B, OFFER, None)]);
        x.complete(&job, Ok(Some(Bytes::from_static(b"to-a"))));
        let ack = facts(
            Kind::Request(Method::Ack),
            (1, Method::Ack),
            true,
            true,
            Some(ANSWER),
        );
        assert_eq!(run(x.plan(&ack, || false)).steps, [answer(ANSWER)]);
    }

    #[test]
    fn bypassed_and_refused_calls_pass() {
        let mut x = Exchanges::new(SrtpPolicy::AsOfferer);
        let invite = facts(
            Kind::Request(Method::Invite),
            (1, Method::Invite),
            false,
            true,
            Some(OFFER),
        );
        assert_eq!(x.plan(&invite, || true), Plan::Pass);
        assert!(!x.contains("c1"));
        // messages of calls never seen pass
        let ok = facts(
            Kind::Response(200),
            (1, Method::Invite),
            true,
            true,
            Some(ANSWER),
        );
        assert_eq!(x.plan(&ok, || false), Plan::Pass);
        // the relay refuses the call: it is left alone from then on
        let job = run(x.plan(&invite, || false));
        x.complete(&job, Err(()));
        assert_eq!(x.plan(&invite, || false), Plan::Pass);
        assert_eq!(x.plan(&ok, || false), Plan::Pass);
        assert_eq!(x.len(), 1);
    }

    #[test]
    fn sdes_policy_and_srtp_back_toward_the_caller() {
        let mut x = Exchanges::new(SrtpPolicy::Sdes);
        let invite = facts(
            Kind::Request(Method::Invite),
            (1, Method::Invite),
            false,
            true,
            Some(OFFER),
        );
        let job = run(x.plan(&invite, || false));
        assert_eq!(job.steps, [offer(Side::A, OFFER, Some(true))]);
        x.complete(&job, Ok(Some(Bytes::from_static(b"x"))));
        let reinvite = facts(
            Kind::Request(Method::Invite),
            (2, Method::Invite),
            true,
            false,
            Some(ANSWER),
        );
        // the caller offered plain RTP: the callee's re-offer reaches it plain
        assert_eq!(
            run(x.plan(&reinvite, || false)).steps,
            [offer(Side::B, ANSWER, Some(false))]
        );
    }
}
