//! The offer/answer state of one SIP session (RFC 3264, RFC 6337): local
//! and remote descriptions across the initial INVITE and re-INVITEs/UPDATEs.
//!
//! ```text
//!            create_offer                      handle_answer
//!   Stable ───────────────► LocalOffer ─────────────────────► Stable
//!     │  ▲                    │ rollback (491, failed re-INVITE)  ▲
//!     │  └────────────────────┘                                   │
//!     │ handle_offer                 create_answer                │
//!     └──────────────► RemoteOffer ───────────────────────────────┘
//!                       (set_answer_crypto in between for SRTP)
//! ```
//!
//! Our `o=` version goes up by one each time we send a description that
//! differs from the last one we sent, and stays when it is the same
//! (RFC 3264 §8). A re-offer keeps every m-line of the session in its
//! place; rejected ones stay with port 0. Hold is a re-offer with
//! `sendonly` (or `inactive`); resume goes back to the configured direction.

use bytes::Bytes;
use sdp_types::{Connection, Media, Origin, Session, Time};

use super::codec::SdpCodec;
use super::config::{SdpConfig, SrtpPolicy};
use super::error::SdpError;
use super::media::MediaView;
use super::negotiate::{NegotiatedMedia, answer_media, build_media, local_direction, read_answer};

#[derive(Debug)]
enum State {
    Stable,
    /// Our offer is out: its m-lines as we wrote them.
    LocalOffer {
        offer: Box<Session>,
        previous: Option<Box<(Session, u64)>>,
    },
    /// The peer's offer waits for [`SdpSession::create_answer`].
    RemoteOffer {
        offer: Box<Session>,
        views: Vec<MediaView>,
    },
}

/// Offer/answer negotiator for one session.
#[derive(Debug)]
pub struct SdpSession {
    config: SdpConfig,
    version: u64,
    /// Highest version ever sent (a rolled-back offer used one).
    max_version: u64,
    local: Option<Session>,
    remote: Option<Session>,
    state: State,
    negotiated: Vec<NegotiatedMedia>,
    /// For each m-line of the session, the local stream behind it.
    lines: Vec<(String, Option<usize>)>,
    hold: bool,
    offer_crypto: Vec<Vec<String>>,
    answer_crypto: Vec<Vec<String>>,
    /// Payload types agreed so far, reused in later offers.
    agreed_pts: Vec<SdpCodec>,
}

impl SdpSession {
    /// A session for `config` (see [`SdpConfig::build`]).
    pub fn new(config: SdpConfig) -> Self {
        let n = config.media.len();
        SdpSession {
            config,
            version: 1,
            max_version: 1,
            local: None,
            remote: None,
            state: State::Stable,
            negotiated: Vec::new(),
            lines: Vec::new(),
            hold: false,
            offer_crypto: vec![Vec::new(); n],
            answer_crypto: Vec::new(),
            agreed_pts: Vec::new(),
        }
    }

    /// Our current `o=` session version.
    pub fn version(&self) -> u64 {
        self.version
    }
    /// The last description we sent.
    pub fn local_description(&self) -> Option<&Session> {
        self.local.as_ref()
    }
    /// The last description the peer sent.
    pub fn remote_description(&self) -> Option<&Session> {
        self.remote.as_ref()
    }
    /// The outcome of the last completed exchange (or of the offer being
    /// answered), one entry per m-line.
    pub fn negotiated(&self) -> &[NegotiatedMedia] {
        &self.negotiated
    }
    /// Whether we put the peer on hold.
    pub fn is_on_hold(&self) -> bool {
        self.hold
    }
    /// Whether an offer of ours waits for its answer.
    pub fn has_pending_offer(&self) -> bool {
        matches!(self.state, State::LocalOffer { .. })
    }

    /// Our `a=crypto` values for local stream `media` (index into
    /// [`SdpConfig::media`]), written in our offers.
    pub fn set_offer_crypto(&mut self, media: usize, crypto: Vec<String>) {
        if let Some(slot) = self.offer_crypto.get_mut(media) {
            *slot = crypto;
        }
    }

    /// Our `a=crypto` values for m-line `index` of the pending remote
    /// offer, chosen by the SRTP module from its `remote_crypto`. A secure
    /// m-line left without them is rejected.
    pub fn set_answer_crypto(&mut self, index: usize, crypto: Vec<String>) {
        if let Some(slot) = self.answer_crypto.get_mut(index) {
            *slot = crypto;
        }
    }

