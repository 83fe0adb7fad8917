//! One call's media: prompts go out as paced PCMU RTP through the shared
//! [`MediaClock`]; a task of the call's own listens for the caller's keys
//! (RFC 4733 events and in-band tones), and once the call is transferred
//! relays RTP between the caller and the agent unchanged.
//!
//! The task owns the call's RTP sockets; the IVR server talks to it over
//! [`MediaHandle`] and hears back [`MediaEvent`]s.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use voip_core::Rng;
use voip_media::codec::ulaw_decode;
use voip_media::{
    CodecImpairment, DtmfDetector, DtmfDetectorConfig, DtmfReport, QualityReport, Rfc4733Event,
    Rfc4733Receiver, RtpSession, RtpSessionConfig,
};

use super::clock::MediaClock;
use super::recording::IvrRecording;
use super::rtp::{PCMU, Packetizer, parse};
use voip_media::relay::Side;

/// Packet interval.
pub const PTIME: Duration = Duration::from_millis(20);

/// What the server asks of a media task.
#[derive(Debug)]
pub enum MediaCommand {
    /// Play 8 kHz samples; [`MediaEvent::Finished`] with `token` follows
    /// unless stopped.
    Play {
        /// The audio.
        samples: Arc<[i16]>,
        /// Names this playback in the finished event.
        token: u64,
    },
    /// Stop the playback (barge-in).
    Stop,
    /// The caller moved its media or put the call on hold (a re-INVITE):
    /// send to this address from now on, `None`: nothing.
    CallerRemote(Option<SocketAddr>),
    /// The agent moved its media or put the call on hold (a re-INVITE):
    /// relay the caller's RTP to this address from now on, `None`: nothing.
    AgentRemote(Option<SocketAddr>),
    /// Relay RTP between the caller and an agent from now on.
    Bridge {
        /// The agent leg's local socket (the address in our offer).
        socket: std::net::UdpSocket,
        /// Where the agent wants RTP.
        remote: SocketAddr,
    },
}

/// What a media task reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaEvent {
    /// A playback ran to its end.
    Finished {
        /// Its token.
        token: u64,
    },
    /// A key from the caller (RFC 4733 or in-band).
    Digit(DtmfReport),
}

/// The server's end of a media task; dropping it ends the task (and frees
/// its ports).
#[derive(Debug)]
pub struct MediaHandle {
    call: u64,
    clock: MediaClock,
    commands: mpsc::UnboundedSender<TaskCommand>,
    quality: Arc<Mutex<Option<QualityReport>>>,
}

/// The agent leg the call task relays to.
#[derive(Debug)]
struct Bridge {
    socket: std::net::UdpSocket,
    remote: SocketAddr,
}

/// What the server tells the call's receive task.
#[derive(Debug)]
enum TaskCommand {
    Bridge(Bridge),
    CallerRemote(Option<SocketAddr>),
    AgentRemote(Option<SocketAddr>),
}

impl MediaHandle {
    /// The caller's leg as received so far (RFC 3550 statistics, G.107
    /// E-model MOS); `None` before the caller's RTP was valid.
    pub fn quality(&self) -> Option<QualityReport> {
        self.quality.lock().ok().and_then(|q| *q)
    }

    /// Sends a command; a task that ended ignores it.
    pub fn send(&self, command: MediaCommand) {
        match command {
            MediaCommand::Play { samples, token } => self.clock.play(self.call, samples, token),
            MediaCommand::Stop => self.clock.stop(self.call),
            MediaCommand::CallerRemote(remote) => {
                self.clock.set_remote(self.call, remote);
                let _ = self.commands.send(TaskCommand::CallerRemote(remote));
            }
            MediaCommand::AgentRemote(remote) => {
                let _ = self.commands.send(TaskCommand::AgentRemote(remote));
            }
            MediaCommand::Bridge { socket, remote } => {
                // the agent's RTP replaces ours
                self.clock.remove(self.call);
                let _ = self
                    .commands
                    .send(TaskCommand::Bridge(Bridge { socket, remote }));
            }
        }
    }
}

impl Drop for MediaHandle {
    fn drop(&mut self) {
        self.clock.remove(self.call);
    }
}

/// How the caller's RTP looks, from the SDP offer/answer.
#[derive(Debug, Clone, Copy)]
pub struct CallerMedia {
    /// Where the caller wants RTP (`None`: on hold, send nothing).
    pub remote: Option<SocketAddr>,
    /// The telephone-event payload type, if negotiated.
    pub telephone_event: Option<u8>,
    /// The telephone-event clock rate.
    pub telephone_event_rate: u32,
    /// The first SSRC, sequence number and timestamp to send with.
    pub start: (u32, u16, u32),
}

/// Starts the media of call `call` on `socket`: its RTP on `clock`, its
/// receive task on the runtime.
pub fn spawn(
    call: u64,
    socket: std::net::UdpSocket,
    media: CallerMedia,
    events: mpsc::UnboundedSender<(u64, MediaEvent)>,
    clock: &MediaClock,
    recording: Option<IvrRecording>,
) -> std::io::Result<MediaHandle> {
    socket.set_nonblocking(true)?;
    let socket = Arc::new(UdpSocket::from_std(socket)?);
    let (ssrc, seq, ts) = media.start;
    let packetizer = Packetizer::new(ssrc, seq, ts, PCMU);
    clock.add(
        call,
        socket.clone(),
        media.remote,
        packetizer,
        events.clone(),
    );
    let (commands, rx) = mpsc::unbounded_channel();
    let quality = Arc::new(Mutex::new(None));
    tokio::spawn(run(
        call,
        socket,
        media,
        rx,
        events,
        quality.clone(),
        recording,
    ));
    Ok(MediaHandle {
        call,
        clock: clock.clone(),
        commands,
        quality,
    })
}

