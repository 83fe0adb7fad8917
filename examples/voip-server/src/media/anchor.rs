//! The relay in the proxy's send path (rtpengine next to Kamailio): every
//! message the SIP core sends passes [`Anchor::prepare`] and
//! [`Anchor::rewrite`], which run the
//! relay commands the [`Exchanges`] tracker plans and puts the rewritten
//! SDP (the relay's address and ports) into the message.
//!
//! ```text
//! SipCore::poll_transmit ─► Anchor::prepare ─► Facts ─► Exchanges::plan
//!        Pass ─────────────────────────────────────────────► send as is
//!        Body(cached) ─► with_body ────────────────────────► send
//!        Run(job) ─► RelayHandle: create_call / offer / answer ─► with_body ─► send
//! the first answer relayed, [recording] enabled ─► RelayHandle::start_recording (WAV per call)
//! a browser call's answer bridged, [recording] enabled ─► WebRtcHandle::record (the same file naming)
//! CallEvent::Ended ─► Anchor::end ─► call_stats (CDR summary, recording URL) ─► delete
//! RelayEvent::MediaTimeout on both legs ─► delete (the SIP call goes on)
//! ```
//!
//! Rewriting on the way out keeps the transaction layer untouched: what
//! it retransmits (INVITE, stored responses) is rewritten again from the
//! tracker's cache, to the same bytes. When the relay refuses a command
//! (no audio in the SDP, ports exhausted, no codec in common) the message
//! goes out untouched and the failure is counted in
//! `voip_relay_errors_total`; such a call is not anchored.

use std::collections::HashMap;

use bytes::Bytes;
use voip_core::{Rng, Transmit};
use voip_media::relay::{
    DriverError, LegStats, OfferOptions, RecordingOptions, RelayDriver, RelayEvent, RelayHandle,
    Side, SocketMode,
};

use super::config::{MediaSettings, TranscodeCodec};
use super::exchange::{Exchanges, Job, Plan, Step};
use super::message::{Facts, may_carry_media, parse, with_body};
use super::metrics::{LegTotals, export, record_error};
use super::recording::{RecordingSettings, url_for};
use super::webrtc::{BrowserCalls, WebPlan};
use super::webrtc_driver::{WebRtcCallEvent, WebRtcHandle, WebRtcSettings};

/// An event of the relay or of the WebRTC bridges.
#[derive(Debug)]
pub enum AnchorEvent {
    /// From the relay.
    Relay(RelayEvent),
    /// From the WebRTC bridges.
    WebRtc(WebRtcCallEvent),
}

/// A bridged call the server hangs up itself (its browser media failed).
#[derive(Debug)]
pub struct Teardown {
    /// The call.
    pub call_id: String,
    /// Why, for the logs and the call record.
    pub reason: String,
    /// A BYE to each side and where it goes (no Via yet).
    pub byes: Vec<(voip_sip::Request, voip_sip::transaction::Target)>,
}

/// What a finished relay call measured, for logs and call records.
#[derive(Debug, Clone, PartialEq)]
pub struct MediaSummary {
    /// The Call-ID.
    pub call_id: String,
    /// The codec each side used, `[caller, callee]`.
    pub codecs: [Option<String>; 2],
    /// What each side sent the relay, `[caller, callee]`.
    pub legs: [LegStats; 2],
    /// The recording's URL path (`/recordings/...`), when it was recorded.
    pub recording: Option<String>,
}

/// An outgoing message, read and planned by [`Anchor::prepare`].
#[derive(Debug)]
pub struct Prepared(Inner);

#[derive(Debug)]
enum Inner {
    Ready(Transmit),
    Run(Box<Pending>),
    /// The bool: record the call (not one the IVR records itself).
    Web(Box<(Transmit, voip_sip::Message, WebPlan, bool)>),
}

#[derive(Debug)]
struct Pending {
    transmit: Transmit,
    message: voip_sip::Message,
    job: Job,
}