    /// Puts the peer on hold: the next offer or answer says `sendonly`
    /// (`inactive` where we only received).
    pub fn hold(&mut self) {
        self.hold = true;
    }
    /// Takes the peer off hold: back to the configured directions.
    pub fn resume(&mut self) {
        self.hold = false;
    }

    /// Writes an offer (initial or re-offer).
    pub fn create_offer(&mut self) -> Result<Bytes, SdpError> {
        if !matches!(self.state, State::Stable) {
            return Err(SdpError::State("an offer/answer exchange is in progress"));
        }
        let mut medias = Vec::new();
        let mut lines = self.lines.clone();
        let mut used: Vec<usize> = lines.iter().filter_map(|l| l.1).collect();
        for i in 0..self.config.media.len() {
            if !used.contains(&i) {
                lines.push((self.config.media[i].kind.clone(), Some(i)));
                used.push(i);
            }
        }
        for (kind, local) in &lines {
            let Some(li) = *local else {
                medias.push(disabled(kind));
                continue;
            };
            let lm = &self.config.media[li];
            let crypto = self.offer_crypto.get(li).cloned().unwrap_or_default();
            let proto = if lm.srtp == SrtpPolicy::Required {
                "RTP/SAVP"
            } else {
                "RTP/AVP"
            };
            if lm.srtp == SrtpPolicy::Required && crypto.is_empty() {
                return Err(SdpError::State(
                    "srtp required but no crypto set for the offer",
                ));
            }
            let codecs = self.offer_codecs(li);
            let dir = local_direction(lm.direction, self.hold);
            medias.push(build_media(
                kind,
                lm.port,
                proto,
                &codecs,
                lm,
                dir,
                lm.rtcp_mux,
                &crypto,
            ));
        }
        let offer = self.session_with(medias);
        let previous = self.local.clone().map(|l| Box::new((l, self.version)));
        let bytes = self.commit_local(offer.clone());
        self.lines = lines;
        self.state = State::LocalOffer {
            offer: Box::new(offer),
            previous,
        };
        Ok(bytes)
    }

    /// Abandons our pending offer (491, or a failed re-INVITE): the
    /// previous descriptions stay in force.
    pub fn rollback(&mut self) {
        if let State::LocalOffer { previous, .. } =
            std::mem::replace(&mut self.state, State::Stable)
        {
            match previous {
                Some(prev) => {
                    let (session, version) = *prev;
                    self.local = Some(session);
                    self.version = version;
                }
                None => self.local = None,
            }
            self.lines.truncate(self.negotiated.len());
        }
    }

    /// Takes the peer's answer to our offer.
    pub fn handle_answer(&mut self, body: &[u8]) -> Result<&[NegotiatedMedia], SdpError> {
        let State::LocalOffer { offer, .. } = &self.state else {
            return Err(SdpError::BadAnswer("no offer outstanding"));
        };
        let answer = self.parse(body)?;
        if answer.medias.len() != offer.medias.len() {
            return Err(SdpError::BadAnswer("m-line count differs from the offer"));
        }
        let mut negotiated = Vec::with_capacity(offer.medias.len());
        for (i, (o, a)) in offer.medias.iter().zip(&answer.medias).enumerate() {
            let offered = MediaView::read(offer, o);
            let got = MediaView::read(&answer, a);
            let n =
                read_answer(i, &offered, offered.direction, &got).map_err(SdpError::BadAnswer)?;
            negotiated.push(n);
        }
        self.state = State::Stable;
        self.remote = Some(answer);
        self.remember_pts(&negotiated);
        self.negotiated = negotiated;
        Ok(&self.negotiated)
    }

