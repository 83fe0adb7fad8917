//! What goes into the jitter buffer (packets) and what comes out
//! (a [`Playout`] decision per frame), and its statistics.

use std::time::Duration;

use bytes::Bytes;

use super::comfort_noise::ComfortNoise;

/// One received RTP packet, as the jitter buffer needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    /// Synchronisation source; a new one resets the buffer.
    pub ssrc: u32,
    /// RTP sequence number.
    pub sequence: u16,
    /// RTP timestamp.
    pub timestamp: u32,
    /// RTP payload type (the CN type is told apart from audio).
    pub payload_type: u8,
    /// RTP marker bit: for audio, the first packet of a talkspurt.
    pub marker: bool,
    /// The codec payload.
    pub payload: Bytes,
}

impl From<rtp::packet::Packet> for Packet {
    fn from(p: rtp::packet::Packet) -> Self {
        Self {
            ssrc: p.header.ssrc,
            sequence: p.header.sequence_number,
            timestamp: p.header.timestamp,
            payload_type: p.header.payload_type,
            marker: p.header.marker,
            payload: p.payload,
        }
    }
}

/// A packet handed out for decoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// RTP sequence number.
    pub sequence: u16,
    /// RTP timestamp.
    pub timestamp: u32,
    /// RTP payload type.
    pub payload_type: u8,
    /// RTP marker bit.
    pub marker: bool,
    /// The codec payload.
    pub payload: Bytes,
}

/// What to play for the next frame, from [`JitterBuffer::pop`].
///
/// [`JitterBuffer::pop`]: super::JitterBuffer::pop
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Playout {
    /// Decode this packet.
    Frame(Frame),
    /// The packet for this frame never came in time: conceal it. When
    /// `next` is set it is the packet for the *following* frame (still
    /// buffered, it is played at the next pop): a codec with in-band FEC
    /// (Opus LBRR) decodes the lost frame from it, otherwise use the
    /// decoder's packet-loss concealment.
    Lost {
        /// The packet right after the lost one, if already here.
        next: Option<Frame>,
    },
    /// The buffer is adding one frame of delay (the jitter grew): play one
    /// frame of concealment (PLC) or time-stretch; nothing was lost and the
    /// next pop continues where this one stopped.
    Expand,
    /// The sender is silent (DTX without comfort noise, or nothing received
    /// yet): play silence, or comfort noise of your own.
    Silence,
    /// The sender is silent and described its background noise (RFC 3389):
    /// feed these parameters to a [`ComfortNoiseGenerator`].
    ///
    /// [`ComfortNoiseGenerator`]: super::ComfortNoiseGenerator
    ComfortNoise(ComfortNoise),
}

/// What [`JitterBuffer::push`] did with a packet.
///
/// [`JitterBuffer::push`]: super::JitterBuffer::push
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PushOutcome {
    /// Buffered for playout.
    Buffered,
    /// Buffered after a reset (a new SSRC, or a sequence restart).
    Reset,
    /// Buffered, and the oldest packet was pushed out (the buffer was full).
    Overflow,
    /// Dropped: its playout time had passed.
    Late,
    /// Dropped: it had arrived before.
    Duplicate,
    /// Dropped: its sequence number jumped far from the stream's; a second
    /// packet following it restarts the stream (RFC 3550 A.1 probation).
    OutOfRange,
}

/// Which way a time-stretching playout should go (see
/// [`JitterBuffer::time_scale`]).
///
/// [`JitterBuffer::time_scale`]: super::JitterBuffer::time_scale
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeScale {
    /// Delay is on target: play frames at their length.
    Normal,
    /// Delay is above target by half a frame or more: shorten frames.
    Accelerate,
    /// Delay is below target: lengthen frames.
    Decelerate,
}

/// Counters and delays of a [`JitterBuffer`].
///
/// [`JitterBuffer`]: super::JitterBuffer
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct JitterStats {
    /// Packets accepted into the buffer.
    pub received: u64,
    /// Frames handed out for decoding ([`Playout::Frame`]).
    pub played: u64,
    /// Packets dropped because their playout time had passed.
    pub late: u64,
    /// Sequence numbers skipped at playout that had not arrived by then (a
    /// packet that comes later still is also counted as late).
    pub lost: u64,
    /// Packets dropped because they had arrived before.
    pub duplicates: u64,
    /// Frames concealed for a missing packet ([`Playout::Lost`]).
    pub concealed: u64,
    /// Of those, how many had the next packet at hand (FEC possible).
    pub concealed_with_next: u64,
    /// Frames of delay added ([`Playout::Expand`]).
    pub expanded: u64,
    /// Frames skipped to cut delay (buffered ones dropped, or missing ones
    /// not concealed).
    pub accelerated: u64,
    /// Packets pushed out of a full buffer.
    pub overflow: u64,
    /// Packets dropped for a sequence number out of range.
    pub out_of_range: u64,
    /// Frames of comfort noise ([`Playout::ComfortNoise`]).
    pub comfort_noise: u64,
    /// Frames of silence ([`Playout::Silence`]).
    pub silence: u64,
    /// Resets for a new SSRC or a sequence restart.
    pub resets: u64,
    /// Delay the buffer adds now, over the fastest recent packet.
    pub current_delay: Duration,
    /// Delay the buffer aims for.
    pub target_delay: Duration,
    /// RFC 3550 interarrival jitter.
    pub jitter: Duration,
    /// Packets held now.
    pub buffered: usize,
}