/// The relay driver and the offer/answer tracker.
#[derive(Debug)]
pub struct Anchor {
    relay: RelayHandle,
    exchanges: Exchanges,
    transcode: Vec<TranscodeCodec>,
    /// Calls the relay holds.
    live: usize,
    /// Counters of released calls.
    closed: LegTotals,
    /// Packets received on each leg when it last timed out.
    silent: HashMap<String, [Option<u64>; 2]>,
    /// The WebRTC bridges (`[media] webrtc = true`).
    webrtc: Option<WebRtcHandle>,
    browsers: BrowserCalls,
    /// Bridged calls whose browser media failed, to hang up (and why).
    failed: HashMap<String, String>,
    /// `[recording]`, when enabled.
    recording: Option<RecordingSettings>,
    /// Recorded calls: their recording's URL path.
    recorded: HashMap<String, String>,
}

impl Anchor {
    /// Starts the relay driver on the current runtime (sockets bind
    /// `settings.bind_ip`); `None` when `[media] relay = false`.
    pub fn start(settings: &MediaSettings) -> Result<Option<Self>, voip_core::ConfigError> {
        if !settings.relay {
            return Ok(None);
        }
        let relay = RelayDriver::spawn(
            settings.relay_config()?,
            settings.bind_ip,
            Rng::os(),
            SocketMode::Batched,
        );
        let mut anchor = Self::with_handle(relay, settings);
        if settings.webrtc {
            let webrtc = WebRtcHandle::spawn(WebRtcSettings {
                bind: settings.webrtc_bind,
                public_ip: settings.public_ip,
                plain_bind_ip: settings.bind_ip,
                plain_ports: settings.rtp_ports,
                offer_opus: settings.webrtc_offer_opus,
            })
            .map_err(|e| {
                voip_core::ConfigError::new(
                    "webrtc_bind",
                    format!("cannot bind {}: {e}", settings.webrtc_bind),
                )
            })?;
            tracing::info!(socket = %webrtc.local_addr(), public_ip = %settings.public_ip, "webrtc bridge for browser calls");
            anchor.webrtc = Some(webrtc);
        }
        Ok(Some(anchor))
    }

    /// An anchor over a running driver.
    pub fn with_handle(relay: RelayHandle, settings: &MediaSettings) -> Self {
        Self {
            relay,
            exchanges: Exchanges::new(settings.srtp),
            transcode: settings.transcode.clone(),
            live: 0,
            closed: LegTotals::default(),
            silent: HashMap::new(),
            webrtc: None,
            browsers: BrowserCalls::default(),
            failed: HashMap::new(),
            recording: None,
            recorded: HashMap::new(),
        }
    }

    /// Records relayed and bridged browser calls as `settings` say
    /// (creates the directory). Calls with the IVR are recorded by the IVR.
    pub fn set_recording(&mut self, settings: RecordingSettings) -> Result<(), String> {
        if !settings.enabled {
            self.recording = None;
            return Ok(());
        }
        std::fs::create_dir_all(&settings.dir)
            .map_err(|e| format!("cannot create {}: {e}", settings.dir.display()))?;
        self.recording = Some(settings);
        Ok(())
    }

    /// Where a call's recording goes (path, URL, options), unless
    /// recording is off or the call already has one.
    fn recording_target(
        &self,
        call_id: &str,
    ) -> Option<(std::path::PathBuf, String, RecordingOptions)> {
        let settings = self.recording.as_ref()?;
        if self.recorded.contains_key(call_id) {
            return None;
        }
        let path = settings.path_for(call_id);
        let url = url_for(&path)?;
        Some((path, url, settings.options))
    }

    /// Counts and logs a recording start; links the call to its file.
    fn recording_started<E: std::fmt::Display>(
        &mut self,
        call_id: &str,
        path: &std::path::Path,
        url: String,
        started: Result<(), E>,
    ) {
        match started {
            Ok(()) => {
                metrics::counter!("voip_recordings_total").increment(1);
                tracing::info!(%call_id, path = %path.display(), "recording the call");
                self.recorded.insert(call_id.to_owned(), url);
            }
            Err(error) => {
                metrics::counter!("voip_recording_errors_total").increment(1);
                tracing::warn!(%call_id, path = %path.display(), %error, "recording not started");
            }
        }
    }

    /// Starts recording a relayed call (once, at its first answer).
    async fn start_recording(&mut self, call_id: &str) {
        let Some((path, url, options)) = self.recording_target(call_id) else {
            return;
        };
        let started = self.relay.start_recording(call_id, &path, options).await;
        self.recording_started(call_id, &path, url, started);
    }