    /// Takes the peer's offer (initial INVITE or re-INVITE). On success
    /// [`SdpSession::negotiated`] shows what the answer will accept; call
    /// [`SdpSession::create_answer`] next. When nothing can be accepted the
    /// error is [`SdpError::NotAcceptable`] (488) and the session stays as
    /// it was.
    pub fn handle_offer(&mut self, body: &[u8]) -> Result<&[NegotiatedMedia], SdpError> {
        match self.state {
            State::LocalOffer { .. } => return Err(SdpError::Glare),
            State::RemoteOffer { .. } => {
                return Err(SdpError::State("an offer is already pending"));
            }
            State::Stable => {}
        }
        let offer = self.parse(body)?;
        if offer.medias.len() < self.lines.len() {
            return Err(SdpError::Malformed(
                "a re-offer may not remove m-lines".into(),
            ));
        }
        let views: Vec<MediaView> = offer
            .medias
            .iter()
            .map(|m| MediaView::read(&offer, m))
            .collect();
        // Provisional result, as if SRTP keys were given for secure lines.
        let placeholder = vec!["-".to_string()];
        let lines = self.map_lines(&views);
        let negotiated: Vec<NegotiatedMedia> = views
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let local = lines[i].1.map(|li| &self.config.media[li]);
                let mut n = answer_media(i, v, local, &placeholder, self.hold).1;
                n.local_crypto.clear();
                n
            })
            .collect();
        if negotiated.iter().all(|n| !n.accepted) {
            return Err(SdpError::NotAcceptable);
        }
        self.answer_crypto = vec![Vec::new(); views.len()];
        self.negotiated = negotiated;
        self.state = State::RemoteOffer {
            offer: Box::new(offer),
            views,
        };
        Ok(&self.negotiated)
    }

    /// Writes the answer to the pending offer.
    pub fn create_answer(&mut self) -> Result<Bytes, SdpError> {
        let State::RemoteOffer { offer, views } = std::mem::replace(&mut self.state, State::Stable)
        else {
            return Err(SdpError::State("no offer to answer"));
        };
        let lines = self.map_lines(&views);
        let mut medias = Vec::with_capacity(views.len());
        let mut negotiated = Vec::with_capacity(views.len());
        for (i, v) in views.iter().enumerate() {
            let local = lines[i].1.map(|li| &self.config.media[li]);
            let crypto = self.answer_crypto.get(i).cloned().unwrap_or_default();
            let (m, n) = answer_media(i, v, local, &crypto, self.hold);
            medias.push(m);
            negotiated.push(n);
        }
        if negotiated.iter().all(|n| !n.accepted) {
            return Err(SdpError::NotAcceptable);
        }
        let answer = self.session_with(medias);
        let bytes = self.commit_local(answer);
        self.lines = lines
            .into_iter()
            .zip(&negotiated)
            .map(|((kind, li), n)| (kind, if n.accepted { li } else { None }))
            .collect();
        self.remote = Some(*offer);
        self.remember_pts(&negotiated);
        self.negotiated = negotiated;
        Ok(bytes)
    }

    fn parse(&self, body: &[u8]) -> Result<Session, SdpError> {
        if body.len() > self.config.max_size {
            return Err(SdpError::TooLarge);
        }
        let s = Session::parse(body).map_err(|e| SdpError::Malformed(e.to_string()))?;
        if s.medias.len() > self.config.max_media {
            return Err(SdpError::TooLarge);
        }
        Ok(s)
    }

    /// Pairs each offered m-line with a local stream: the one it had
    /// before, else the first unused one of the same kind.
    fn map_lines(&self, views: &[MediaView]) -> Vec<(String, Option<usize>)> {
        let mut used: Vec<usize> = Vec::new();
        let mut out = Vec::with_capacity(views.len());
        for (i, v) in views.iter().enumerate() {
            let before = self.lines.get(i).and_then(|l| l.1);
            let pick = before
                .filter(|li| self.config.media[*li].kind.eq_ignore_ascii_case(&v.kind))
                .or_else(|| {
                    (0..self.config.media.len()).find(|li| {
                        !used.contains(li)
                            && !self
                                .lines
                                .iter()
                                .enumerate()
                                .any(|(j, l)| j != i && l.1 == Some(*li))
                            && self.config.media[*li].kind.eq_ignore_ascii_case(&v.kind)
                    })
                })
                .filter(|li| !used.contains(li));
            if let Some(li) = pick {
                used.push(li);
            }
            out.push((v.kind.clone(), pick));
        }
        out
    }

    /// Local codecs with payload types for an offer: static numbers for
    /// static codecs, earlier agreed numbers, then the configured ones,
    /// then free dynamic ones; one telephone-event per clock rate.
    fn offer_codecs(&self, li: usize) -> Vec<SdpCodec> {
        let lm = &self.config.media[li];
        let mut taken: Vec<u8> = Vec::new();
        let mut out: Vec<SdpCodec> = Vec::new();
        let mut wanted: Vec<SdpCodec> = lm
            .codecs
            .iter()
            .filter(|c| !c.is_telephone_event())
            .cloned()
            .collect();
        if lm.telephone_event || lm.codecs.iter().any(|c| c.is_telephone_event()) {
            let mut rates: Vec<u32> = Vec::new();
            for c in wanted.iter().filter(|c| !c.is_comfort_noise()) {
                if !rates.contains(&c.clock_rate) {
                    rates.push(c.clock_rate);
                }
            }
            for rate in rates {
                let given = lm
                    .codecs
                    .iter()
                    .find(|c| c.is_telephone_event() && c.clock_rate == rate);
                let pt = given.map_or(if rate == 8000 { 101 } else { 0 }, |c| c.payload_type);
                let mut te = SdpCodec::telephone_event(rate, pt);
                if let Some(f) = given.and_then(|g| g.fmtp.clone()) {
                    te.fmtp = Some(f);
                }
                wanted.push(te);
            }
        }
        // First pass: fixed numbers (static or agreed); second: the rest,
        // keeping the preference order.
        let mut slots: Vec<(SdpCodec, Option<u8>)> = Vec::with_capacity(wanted.len());
        for c in wanted {
            let fixed = if c.payload_type < 96 && c.static_payload_type() == Some(c.payload_type) {
                Some(c.payload_type)
            } else {
                self.agreed_pts
                    .iter()
                    .find(|a| a.same_encoding(&c))
                    .map(|a| a.payload_type)
            };
            let fixed = fixed.filter(|pt| !taken.contains(pt));
            if let Some(pt) = fixed {
                taken.push(pt);
            }
            slots.push((c, fixed));
        }
        for (c, pt) in slots {
            let pt = match pt {
                Some(pt) => pt,
                None if (96..=127).contains(&c.payload_type)
                    && !taken.contains(&c.payload_type) =>
                {
                    c.payload_type
                }
                None => match (96..=127u8).find(|p| !taken.contains(p)) {
                    Some(p) => p,
                    None => continue,
                },
            };
            taken.push(pt);
            out.push(SdpCodec {
                payload_type: pt,
                ..c
            });
        }
        out
    }

    fn remember_pts(&mut self, negotiated: &[NegotiatedMedia]) {
        for n in negotiated.iter().filter(|n| n.accepted) {
            for c in n.codecs.iter().chain(&n.telephone_events) {
                if c.is_dynamic() {
                    self.agreed_pts
                        .retain(|a| !a.same_encoding(c) && a.payload_type != c.payload_type);
                    self.agreed_pts.push(c.clone());
                }
            }
        }
    }

    fn session_with(&self, medias: Vec<Media>) -> Session {
        let mut origin =
            Origin::with_ip_addr(self.config.session_id, self.version, self.config.address);
        if self.config.username != "-" && !self.config.username.is_empty() {
            origin.set_username(&self.config.username);
        }
        let mut s = Session::new(origin, &self.config.session_name);
        s.set_connection(Connection::from_ip_addr(self.config.address));
        s.add_time(Time::new(0, 0));
        s.add_medias(medias);
        s
    }

    /// Records `session` as our latest description, bumping the version
    /// when it differs from the previous one.
    fn commit_local(&mut self, mut session: Session) -> Bytes {
        if let Some(prev) = &self.local {
            let mut same = prev.clone();
            same.origin.sess_version = session.origin.sess_version;
            if same != session {
                self.max_version = self.max_version.max(self.version) + 1;
                self.version = self.max_version;
            }
        }
        session.origin.sess_version = self.version;
        let mut out = Vec::new();
        // Writing to a Vec cannot fail.
        let _ = session.write(&mut out);
        self.local = Some(session);
        Bytes::from(out)
    }
}

fn disabled(kind: &str) -> Media {
    Media {
        media: kind.to_string(),
        port: 0,
        num_ports: None,
        proto: "RTP/AVP".into(),
        fmt: "0".into(),
        media_title: None,
        connections: Vec::new(),
        bandwidths: Vec::new(),
        key: None,
        attributes: Vec::new(),
    }
}
