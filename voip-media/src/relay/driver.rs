//! The tokio driver: binds leg sockets from the port range, moves datagrams
//! in batches and runs the [`Relay`] core in one task.
//!
//! ```text
//! per socket: reader task ── recvmmsg/GRO (quinn-udp) ── Vec<datagram> ──┐
//!                                                                         ▼
//! commands (offer/answer/…) ──► core task: select!{ command, batch, sleep_until(poll_timeout) }
//!                                  └─► Relay::handle_* ─► poll_transmit ─► GSO sends (quinn-udp), grouped per socket
//! ```
//!
//! Only this task reads the clock. [`SocketMode::Unbatched`] uses one
//! `recv_from`/`send_to` per datagram instead, to measure what batching is
//! worth (see `benches/relay.rs`).

use std::collections::HashMap;
use std::io::{self, IoSliceMut};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use quinn_udp::{BATCH_SIZE, RecvMeta, Transmit as UdpTransmit, UdpSocketState};
use tokio::io::Interest;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant as TokioInstant;
use voip_core::{Rng, Transmit};

use super::config::RelayConfig;
use super::error::RelayError;
use super::event::RelayEvent;
use super::leg::{LegAddrs, Side};
use super::ports::PortRange;
use super::record_pipe::{RecordingPipe, ToWriter};
use super::record_writer::RecordingOptions;
use super::relay::{OfferOptions, Relay};
use super::stats::{LegStats, RelayStats};

/// Receive buffer per datagram slot (holds a GRO batch of RTP packets).
const SLOT: usize = 16 * 1024;
/// Most datagrams in one GSO send: on loopback (and to hosts next door) a
/// GSO burst lands in the peer's socket buffer at once, and a phone's
/// default buffer overflows with much more than this.
const MAX_GSO: usize = 8;
/// Most reader hand-overs the core task takes in one pass.
const MAX_BATCHES_PER_PASS: usize = 255;
/// Socket buffers of leg sockets.
const SOCKET_BUFFER: usize = 1 << 20;

/// How sockets move datagrams.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SocketMode {
    /// recvmmsg + GRO and GSO sends through `quinn-udp` (default).
    #[default]
    Batched,
    /// One `recv_from`/`send_to` per datagram (plain tokio).
    Unbatched,
}