    /// Reads an outgoing message and plans its SDP rewrite (no I/O yet).
    /// `bypass` says whether a new call must not be anchored (the IVR's
    /// calls). Then [`Anchor::rewrite`].
    pub fn prepare(&mut self, transmit: Transmit, bypass: impl FnOnce(&str) -> bool) -> Prepared {
        if !may_carry_media(&transmit.contents) {
            return Prepared(Inner::Ready(transmit));
        }
        let Some(message) = parse(&transmit.contents) else {
            return Prepared(Inner::Ready(transmit));
        };
        let Some(facts) = Facts::of(&message) else {
            return Prepared(Inner::Ready(transmit));
        };
        if self.webrtc.is_some() {
            let new_call_allowed = !self.exchanges.contains(&facts.call_id);
            match self
                .browsers
                .plan(&facts, &message, &transmit, new_call_allowed)
            {
                None => {}
                Some(WebPlan::Pass) => return Prepared(Inner::Ready(transmit)),
                Some(WebPlan::Body(body)) => {
                    let mut transmit = transmit;
                    transmit.contents = with_body(message, body);
                    return Prepared(Inner::Ready(transmit));
                }
                Some(plan) => {
                    let record = !bypass(&facts.call_id);
                    return Prepared(Inner::Web(Box::new((transmit, message, plan, record))));
                }
            }
        }
        match self.exchanges.plan(&facts, || bypass(&facts.call_id)) {
            Plan::Pass => Prepared(Inner::Ready(transmit)),
            Plan::Body(body) => {
                let mut transmit = transmit;
                transmit.contents = with_body(message, body);
                Prepared(Inner::Ready(transmit))
            }
            Plan::Run(job) => Prepared(Inner::Run(Box::new(Pending {
                transmit,
                message,
                job,
            }))),
        }
    }

    /// Runs the relay commands [`Anchor::prepare`] planned and returns the
    /// message to send.
    pub async fn rewrite(&mut self, prepared: Prepared) -> Transmit {
        let (mut transmit, message, job) = match prepared.0 {
            Inner::Ready(transmit) => return transmit,
            Inner::Run(pending) => (pending.transmit, pending.message, pending.job),
            Inner::Web(web) => return self.bridge(*web).await,
        };
        let result = self.run(&job).await;
        let outcome = match &result {
            Ok(body) => Ok(body.clone()),
            Err(error) => {
                tracing::warn!(call_id = %job.call_id, %error, "media relay refused; the SDP goes out untouched");
                Err(())
            }
        };
        if job.create && outcome.is_err() && self.relay.delete(&job.call_id).await.is_ok() {
            // created, then the first offer was refused: free its ports now
            self.live = self.live.saturating_sub(1);
        }
        self.exchanges.complete(&job, outcome);
        if let Ok(Some(body)) = result {
            transmit.contents = with_body(message, body);
            if job.steps.iter().any(|s| matches!(s, Step::Answer { .. })) {
                self.start_recording(&job.call_id).await;
            }
        }
        transmit
    }

    /// Runs a browser call's bridge command and puts its SDP in the message.
    async fn bridge(&mut self, web: (Transmit, voip_sip::Message, WebPlan, bool)) -> Transmit {
        let (mut transmit, message, plan, record) = web;
        let Some(webrtc) = &self.webrtc else {
            return transmit;
        };
        let (call_id, opened, result) = match plan {
            WebPlan::Open {
                call_id,
                shape,
                offer,
            } => {
                let result = webrtc.open(&call_id, shape, offer).await;
                if result.is_ok() {
                    metrics::counter!("voip_webrtc_calls_total").increment(1);
                    tracing::info!(%call_id, ?shape, "browser call bridged");
                }
                (call_id, true, result)
            }
            WebPlan::Answer { call_id, answer } => {
                let result = webrtc.answer(&call_id, answer).await;
                (call_id, false, result)
            }
            WebPlan::Pass | WebPlan::Body(_) => return transmit,
        };
        match result {
            Ok(body) => {
                self.browsers.complete(&call_id, opened, Some(body.clone()));
                transmit.contents = with_body(message, body);
                if !opened && record {
                    self.record_browser_call(&call_id).await;
                }
            }
            Err(error) => {
                metrics::counter!("voip_webrtc_errors_total").increment(1);
                tracing::warn!(%call_id, %error, "webrtc bridge refused; the SDP goes out untouched");
                self.browsers.complete(&call_id, opened, None);
                let _ = webrtc.close(&call_id).await;
            }
        }
        transmit
    }

