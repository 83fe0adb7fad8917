//! One 20 ms clock for every IVR call's outgoing RTP (FreeSWITCH's shared
//! soft timer): a single task wakes every packet time and sends each
//! call's next packet (prompt audio, hold music or silence) in one pass.
//! One wake-up per 20 ms instead of one per call keeps the send schedule
//! steady when hundreds of calls are up: a call's packets leave at the
//! same offset in every pass (calls are kept in call order, so a new
//! call joins at the end of the pass and moves nobody else).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::MissedTickBehavior;

use super::media::{MediaEvent, PTIME};
use super::rtp::{Packetizer, SAMPLES_PER_PACKET};

/// What the clock is asked to do.
#[derive(Debug)]
enum ClockCommand {
    /// Start sending for `call`: silence until a playback.
    Add {
        call: u64,
        socket: Arc<UdpSocket>,
        remote: Option<SocketAddr>,
        packetizer: Packetizer,
        events: mpsc::UnboundedSender<(u64, MediaEvent)>,
    },
    /// Play 8 kHz samples; `Finished { token }` follows unless stopped.
    Play {
        call: u64,
        samples: Arc<[i16]>,
        token: u64,
    },
    /// Stop the playback; silence follows.
    Stop { call: u64 },
    /// Send to `remote` from now on (`None`: on hold).
    SetRemote {
        call: u64,
        remote: Option<SocketAddr>,
    },
    /// Stop sending for `call` (bridged or ended).
    Remove { call: u64 },
}

/// A handle on the clock task; cheap to clone.
#[derive(Debug, Clone)]
pub struct MediaClock {
    commands: mpsc::UnboundedSender<ClockCommand>,
}

struct Playback {
    samples: Arc<[i16]>,
    position: usize,
    token: u64,
}

struct Stream {
    socket: Arc<UdpSocket>,
    /// `None`: on hold; prompts run their course but nothing is sent.
    remote: Option<SocketAddr>,
    packetizer: Packetizer,
    playback: Option<Playback>,
    events: mpsc::UnboundedSender<(u64, MediaEvent)>,
}

impl MediaClock {
    /// Starts the clock task (on the current tokio runtime).
    pub fn start() -> Self {
        let (commands, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(rx));
        Self { commands }
    }

    /// Sends `call`'s RTP from `socket` to `remote` (`None`: on hold,
    /// nothing is sent but playbacks still finish) from the next tick on.
    pub fn add(
        &self,
        call: u64,
        socket: Arc<UdpSocket>,
        remote: Option<SocketAddr>,
        packetizer: Packetizer,
        events: mpsc::UnboundedSender<(u64, MediaEvent)>,
    ) {
        let _ = self.commands.send(ClockCommand::Add {
            call,
            socket,
            remote,
            packetizer,
            events,
        });
    }

    /// Plays `samples` to `call`.
    pub fn play(&self, call: u64, samples: Arc<[i16]>, token: u64) {
        let _ = self.commands.send(ClockCommand::Play {
            call,
            samples,
            token,
        });
    }

    /// Stops `call`'s playback.
    pub fn stop(&self, call: u64) {
        let _ = self.commands.send(ClockCommand::Stop { call });
    }

    /// Sends `call`'s RTP to `remote` from the next tick on (`None`: on
    /// hold; playbacks still run their course).
    pub fn set_remote(&self, call: u64, remote: Option<SocketAddr>) {
        let _ = self.commands.send(ClockCommand::SetRemote { call, remote });
    }

    /// Stops sending for `call`.
    pub fn remove(&self, call: u64) {
        let _ = self.commands.send(ClockCommand::Remove { call });
    }
}

async fn run(mut commands: mpsc::UnboundedReceiver<ClockCommand>) {
    let mut streams: BTreeMap<u64, Stream> = BTreeMap::new();
    let mut tick = tokio::time::interval(PTIME);
    tick.set_missed_tick_behavior(MissedTickBehavior::Burst);
    loop {
        tokio::select! {
            command = commands.recv() => match command {
                None => return,
                Some(command) => apply(&mut streams, command),
            },
            deadline = tick.tick() => {
                // commands that arrived with the tick take effect in it
                while let Ok(command) = commands.try_recv() {
                    apply(&mut streams, command);
                }
                // how late this pass starts against its 20 ms slot: the
                // jitter of the RTP the IVR sends
                let late = Instant::now().saturating_duration_since(deadline.into_std());
                metrics::histogram!("ivr_rtp_send_lateness_seconds").record(late.as_secs_f64());
                for (call, stream) in &mut streams {
                    send_next(*call, stream);
                }
            }
        }
    }
}

fn apply(streams: &mut BTreeMap<u64, Stream>, command: ClockCommand) {
    match command {
        ClockCommand::Add {
            call,
            socket,
            remote,
            packetizer,
            events,
        } => {
            streams.insert(
                call,
                Stream {
                    socket,
                    remote,
                    packetizer,
                    playback: None,
                    events,
                },
            );
        }
        ClockCommand::Play {
            call,
            samples,
            token,
        } => {
            if let Some(stream) = streams.get_mut(&call) {
                stream.packetizer.new_talkspurt();
                stream.playback = Some(Playback {
                    samples,
                    position: 0,
                    token,
                });
            }
        }
        ClockCommand::Stop { call } => {
            if let Some(stream) = streams.get_mut(&call) {
                stream.playback = None;
            }
        }
        ClockCommand::SetRemote { call, remote } => {
            if let Some(stream) = streams.get_mut(&call) {
                stream.remote = remote;
            }
        }
        ClockCommand::Remove { call } => {
            streams.remove(&call);
        }
    }
}

/// A prompt's next 20 ms, or silence between prompts (keeps the caller's
/// media timeout and NAT binding alive).
fn send_next(call: u64, stream: &mut Stream) {
    let packet = match &mut stream.playback {
        Some(p) => {
            let end = (p.position + SAMPLES_PER_PACKET).min(p.samples.len());
            let packet = stream.packetizer.packet(&p.samples[p.position..end]);
            p.position = end;
            packet
        }
        None => stream.packetizer.packet(&[0; SAMPLES_PER_PACKET]),
    };
    // a full socket buffer drops this packet (as a late one would be)
    if let Some(remote) = stream.remote
        && let Err(error) = stream.socket.try_send_to(&packet, remote)
    {
        tracing::debug!(call, %error, "rtp send failed");
    }
    if let Some(p) = &stream.playback
        && p.position >= p.samples.len()
    {
        let _ = stream
            .events
            .send((call, MediaEvent::Finished { token: p.token }));
        stream.playback = None;
    }
}