/// Why a driver command failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DriverError {
    /// Every port pair of the range is in use (or held by another program).
    #[error("no free rtp port pair in {min}-{max}")]
    PortsExhausted {
        /// Range start.
        min: u16,
        /// Range end.
        max: u16,
    },
    /// The core refused the command.
    #[error(transparent)]
    Relay(#[from] RelayError),
    /// A socket operation failed.
    #[error("io: {0}")]
    Io(#[from] io::Error),
    /// The driver task has ended.
    #[error("relay driver stopped")]
    Closed,
    /// The recording file could not be created.
    #[error("recording: {0}")]
    Recording(#[from] crate::audio::WavError),
}

struct Sock {
    io: UdpSocket,
    state: UdpSocketState,
}

struct Datagram {
    local: SocketAddr,
    source: SocketAddr,
    contents: Bytes,
}

type Reply<T> = oneshot::Sender<Result<T, DriverError>>;

enum Command {
    Create(String, Reply<[LegAddrs; 2]>),
    Offer(String, Side, Bytes, OfferOptions, Reply<Bytes>),
    Answer(String, Bytes, Reply<Bytes>),
    Delete(String, Reply<()>),
    Stats(Reply<RelayStats>),
    CallStats(String, Reply<Option<[LegStats; 2]>>),
    Record(
        String,
        std::path::PathBuf,
        RecordingOptions,
        Reply<oneshot::Receiver<Result<(), crate::audio::WavError>>>,
    ),
    StopRecording(String, Reply<bool>),
}

/// Starts relay drivers.
#[derive(Debug)]
pub struct RelayDriver;

impl RelayDriver {
    /// Spawns the driver on the current tokio runtime; leg sockets bind
    /// `bind_ip` on ports of the config's range.
    pub fn spawn(
        config: Arc<RelayConfig>,
        bind_ip: IpAddr,
        rng: Rng,
        mode: SocketMode,
    ) -> RelayHandle {
        let (cmd_tx, cmd_rx) = mpsc::channel(64);
        let (event_tx, event_rx) = mpsc::channel(1024);
        let task = tokio::spawn(run(config, bind_ip, rng, mode, cmd_rx, event_tx));
        RelayHandle {
            commands: cmd_tx,
            events: event_rx,
            task,
        }
    }
}

/// Commands to a running driver, and its events.
#[derive(Debug)]
pub struct RelayHandle {
    commands: mpsc::Sender<Command>,
    events: mpsc::Receiver<RelayEvent>,
    task: JoinHandle<()>,
}

impl Drop for RelayHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl RelayHandle {
    async fn ask<T>(&self, make: impl FnOnce(Reply<T>) -> Command) -> Result<T, DriverError> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(make(tx))
            .await
            .map_err(|_| DriverError::Closed)?;
        rx.await.map_err(|_| DriverError::Closed)?
    }

    /// Binds two port pairs and registers the call; returns the local
    /// addresses of legs A and B.
    pub async fn create_call(&self, call_id: &str) -> Result<[LegAddrs; 2], DriverError> {
        self.ask(|r| Command::Create(call_id.to_owned(), r)).await
    }

    /// See [`Relay::offer`].
    pub async fn offer(
        &self,
        call_id: &str,
        from: Side,
        sdp: Bytes,
        options: OfferOptions,
    ) -> Result<Bytes, DriverError> {
        self.ask(|r| Command::Offer(call_id.to_owned(), from, sdp, options, r))
            .await
    }

    /// See [`Relay::answer`].
    pub async fn answer(&self, call_id: &str, sdp: Bytes) -> Result<Bytes, DriverError> {
        self.ask(|r| Command::Answer(call_id.to_owned(), sdp, r))
            .await
    }

    /// Ends a call and closes its sockets.
    pub async fn delete(&self, call_id: &str) -> Result<(), DriverError> {
        self.ask(|r| Command::Delete(call_id.to_owned(), r)).await
    }

    /// The core's counters.
    pub async fn stats(&self) -> Result<RelayStats, DriverError> {
        self.ask(Command::Stats).await
    }

    /// Per-leg statistics.
    pub async fn call_stats(&self, call_id: &str) -> Result<Option<[LegStats; 2]>, DriverError> {
        self.ask(|r| Command::CallStats(call_id.to_owned(), r))
            .await
    }

    /// Records a call to the WAV file `path` (created or truncated):
    /// each leg's RTP decoded, left the caller (leg A), right the callee,
    /// or mixed to mono (see [`RecordingOptions`]). The core hands the
    /// decoded audio to a writer thread, so the disk never holds up the
    /// relay. The file is finished when the call is deleted or
    /// [`stop_recording`](Self::stop_recording) is called.
    pub async fn start_recording(
        &self,
        call_id: &str,
        path: impl Into<std::path::PathBuf>,
        options: RecordingOptions,
    ) -> Result<(), DriverError> {
        let path = path.into();
        let created = self
            .ask(|r| Command::Record(call_id.to_owned(), path, options, r))
            .await?;
        match created.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => {
                let _ = self.stop_recording(call_id).await;
                Err(e.into())
            }
            Err(_) => {
                let _ = self.stop_recording(call_id).await;
                Err(DriverError::Closed)
            }
        }
    }

    /// Stops recording a call (its file is finished); `false` if it was
    /// not recorded.
    pub async fn stop_recording(&self, call_id: &str) -> Result<bool, DriverError> {
        self.ask(|r| Command::StopRecording(call_id.to_owned(), r))
            .await
    }

    /// The next event (events are dropped if nobody reads them).
    pub async fn next_event(&mut self) -> Option<RelayEvent> {
        self.events.recv().await
    }
}

struct Driver {
    relay: Relay,
    ports: PortRange,
    bind_ip: IpAddr,
    mode: SocketMode,
    sockets: HashMap<SocketAddr, Arc<Sock>>,
    readers: HashMap<String, Vec<JoinHandle<()>>>,
    data_tx: mpsc::Sender<Vec<Datagram>>,
    scratch: Vec<u8>,
    /// What the core queued, reused from flush to flush.
    pending: Vec<Transmit>,
    recording: RecordingPipe,
}