    /// Starts recording a bridged browser call (at its answer), named and
    /// linked as a relayed call's.
    async fn record_browser_call(&mut self, call_id: &str) {
        let Some(webrtc) = &self.webrtc else {
            return;
        };
        let Some((path, url, options)) = self.recording_target(call_id) else {
            return;
        };
        let started = webrtc.record(call_id, path.clone(), options).await;
        self.recording_started(call_id, &path, url, started);
    }

    async fn run(&mut self, job: &Job) -> Result<Option<Bytes>, DriverError> {
        if job.create {
            self.relay
                .create_call(&job.call_id)
                .await
                .inspect_err(|e| record_error("create", e))?;
            self.live += 1;
            metrics::counter!("voip_relay_calls_total").increment(1);
        }
        let mut body = None;
        for step in &job.steps {
            body = Some(match step {
                Step::Offer {
                    from,
                    sdp,
                    srtp_to_answerer,
                } => {
                    let mut options = OfferOptions::default();
                    if let Some(on) = srtp_to_answerer {
                        options = options.srtp_to_answerer(*on);
                    }
                    for codec in &self.transcode {
                        options = options.transcode(codec.codec());
                    }
                    self.relay
                        .offer(&job.call_id, *from, sdp.clone(), options)
                        .await
                        .inspect_err(|e| record_error("offer", e))?
                }
                Step::Answer { sdp } => self
                    .relay
                    .answer(&job.call_id, sdp.clone())
                    .await
                    .inspect_err(|e| record_error("answer", e))?,
            });
        }
        Ok(body)
    }

    /// A call ended (BYE, CANCEL, final failure, timeout): releases its
    /// relay ports and returns what its legs measured.
    pub async fn end(&mut self, call_id: &str) -> Option<MediaSummary> {
        if self.browsers.remove(call_id) {
            self.failed.remove(call_id);
            let recording = self.recorded.remove(call_id);
            let stats = self.webrtc.as_ref()?.close(call_id).await?;
            let summary = MediaSummary {
                call_id: call_id.to_owned(),
                codecs: stats.codecs,
                legs: stats.legs,
                recording,
            };
            log_summary(&summary);
            return Some(summary);
        }
        let codecs = self.exchanges.codecs(call_id);
        if !self.exchanges.remove(call_id) {
            return None;
        }
        self.silent.remove(call_id);
        let recording = self.recorded.remove(call_id);
        let legs = self.relay.call_stats(call_id).await.ok().flatten()?;
        if self.relay.delete(call_id).await.is_ok() {
            self.live = self.live.saturating_sub(1);
            self.closed.add(&legs);
        }
        let summary = MediaSummary {
            call_id: call_id.to_owned(),
            codecs,
            legs,
            recording,
        };
        log_summary(&summary);
        Some(summary)
    }

    /// Acts on a relay event: counts it; a call silent on both legs for
    /// the media timeout is released (as rtpengine does).
    pub async fn handle_event(&mut self, event: RelayEvent) {
        match event {
            RelayEvent::Latched {
                call,
                side,
                remote,
                previous,
                ..
            } => {
                metrics::counter!("voip_relay_latched_total").increment(1);
                tracing::debug!(call_id = %call, ?side, %remote, ?previous, "media latched");
            }
            RelayEvent::MediaTimeout {
                call,
                side,
                silent_for,
            } => {
                metrics::counter!("voip_relay_media_timeouts_total").increment(1);
                tracing::info!(call_id = %call, ?side, ?silent_for, "no media from a leg");
                let Ok(Some(stats)) = self.relay.call_stats(&call).await else {
                    return;
                };
                let marks = self.silent.entry(call.to_string()).or_default();
                let i = usize::from(side == Side::B);
                marks[i] = Some(stats[i].packets_in);
                if marks[1 - i] == Some(stats[1 - i].packets_in) {
                    tracing::warn!(call_id = %call, "no media either way: releasing the relay call");
                    self.end(&call).await;
                }
            }
            RelayEvent::Dtmf { call, from, event } => {
                tracing::debug!(call_id = %call, ?from, ?event, "dtmf");
            }
            RelayEvent::Quality {
                call, side, report, ..
            } => {
                tracing::debug!(call_id = %call, ?side, mos = report.mos, "media quality");
            }
            _ => {}
        }
    }