async fn run(
    call: u64,
    caller: Arc<UdpSocket>,
    media: CallerMedia,
    mut commands: mpsc::UnboundedReceiver<TaskCommand>,
    events: mpsc::UnboundedSender<(u64, MediaEvent)>,
    quality: Arc<Mutex<Option<QualityReport>>>,
    mut recording: Option<IvrRecording>,
) {
    // receive statistics of the caller's RTP, for the call record
    let mut stats = RtpSessionConfig::default()
        .clock_rate(8000)
        .build()
        .ok()
        .map(|config| RtpSession::new(config, Rng::os(), Instant::now()));
    let mut counted: u64 = 0;
    // the agent leg, and where the agent wants RTP (`None`: on hold)
    let mut bridge: Option<(UdpSocket, Option<SocketAddr>)> = None;
    // where the caller wants RTP (`None`: on hold); a re-INVITE moves it
    let mut caller_remote = media.remote;
    let mut rfc4733 = Rfc4733Receiver::new(media.telephone_event_rate);
    let mut inband = DtmfDetector::new(DtmfDetectorConfig::default(), 8000, Instant::now()).ok();
    let mut buf = vec![0u8; 2048];
    let mut agent_buf = vec![0u8; 2048];
    loop {
        let dtmf_deadline = rfc4733.poll_timeout();
        tokio::select! {
            command = commands.recv() => match command {
                None => break,
                Some(TaskCommand::CallerRemote(remote)) => caller_remote = remote,
                Some(TaskCommand::AgentRemote(remote)) => {
                    if let Some((_, agent_remote)) = &mut bridge {
                        *agent_remote = remote;
                    }
                }
                Some(TaskCommand::Bridge(Bridge { socket, remote })) => {
                    let socket = socket
                        .set_nonblocking(true)
                        .and_then(|()| UdpSocket::from_std(socket));
                    match socket {
                        Ok(socket) => bridge = Some((socket, Some(remote))),
                        Err(error) => tracing::warn!(call, %error, "agent RTP socket unusable"),
                    }
                }
            },
            received = caller.recv_from(&mut buf) => {
                let Ok((len, _from)) = received else { continue };
                let datagram = &buf[..len];
                if let Some(recording) = &mut recording
                    && let Some(rtp) = parse(datagram)
                    && rtp.payload_type == PCMU
                {
                    recording.pcmu(Side::A, Instant::now(), rtp.payload);
                }
                if let Some(session) = &mut stats {
                    let _ = session.handle_rtp(Instant::now(), Bytes::copy_from_slice(datagram));
                    counted += 1;
                    // every packet of the first second, then once a second
                    if (counted <= 50 || counted % 50 == 0)
                        && let Ok(mut slot) = quality.lock()
                    {
                        *slot = session.quality(CodecImpairment::G711_PLC, PTIME);
                    }
                }
                if let Some((agent, remote)) = &bridge {
                    if let Some(remote) = remote {
                        let _ = agent.send_to(datagram, *remote).await;
                    }
                    continue;
                }
                let Some(rtp) = parse(datagram) else { continue };
                let now = Instant::now();
                if Some(rtp.payload_type) == media.telephone_event {
                    let _ = rfc4733.handle_packet(now, rtp.timestamp, rtp.payload);
                } else if rtp.payload_type == PCMU
                    && let Some(detector) = &mut inband
                {
                    let samples: Vec<i16> = rtp.payload.iter().map(|c| ulaw_decode(*c)).collect();
                    detector.handle_samples(now, &samples);
                    while let Some(report) = detector.poll_report() {
                        let _ = events.send((call, MediaEvent::Digit(report)));
                    }
                }
                while let Some(event) = rfc4733.poll_event() {
                    if let Rfc4733Event::Pressed(report) = event {
                        let _ = events.send((call, MediaEvent::Digit(report)));
                    }
                }
            }
            received = recv_from(bridge.as_ref().map(|(s, _)| s), &mut agent_buf) => {
                let Ok((len, _)) = received else { continue };
                if let Some(recording) = &mut recording
                    && let Some(rtp) = parse(&agent_buf[..len])
                    && rtp.payload_type == PCMU
                {
                    recording.pcmu(Side::B, Instant::now(), rtp.payload);
                }
                if let Some(remote) = caller_remote {
                    let _ = caller.send_to(&agent_buf[..len], remote).await;
                }
            }
            () = sleep_until(dtmf_deadline) => {
                rfc4733.handle_timeout(Instant::now());
                while let Some(event) = rfc4733.poll_event() {
                    if let Rfc4733Event::Pressed(report) = event {
                        let _ = events.send((call, MediaEvent::Digit(report)));
                    }
                }
            }
        }
    }
    if let Some(recording) = recording {
        recording.finish();
    }
    tracing::debug!(call, "media task ended");
}

/// Receives on `socket`, or never when there is none.
async fn recv_from(
    socket: Option<&UdpSocket>,
    buf: &mut [u8],
) -> std::io::Result<(usize, SocketAddr)> {
    match socket {
        Some(socket) => socket.recv_from(buf).await,
        None => std::future::pending().await,
    }
}

/// Sleeps until `deadline`, or forever when there is none.
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