async fn run(
    config: Arc<RelayConfig>,
    bind_ip: IpAddr,
    rng: Rng,
    mode: SocketMode,
    mut commands: mpsc::Receiver<Command>,
    events: mpsc::Sender<RelayEvent>,
) {
    let (data_tx, mut data_rx) = mpsc::channel::<Vec<Datagram>>(256);
    let (min, max) = config.ports();
    let mut d = Driver {
        relay: Relay::new(config, rng, std::time::Instant::now(), SystemTime::now()),
        ports: PortRange::new(min, max),
        bind_ip,
        mode,
        sockets: HashMap::new(),
        readers: HashMap::new(),
        data_tx,
        scratch: Vec::new(),
        pending: Vec::new(),
        recording: RecordingPipe::default(),
    };
    let mut recording_backlog = false;
    // One timer, moved only when the core's deadline moves: a new `Sleep`
    // per loop (per packet) would register and cancel a timer each time.
    let sleep = tokio::time::sleep_until(TokioInstant::now());
    tokio::pin!(sleep);
    let mut armed: Option<std::time::Instant> = None;
    loop {
        let deadline = d.relay.poll_timeout();
        if deadline != armed {
            if let Some(t) = deadline {
                sleep.as_mut().reset(TokioInstant::from_std(t));
            }
            armed = deadline;
        }
        tokio::select! {
            cmd = commands.recv() => match cmd {
                Some(cmd) => d.command(cmd).await,
                None => break,
            },
            Some(batch) = data_rx.recv() => {
                let now = std::time::Instant::now();
                for dg in batch {
                    d.relay.handle_datagram(now, dg.local, dg.source, dg.contents);
                }
                // What other readers queued meanwhile, in the same pass (one
                // loop, one clock read and one flush for many sockets at
                // light load, where each reader hands over a single
                // datagram); bounded so commands and timers get their turn.
                for _ in 0..MAX_BATCHES_PER_PASS {
                    let Ok(batch) = data_rx.try_recv() else { break };
                    for dg in batch {
                        d.relay.handle_datagram(now, dg.local, dg.source, dg.contents);
                    }
                }
            }
            () = &mut sleep, if armed.is_some() => {
                // re-arm from the core's next deadline, even if unchanged
                armed = None;
                d.relay.handle_timeout(std::time::Instant::now());
            }
            // the recording thread was behind: try its backlog again
            () = tokio::time::sleep(std::time::Duration::from_millis(10)), if recording_backlog => {}
        }
        d.flush().await;
        while let Some(e) = d.relay.poll_event() {
            let _ = events.try_send(e);
        }
        while let Some(r) = d.relay.poll_recording() {
            d.recording.push(ToWriter::Event(r));
        }
        recording_backlog = d.recording.pump();
    }
    for (_, tasks) in d.readers.drain() {
        tasks.iter().for_each(JoinHandle::abort);
    }
}

impl Driver {
    async fn command(&mut self, cmd: Command) {
        let now = std::time::Instant::now();
        match cmd {
            Command::Create(id, reply) => {
                let r = self.create(now, &id);
                let _ = reply.send(r);
            }
            Command::Offer(id, side, sdp, opts, reply) => {
                let _ = reply.send(
                    self.relay
                        .offer(now, &id, side, &sdp, &opts)
                        .map_err(Into::into),
                );
            }
            Command::Answer(id, sdp, reply) => {
                let _ = reply.send(self.relay.answer(now, &id, &sdp).map_err(Into::into));
            }
            Command::Delete(id, reply) => {
                let r = match self.relay.delete(now, &id) {
                    Some(addrs) => {
                        self.flush().await;
                        for l in addrs {
                            self.sockets.remove(&l.rtp);
                            self.sockets.remove(&l.rtcp);
                            self.ports.release(l.rtp.port());
                        }
                        for t in self.readers.remove(&id).unwrap_or_default() {
                            t.abort();
                        }
                        Ok(())
                    }
                    None => Err(RelayError::UnknownCall.into()),
                };
                let _ = reply.send(r);
            }
            Command::Stats(reply) => {
                let _ = reply.send(Ok(self.relay.stats()));
            }
            Command::CallStats(id, reply) => {
                let _ = reply.send(Ok(self.relay.call_stats(&id)));
            }
            Command::Record(id, path, options, reply) => {
                let r = self
                    .relay
                    .start_recording(now, &id, options.sample_rate())
                    .map(|()| {
                        let (tx, rx) = oneshot::channel();
                        self.recording.push(ToWriter::Open {
                            call: Arc::from(id.as_str()),
                            path,
                            options,
                            reply: tx,
                        });
                        rx
                    });
                let _ = reply.send(r.map_err(Into::into));
            }
            Command::StopRecording(id, reply) => {
                let _ = reply.send(Ok(self.relay.stop_recording(now, &id)));
            }
        }
    }