    /// The next event of the relay or the WebRTC bridges (for the
    /// driver's `select!`).
    pub async fn next_any(&mut self) -> Option<AnchorEvent> {
        let (relay, webrtc) = (&mut self.relay, &mut self.webrtc);
        let bridges = async {
            match webrtc {
                Some(webrtc) => webrtc.next_event().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            event = relay.next_event() => event.map(AnchorEvent::Relay),
            Some(event) = bridges => Some(AnchorEvent::WebRtc(event)),
        }
    }

    /// Acts on a bridge event: a failed browser leg marks its call for
    /// hanging up (see [`Anchor::poll_teardown`]).
    pub fn handle_webrtc_event(&mut self, event: WebRtcCallEvent) {
        if let WebRtcCallEvent::Failed { call_id, reason } = event
            && self.browsers.contains(&call_id)
        {
            let reason = match reason {
                voip_media::webrtc::FailReason::Fingerprint => {
                    "media: the DTLS certificate does not match a=fingerprint".to_owned()
                }
                voip_media::webrtc::FailReason::ConnectTimeout => {
                    "media: ICE/DTLS did not connect in time".to_owned()
                }
                voip_media::webrtc::FailReason::Disconnected => {
                    "media: ICE consent lost".to_owned()
                }
                other => format!("media: {other:?}"),
            };
            tracing::warn!(%call_id, %reason, "browser media failed: the call is hung up");
            self.failed.insert(call_id, reason);
        }
    }

    /// A failed bridged call that can be hung up now (its 2xx went out):
    /// the BYEs to send. `is_ours` tells the proxy's own Record-Route
    /// entries. A call that fails before it is answered is hung up when
    /// its 2xx passes.
    pub fn poll_teardown(&mut self, is_ours: impl Fn(&voip_sip::Uri) -> bool) -> Option<Teardown> {
        let call_id = self
            .failed
            .keys()
            .find(|id| {
                self.browsers
                    .dialog(id)
                    .is_none_or(super::webrtc_dialog::DialogTrace::is_confirmed)
            })?
            .clone();
        let reason = self.failed.remove(&call_id)?;
        let byes = self
            .browsers
            .dialog(&call_id)
            .and_then(|d| d.byes(&reason, &is_ours))
            .unwrap_or_default();
        Some(Teardown {
            call_id,
            reason,
            byes,
        })
    }

    /// Publishes the relay's counters to the metrics recorder.
    pub async fn export_metrics(&mut self) {
        let Ok(stats) = self.relay.stats().await else {
            return;
        };
        let mut totals = self.closed.clone();
        for id in self.exchanges.ids() {
            if let Ok(Some(legs)) = self.relay.call_stats(&id).await {
                totals.add(&legs);
            }
        }
        export(&stats, &totals, self.live);
    }
}

fn log_summary(summary: &MediaSummary) {
    let [a, b] = &summary.legs;
    let mos = |l: &LegStats| l.quality.as_ref().map(|q| q.mos);
    tracing::info!(
        call_id = %summary.call_id,
        caller_codec = summary.codecs[0].as_deref().unwrap_or("-"),
        callee_codec = summary.codecs[1].as_deref().unwrap_or("-"),
        caller_packets = a.packets_in,
        callee_packets = b.packets_in,
        caller_lost = a.lost,
        callee_lost = b.lost,
        caller_jitter_ms = a.jitter.as_secs_f64() * 1000.0,
        callee_jitter_ms = b.jitter.as_secs_f64() * 1000.0,
        caller_mos = ?mos(a),
        callee_mos = ?mos(b),
        "relay call ended"
    );
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::time::Duration;

    use tokio::net::UdpSocket;
    use voip_core::TransportProtocol;

    use super::*;
    use crate::media::config::resolve;
    use crate::media::message::audio_address;

    fn settings(ports: &str, extra: &str) -> MediaSettings {
        let entry: crate::media::config::MediaEntry = toml::from_str(&format!(
            "rtp_ports = \"{ports}\"\npublic_ip = \"127.0.0.1\"\nbind_ip = \"127.0.0.1\"\n{extra}"
        ))
        .unwrap();
        resolve(
            std::path::Path::new("t.toml"),
            Some(&entry),
            None,
            None,
            None,
        )
        .unwrap()
    }

    fn sdp(port: u16, formats: &str, rtpmaps: &str) -> String {
        format!(
            "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
             m=audio {port} RTP/AVP {formats}\r\n{rtpmaps}a=sendrecv\r\n"
        )
    }

    fn message(
        start: &str,
        from_tag: &str,
        to_tag: Option<&str>,
        cseq: &str,
        body: &str,
    ) -> Transmit {
        let to = match to_tag {
            Some(t) => format!("<sip:b@h>;tag={t}"),
            None => "<sip:b@h>".to_owned(),
        };
        let (ct, len) = if body.is_empty() {
            (String::new(), 0)
        } else {
            ("Content-Type: application/sdp\r\n".to_owned(), body.len())
        };
        Transmit {
            protocol: TransportProtocol::Udp,
            source: None,
            destination: "127.0.0.1:5999".parse().unwrap(),
            connection: None,
            contents: Bytes::from(format!(
                "{start}\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKx\r\n\
                 From: <sip:a@h>;tag={from_tag}\r\nTo: {to}\r\nCall-ID: call-1\r\nCSeq: {cseq}\r\n\
                 {ct}Content-Length: {len}\r\n\r\n{body}"
            )),
        }
    }

    async fn send(anchor: &mut Anchor, t: Transmit, bypass: bool) -> voip_sip::Message {
        let prepared = anchor.prepare(t, |_| bypass);
        let out = anchor.rewrite(prepared).await;
        parse(&out.contents).expect("the rewritten message parses")
    }

    fn rtp(seq: u16, pt: u8) -> Vec<u8> {
        let mut b = vec![0x80, pt];
        b.extend_from_slice(&seq.to_be_bytes());
        b.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
        b.extend_from_slice(&[0, 0, 0, 9]);
        b.extend_from_slice(&[0xff; 160]);
        b
    }

    async fn recv(sock: &UdpSocket) -> (Vec<u8>, SocketAddr) {
        let mut buf = [0u8; 2048];
        let (n, from) = tokio::time::timeout(Duration::from_secs(10), sock.recv_from(&mut buf))
            .await
            .expect("a relayed packet within 10 s")
            .unwrap();
        (buf[..n].to_vec(), from)
    }

    #[tokio::test]
    async fn invite_and_200_are_rewritten_and_rtp_flows_through_the_relay() {
        let settings = settings("42200-42219", "");
        let mut anchor = Anchor::start(&settings).unwrap().unwrap();
        let caller = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let callee = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let (pa, pb) = (
            caller.local_addr().unwrap().port(),
            callee.local_addr().unwrap().port(),
        );
        let offer = sdp(pa, "0 101", "a=rtpmap:101 telephone-event/8000\r\n");
        let invite = message("INVITE sip:b@h SIP/2.0", "ta", None, "1 INVITE", &offer);
        let out = send(&mut anchor, invite.clone(), false).await;
        let to_callee = audio_address(out.body()).unwrap();
        assert_eq!(to_callee.ip().to_string(), "127.0.0.1");
        assert!((42200..=42219).contains(&to_callee.port()), "{to_callee}");
        // the transcoding codec (PCMU) was offered already: not added twice
        let text = String::from_utf8_lossy(out.body()).into_owned();
        assert!(
            text.contains(&format!("m=audio {} RTP/AVP 0 101", to_callee.port())),
            "{text}"
        );
        // a retransmission gets the same bytes
        let again = send(&mut anchor, invite, false).await;
        assert_eq!(again.body(), out.body());

        let answer = sdp(pb, "0", "");
        let ok = message("SIP/2.0 200 OK", "ta", Some("tb"), "1 INVITE", &answer);
        let out = send(&mut anchor, ok, false).await;
        let to_caller = audio_address(out.body()).unwrap();
        assert!((42200..=42219).contains(&to_caller.port()), "{to_caller}");
        assert_ne!(to_caller, to_callee);

        // RTP both ways through the relay
        for seq in 0..5u16 {
            caller.send_to(&rtp(seq, 0), to_caller).await.unwrap();
            let (packet, from) = recv(&callee).await;
            assert_eq!((packet, from), (rtp(seq, 0), to_callee));
            callee.send_to(&rtp(seq, 0), to_callee).await.unwrap();
            let (packet, from) = recv(&caller).await;
            assert_eq!((packet, from), (rtp(seq, 0), to_caller));
        }
        let bye = message("BYE sip:b@h SIP/2.0", "ta", Some("tb"), "2 BYE", "");
        let out = send(&mut anchor, bye.clone(), false).await;
        assert_eq!(out.to_bytes(), bye.contents, "a BYE passes untouched");
        let summary = anchor.end("call-1").await.expect("the call was anchored");
        assert_eq!(summary.legs[0].packets_in, 5);
        assert_eq!(summary.legs[1].packets_in, 5);
        assert_eq!(summary.codecs, [Some("PCMU".into()), Some("PCMU".into())]);
        assert!(anchor.end("call-1").await.is_none());
        anchor.export_metrics().await;
    }

    #[tokio::test]
    async fn opus_only_caller_reaches_a_pcmu_only_callee_through_transcoding() {
        let settings = settings("42220-42239", "transcode = [\"PCMU\"]\n");
        let mut anchor = Anchor::start(&settings).unwrap().unwrap();
        let offer = sdp(40000, "111", "a=rtpmap:111 opus/48000/2\r\n");
        let invite = message("INVITE sip:b@h SIP/2.0", "ta", None, "1 INVITE", &offer);
        let out = send(&mut anchor, invite, false).await;
        let text = String::from_utf8_lossy(out.body()).into_owned();
        assert!(
            text.contains("RTP/AVP 111 0"),
            "PCMU added to the offer: {text}"
        );
        let ok = message(
            "SIP/2.0 200 OK",
            "ta",
            Some("tb"),
            "1 INVITE",
            &sdp(40002, "0", ""),
        );
        let out = send(&mut anchor, ok, false).await;
        let text = String::from_utf8_lossy(out.body()).into_owned();
        assert!(
            text.contains("RTP/AVP 111"),
            "the caller keeps opus: {text}"
        );
        assert_eq!(
            anchor.exchanges.codecs("call-1"),
            [Some("opus".into()), Some("PCMU".into())]
        );
        anchor.end("call-1").await.unwrap();
    }

    #[tokio::test]
    async fn late_offer_bypass_and_refusals() {
        let settings = settings("42240-42259", "srtp = \"sdes\"\n");
        let mut anchor = Anchor::start(&settings).unwrap().unwrap();
        // offer-less INVITE: the offer comes in the 200, the answer in the ACK
        let invite = message("INVITE sip:b@h SIP/2.0", "ta", None, "1 INVITE", "");
        let out = send(&mut anchor, invite.clone(), false).await;
        assert_eq!(out.to_bytes(), invite.contents);
        let ok = message(
            "SIP/2.0 200 OK",
            "ta",
            Some("tb"),
            "1 INVITE",
            &sdp(40010, "0", ""),
        );
        let out = send(&mut anchor, ok, false).await;
        let to_caller = audio_address(out.body()).unwrap();
        assert!((42240..=42259).contains(&to_caller.port()));
        let ack = message(
            "ACK sip:b@h SIP/2.0",
            "ta",
            Some("tb"),
            "1 ACK",
            &sdp(40012, "0", ""),
        );
        let out = send(&mut anchor, ack, false).await;
        let to_callee = audio_address(out.body()).unwrap();
        assert!((42240..=42259).contains(&to_callee.port()));
        anchor.end("call-1").await.unwrap();

        // a call to the IVR is not anchored
        let offer = sdp(40020, "0", "");
        let invite = message("INVITE sip:9999@h SIP/2.0", "ta", None, "1 INVITE", &offer);
        let out = send(&mut anchor, invite.clone(), true).await;
        assert_eq!(out.to_bytes(), invite.contents);
        assert!(anchor.end("call-1").await.is_none());

        // SDP without audio: refused, the message goes out as it came
        let video = "v=0\r\nc=IN IP4 127.0.0.1\r\nm=video 4000 RTP/AVP 96\r\n";
        let invite = message("INVITE sip:b@h SIP/2.0", "ta", None, "1 INVITE", video);
        let out = send(&mut anchor, invite.clone(), false).await;
        assert_eq!(out.to_bytes(), invite.contents);
    }
}
