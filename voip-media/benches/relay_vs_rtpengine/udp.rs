//! The generator's socket I/O through `quinn-udp` (no `unsafe` here: the
//! workspace forbids it): one `sendmsg` per RTP packet, without GSO, so
//! each relay receives one datagram per phone packet as in production;
//! `recvmmsg` (with GRO where the relay sent GSO bursts) to count what
//! comes out.

use std::io::{self, IoSliceMut};
use std::net::{SocketAddr, UdpSocket};

use quinn_udp::{RecvMeta, Transmit, UdpSocketState};

/// Datagram slots per `recvmmsg`.
pub const BATCH: usize = quinn_udp::BATCH_SIZE;
const SLOT: usize = 16 * 1024;

/// A non-blocking socket on 127.0.0.1 with quinn-udp's state.
pub struct Socket {
    /// The socket.
    pub io: UdpSocket,
    state: UdpSocketState,
}

impl Socket {
    /// Binds an ephemeral port on 127.0.0.1.
    pub fn bind() -> io::Result<Self> {
        let io = UdpSocket::bind("127.0.0.1:0")?;
        io.set_nonblocking(true)?;
        let state = UdpSocketState::new((&io).into())?;
        let _ = state.set_recv_buffer_size((&io).into(), 4 << 20);
        let _ = state.set_send_buffer_size((&io).into(), 4 << 20);
        Ok(Self { io, state })
    }

    /// Sends one datagram; false if the socket buffer is full.
    pub fn send(&self, to: SocketAddr, contents: &[u8]) -> bool {
        let t = Transmit {
            destination: to,
            ecn: None,
            contents,
            segment_size: None,
            src_ip: None,
        };
        self.state.try_send((&self.io).into(), &t).is_ok()
    }

    /// Receives what is queued (up to [`BATCH`] system buffers) without
    /// blocking; returns the number of datagrams (GRO segments counted one
    /// by one).
    pub fn recv(&self, bufs: &mut RecvBufs) -> usize {
        let mut iovs: Vec<IoSliceMut<'_>> =
            bufs.bufs.iter_mut().map(|b| IoSliceMut::new(b)).collect();
        match self
            .state
            .recv((&self.io).into(), &mut iovs, &mut bufs.metas)
        {
            Ok(n) => bufs.metas[..n]
                .iter()
                .map(|m| m.len.div_ceil(m.stride.max(1)))
                .sum(),
            Err(_) => 0,
        }
    }
}

/// Receive buffers for [`Socket::recv`].
pub struct RecvBufs {
    bufs: Vec<Vec<u8>>,
    metas: Vec<RecvMeta>,
}

impl RecvBufs {
    /// [`BATCH`] buffers of 16 KiB (room for a GRO burst).
    pub fn new() -> Self {
        Self {
            bufs: vec![vec![0u8; SLOT]; BATCH],
            metas: vec![RecvMeta::default(); BATCH],
        }
    }
}