    fn bind(&mut self) -> Result<(LegAddrs, [Arc<Sock>; 2]), DriverError> {
        loop {
            let Some(port) = self.ports.allocate() else {
                let (min, max) = self.relay.config().ports();
                return Err(DriverError::PortsExhausted { min, max });
            };
            // A port another program holds stays marked as used.
            let Ok(rtp) = open(SocketAddr::new(self.bind_ip, port)) else {
                continue;
            };
            let Ok(rtcp) = open(SocketAddr::new(self.bind_ip, port + 1)) else {
                continue;
            };
            let addrs = LegAddrs {
                rtp: rtp.io.local_addr()?,
                rtcp: rtcp.io.local_addr()?,
            };
            return Ok((addrs, [Arc::new(rtp), Arc::new(rtcp)]));
        }
    }

    fn create(&mut self, now: std::time::Instant, id: &str) -> Result<[LegAddrs; 2], DriverError> {
        let (a, sa) = self.bind()?;
        let (b, sb) = match self.bind() {
            Ok(x) => x,
            Err(e) => {
                self.ports.release(a.rtp.port());
                return Err(e);
            }
        };
        if let Err(e) = self.relay.create_call(now, id, a, b) {
            self.ports.release(a.rtp.port());
            self.ports.release(b.rtp.port());
            return Err(e.into());
        }
        let mut tasks = Vec::new();
        for s in sa.into_iter().chain(sb) {
            let local = s.io.local_addr()?;
            self.sockets.insert(local, s.clone());
            tasks.push(tokio::spawn(reader(
                s,
                local,
                self.mode,
                self.data_tx.clone(),
            )));
        }
        self.readers.insert(id.to_owned(), tasks);
        Ok([a, b])
    }

    /// Sends what the core queued: consecutive datagrams from one socket to
    /// one destination of one size go out as one GSO send.
    async fn flush(&mut self) {
        let mut pending = std::mem::take(&mut self.pending);
        pending.clear();
        pending.extend(std::iter::from_fn(|| self.relay.poll_transmit()));
        self.send_all(&pending).await;
        pending.clear();
        self.pending = pending;
    }

    async fn send_all(&mut self, pending: &[Transmit]) {
        let mut i = 0;
        while i < pending.len() {
            let t = &pending[i];
            let Some(sock) = t.source.and_then(|s| self.sockets.get(&s)).cloned() else {
                i += 1;
                continue;
            };
            if self.mode == SocketMode::Unbatched {
                let _ = sock.io.send_to(&t.contents, t.destination).await;
                i += 1;
                continue;
            }
            let size = t.contents.len();
            let max = sock.state.max_gso_segments().clamp(1, MAX_GSO);
            let mut j = i + 1;
            while j < pending.len()
                && j - i < max
                && pending[j].source == t.source
                && pending[j].destination == t.destination
                && pending[j].contents.len() == size
            {
                j += 1;
            }
            // A shorter datagram may end a GSO batch.
            if j < pending.len()
                && j - i < max
                && pending[j].source == t.source
                && pending[j].destination == t.destination
                && pending[j].contents.len() < size
            {
                j += 1;
            }
            let segment_size = (j - i > 1).then_some(size);
            let contents: &[u8] = if j - i > 1 {
                self.scratch.clear();
                for p in &pending[i..j] {
                    self.scratch.extend_from_slice(&p.contents);
                }
                &self.scratch
            } else {
                &t.contents
            };
            let transmit = UdpTransmit {
                destination: t.destination,
                ecn: None,
                contents,
                segment_size,
                src_ip: None,
            };
            loop {
                match sock.io.try_io(Interest::WRITABLE, || {
                    sock.state.try_send((&sock.io).into(), &transmit)
                }) {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        if sock.io.writable().await.is_err() {
                            break;
                        }
                    }
                    _ => break,
                }
            }
            i = j;
        }
    }
}

fn open(addr: SocketAddr) -> io::Result<Sock> {
    let std = std::net::UdpSocket::bind(addr)?;
    std.set_nonblocking(true)?;
    let state = UdpSocketState::new((&std).into())?;
    // Best effort: the kernel caps these at net.core.{r,w}mem_max.
    let _ = state.set_recv_buffer_size((&std).into(), SOCKET_BUFFER);
    let _ = state.set_send_buffer_size((&std).into(), SOCKET_BUFFER);
    let io = UdpSocket::from_std(std)?;
    Ok(Sock { io, state })
}

/// Receive buffers of batched reads, one set per runtime thread. A reader
/// uses them only from a readable socket to the copies into `Bytes`, with
/// no await in between, so every leg socket a thread serves shares one set
/// instead of holding `BATCH_SIZE` × [`SLOT`] bytes each (512 KiB per
/// socket, 2 MiB per call: 1 GB resident at 500 calls).
struct RecvScratch {
    bufs: Vec<Vec<u8>>,
    metas: Vec<RecvMeta>,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Option<RecvScratch>> =
        const { std::cell::RefCell::new(None) };
}

/// One batched read: what `sock` has queued, appended to `batch`.
fn recv_batch(sock: &Sock, local: SocketAddr, batch: &mut Vec<Datagram>) -> io::Result<()> {
    SCRATCH.with_borrow_mut(|scratch| {
        let s = scratch.get_or_insert_with(|| RecvScratch {
            bufs: (0..BATCH_SIZE).map(|_| vec![0u8; SLOT]).collect(),
            metas: vec![RecvMeta::default(); BATCH_SIZE],
        });
        let n = {
            let mut iovs: Vec<IoSliceMut<'_>> =
                s.bufs.iter_mut().map(|b| IoSliceMut::new(b)).collect();
            let slots = iovs.len();
            let mut got = 0;
            // recvmmsg on a non-blocking socket fills fewer slots than it
            // has only when the queue ran dry: report that as WouldBlock so
            // tokio clears the readiness now, instead of after one more
            // recvmmsg that would return EAGAIN (a system call per packet
            // at light load). Clearing is tied to the readiness event read
            // before the call, so a datagram that arrives meanwhile raises
            // a new one (epoll is edge-triggered per datagram).
            match sock.io.try_io(Interest::READABLE, || {
                got = sock
                    .state
                    .recv((&sock.io).into(), &mut iovs, &mut s.metas)?;
                if got < slots {
                    Err(io::ErrorKind::WouldBlock.into())
                } else {
                    Ok(got)
                }
            }) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && got > 0 => got,
                Err(e) => return Err(e),
            }
        };
        for (meta, buf) in s.metas.iter().zip(&s.bufs).take(n) {
            let stride = meta.stride.max(1);
            for chunk in buf[..meta.len.min(SLOT)].chunks(stride) {
                batch.push(Datagram {
                    local,
                    source: meta.addr,
                    contents: Bytes::copy_from_slice(chunk),
                });
            }
        }
        Ok(())
    })
}

async fn reader(
    sock: Arc<Sock>,
    local: SocketAddr,
    mode: SocketMode,
    tx: mpsc::Sender<Vec<Datagram>>,
) {
    // Unbatched reads await with their buffer: one per socket.
    let mut buf = if mode == SocketMode::Unbatched {
        vec![0u8; SLOT]
    } else {
        Vec::new()
    };
    loop {
        let mut batch = Vec::new();
        match mode {
            SocketMode::Batched => {
                if sock.io.readable().await.is_err() {
                    return;
                }
                // WouldBlock (readiness was stale) or an error queued on the
                // socket (ICMP): read again when readable.
                if recv_batch(&sock, local, &mut batch).is_err() {
                    continue;
                }
            }
            SocketMode::Unbatched => {
                let buf = &mut buf;
                match sock.io.recv_from(buf).await {
                    Ok((n, source)) => batch.push(Datagram {
                        local,
                        source,
                        contents: Bytes::copy_from_slice(&buf[..n]),
                    }),
                    Err(_) => continue,
                }
                // Take what else is queued, one syscall each.
                while batch.len() < BATCH_SIZE {
                    match sock.io.try_recv_from(buf) {
                        Ok((n, source)) => batch.push(Datagram {
                            local,
                            source,
                            contents: Bytes::copy_from_slice(&buf[..n]),
                        }),
                        Err(_) => break,
                    }
                }
            }
        }
        if !batch.is_empty() && tx.send(batch).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn sdp(port: u16) -> Bytes {
        Bytes::from(format!(
            "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {port} RTP/AVP 0\r\n"
        ))
    }

    fn rtp(seq: u16) -> Vec<u8> {
        let mut b = vec![0x80, 0];
        b.extend_from_slice(&seq.to_be_bytes());
        b.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
        b.extend_from_slice(&[0, 0, 0, 7]);
        b.extend_from_slice(&[seq as u8; 160]);
        b
    }

    async fn relay_1000_each_way(mode: SocketMode, base: u16) {
        let config = RelayConfig::default()
            .port_range(base, base + 19)
            .build()
            .unwrap();
        let handle = RelayDriver::spawn(config, "127.0.0.1".parse().unwrap(), Rng::seeded(1), mode);
        let [a, b] = handle.create_call("c").await.unwrap();
        let ep_a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let ep_b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let pa = ep_a.local_addr().unwrap().port();
        let pb = ep_b.local_addr().unwrap().port();
        let offer = handle
            .offer("c", Side::A, sdp(pa), OfferOptions::default())
            .await
            .unwrap();
        assert!(
            std::str::from_utf8(&offer)
                .unwrap()
                .contains(&format!("m=audio {} ", b.rtp.port()))
        );
        handle.answer("c", sdp(pb)).await.unwrap();
        // 1,000 packets each way, in windows so socket buffers never overflow.
        let mut got = [0usize; 2];
        let mut buf = [0u8; 2048];
        for window in 0..10u16 {
            for i in 0..100u16 {
                let seq = window * 100 + i;
                ep_a.send_to(&rtp(seq), a.rtp).await.unwrap();
                ep_b.send_to(&rtp(seq), b.rtp).await.unwrap();
            }
            for (k, ep) in [&ep_b, &ep_a].into_iter().enumerate() {
                while got[k] < usize::from(window + 1) * 100 {
                    let (n, from) =
                        tokio::time::timeout(Duration::from_secs(10), ep.recv_from(&mut buf))
                            .await
                            .expect("relayed packet")
                            .unwrap();
                    assert_eq!(n, 172);
                    assert_eq!(&buf[..n], &rtp(u16::from_be_bytes([buf[2], buf[3]]))[..]);
                    assert_eq!(from, if k == 0 { b.rtp } else { a.rtp });
                    got[k] += 1;
                }
            }
        }
        assert_eq!(got, [1000, 1000]);
        let [sa, sb] = handle.call_stats("c").await.unwrap().unwrap();
        assert_eq!((sa.packets_in, sb.packets_out), (1000, 1000));
        assert_eq!((sb.packets_in, sa.packets_out), (1000, 1000));
        handle.delete("c").await.unwrap();
        assert!(handle.delete("c").await.is_err());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn relays_1000_packets_each_way_on_loopback_batched() {
        relay_1000_each_way(SocketMode::Batched, 41000).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn relays_1000_packets_each_way_on_loopback_unbatched() {
        relay_1000_each_way(SocketMode::Unbatched, 41100).await;
    }

    #[tokio::test]
    async fn port_exhaustion_is_a_clear_error() {
        let config = RelayConfig::default()
            .port_range(41200, 41205)
            .build()
            .unwrap();
        let handle = RelayDriver::spawn(
            config,
            "127.0.0.1".parse().unwrap(),
            Rng::seeded(1),
            SocketMode::Batched,
        );
        handle.create_call("one").await.unwrap();
        let err = handle.create_call("two").await.unwrap_err();
        assert!(
            matches!(
                err,
                DriverError::PortsExhausted {
                    min: 41200,
                    max: 41205
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("41200-41205"));
        handle.delete("one").await.unwrap();
        handle.create_call("two").await.unwrap();
    }
}
