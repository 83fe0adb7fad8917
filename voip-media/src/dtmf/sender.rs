//! RFC 4733 sender: turns key presses into telephone-event packets.
//!
//! For each key the sender emits, at every update interval, a packet that
//! carries the RTP timestamp of the event's start and the duration so far:
//! the marker bit on the first packet, the same timestamp on all of them,
//! a growing duration, and the final packet (E bit) three times
//! (RFC 4733 §2.5.1.2–§2.5.1.4). Events longer than 0xFFFF timestamp
//! units are split into segments (§2.5.1.3): the next segment's timestamp is
//! the previous one plus 0xFFFF and its durations restart.
//!
//! Sans-IO: the caller anchors the RTP clock (`now` ↔ RTP timestamp of the
//! audio stream), queues keys, drives [`DtmfSender::handle_timeout`] at
//! [`DtmfSender::poll_timeout`] and drains [`DtmfSender::poll_packet`].
//! While [`DtmfSender::is_sending`] is true the audio stream should be
//! muted. Sequence numbers and SSRC belong to the RTP session.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;
use voip_core::ConfigError;

use super::digit::DtmfDigit;
use super::payload::TelephoneEvent;

/// Largest duration one segment can report (RFC 4733 §2.5.1.3).
const SEGMENT_MAX: u64 = 0xFFFF;
/// How many keys may wait.
const MAX_QUEUE: usize = 256;

/// Settings of a [`DtmfSender`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DtmfSenderConfig {
    payload_type: u8,
    clock_rate: u32,
    volume: u8,
    duration: Duration,
    interval: Duration,
    pause: Duration,
    end_repeats: u8,
}

impl Default for DtmfSenderConfig {
    fn default() -> Self {
        DtmfSenderConfig {
            payload_type: 101,
            clock_rate: 8000,
            volume: 10,
            duration: Duration::from_millis(100),
            interval: Duration::from_millis(20),
            pause: Duration::from_millis(100),
            end_repeats: 3,
        }
    }
}

impl DtmfSenderConfig {
    /// The negotiated telephone-event payload type (default 101).
    pub fn payload_type(mut self, pt: u8) -> Self {
        self.payload_type = pt;
        self
    }
    /// The telephone-event clock rate, the audio codec's (default 8000).
    pub fn clock_rate(mut self, rate: u32) -> Self {
        self.clock_rate = rate;
        self
    }
    /// Power level as `-volume` dBm0, 0..=63 (default 10).
    pub fn volume(mut self, volume: u8) -> Self {
        self.volume = volume;
        self
    }
    /// How long each key is held (default 100 ms).
    pub fn duration(mut self, d: Duration) -> Self {
        self.duration = d;
        self
    }
    /// Time between update packets (default 20 ms, one audio packet).
    pub fn interval(mut self, d: Duration) -> Self {
        self.interval = d;
        self
    }
    /// Silence between queued keys (default 100 ms).
    pub fn pause(mut self, d: Duration) -> Self {
        self.pause = d;
        self
    }
    /// How often the final packet is sent (default 3, RFC 4733 §2.5.1.4).
    pub fn end_repeats(mut self, n: u8) -> Self {
        self.end_repeats = n;
        self
    }

    /// Checks the settings.
    pub fn build(self) -> Result<Self, ConfigError> {
        if self.payload_type > 127 {
            return Err(ConfigError::new("payload_type", "must be 0..=127"));
        }
        if self.clock_rate == 0 {
            return Err(ConfigError::new("clock_rate", "must not be zero"));
        }
        if self.volume > 63 {
            return Err(ConfigError::new("volume", "must be 0..=63 (-dBm0)"));
        }
        if self.interval.is_zero() || self.units(self.interval) == 0 {
            return Err(ConfigError::new(
                "interval",
                "must be at least one clock tick",
            ));
        }
        if self.duration < Duration::from_millis(40) {
            return Err(ConfigError::new(
                "duration",
                "must be at least 40 ms (ITU-T Q.24)",
            ));
        }
        if self.end_repeats == 0 {
            return Err(ConfigError::new("end_repeats", "must be at least 1"));
        }
        Ok(self)
    }

    fn units(&self, d: Duration) -> u64 {
        (d.as_nanos() * u128::from(self.clock_rate) / 1_000_000_000) as u64
    }
}

/// One telephone-event payload and the RTP header fields it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DtmfPacket {
    /// The four-byte payload.
    pub payload: Bytes,
    /// RTP payload type.
    pub payload_type: u8,
    /// RTP marker bit (first packet of an event).
    pub marker: bool,
    /// RTP timestamp: the start of the event (or of its segment).
    pub timestamp: u32,
    /// The key.
    pub digit: DtmfDigit,
    /// Whether this is a final (E bit) packet.
    pub end: bool,
}

#[derive(Debug)]
struct Active {
    digit: DtmfDigit,
    start: Instant,
    start_ts: u32,
    total: u64,
    /// Update packets sent so far.
    updates: u64,
    /// Segment of the last packet sent.
    segment: u64,
    /// Whether the marker bit went out already.
    marked: bool,
    /// Final packets still to send; equal to the configured count until
    /// the first one is sent.
    ends_left: u8,
    last_end: Option<DtmfPacket>,
    next_at: Instant,
}

/// Sans-IO RFC 4733 sender.
#[derive(Debug)]
pub struct DtmfSender {
    config: DtmfSenderConfig,
    anchor: (Instant, u32),
    queue: VecDeque<(DtmfDigit, Duration)>,
    active: Option<Active>,
    next_start: Option<Instant>,
    out: VecDeque<DtmfPacket>,
}

/// Why a key was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// Too many keys are waiting.
    #[error("dtmf send queue is full")]
    QueueFull,
    /// The character is not a DTMF key.
    #[error("not a dtmf key: {0:?}")]
    NotAKey(char),
}

impl DtmfSender {
    /// A sender whose RTP clock reads `rtp_timestamp` at `now`.
    pub fn new(config: DtmfSenderConfig, now: Instant, rtp_timestamp: u32) -> Self {
        DtmfSender {
            config,
            anchor: (now, rtp_timestamp),
            queue: VecDeque::new(),
            active: None,
            next_start: None,
            out: VecDeque::new(),
        }
    }

    /// Re-anchors the RTP clock (after the audio stream's timestamp jumped).
    pub fn set_rtp_clock(&mut self, now: Instant, rtp_timestamp: u32) {
        self.anchor = (now, rtp_timestamp);
    }

    /// Queues a key with the configured duration; it starts now or after
    /// the keys before it.
    pub fn send(&mut self, now: Instant, digit: DtmfDigit) -> Result<(), SendError> {
        self.send_for(now, digit, self.config.duration)
    }

    /// Queues every key of `keys` (`0-9*#A-D`); nothing is queued on error.
    pub fn send_str(&mut self, now: Instant, keys: &str) -> Result<(), SendError> {
        let digits = keys
            .chars()
            .map(|c| DtmfDigit::from_char(c).ok_or(SendError::NotAKey(c)))
            .collect::<Result<Vec<_>, _>>()?;
        if self.queue.len() + digits.len() > MAX_QUEUE {
            return Err(SendError::QueueFull);
        }
        for d in digits {
            self.send(now, d)?;
        }
        Ok(())
    }

    /// Queues a key held for `duration` (at least one update interval).
    pub fn send_for(
        &mut self,
        now: Instant,
        digit: DtmfDigit,
        duration: Duration,
    ) -> Result<(), SendError> {
        if self.queue.len() >= MAX_QUEUE {
            return Err(SendError::QueueFull);
        }
        self.queue
            .push_back((digit, duration.max(self.config.interval)));
        if self.active.is_none() && self.next_start.is_none() {
            self.next_start = Some(now);
        }
        Ok(())
    }

    /// Whether an event is in progress (mute the audio meanwhile).
    pub fn is_sending(&self) -> bool {
        self.active.is_some()
    }

    /// The next instant [`DtmfSender::handle_timeout`] has work.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.active {
            Some(a) => Some(a.next_at),
            None if !self.queue.is_empty() => self.next_start,
            None => None,
        }
    }

    /// The next packet to send.
    #[must_use]
    pub fn poll_packet(&mut self) -> Option<DtmfPacket> {
        self.out.pop_front()
    }

    /// Produces every packet due at or before `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        loop {
            if self.active.is_none() {
                match self.next_start {
                    Some(at) if at <= now && !self.queue.is_empty() => self.start_next(at),
                    _ => return,
                }
            }
            let due = self.active.as_ref().is_some_and(|a| a.next_at <= now);
            if !due {
                return;
            }
            self.step();
        }
    }

    fn rtp_at(&self, at: Instant) -> u32 {
        let (t0, ts0) = self.anchor;
        if at >= t0 {
            ts0.wrapping_add(self.config.units(at - t0) as u32)
        } else {
            ts0.wrapping_sub(self.config.units(t0 - at) as u32)
        }
    }

    fn start_next(&mut self, at: Instant) {
        let Some((digit, duration)) = self.queue.pop_front() else {
            return;
        };
        let total = self.config.units(duration).max(1);
        self.active = Some(Active {
            digit,
            start: at,
            start_ts: self.rtp_at(at),
            total,
            updates: 0,
            segment: 0,
            marked: false,
            ends_left: self.config.end_repeats,
            last_end: None,
            next_at: at + self.config.interval,
        });
        self.next_start = None;
    }

    fn step(&mut self) {
        let interval_units = self.config.units(self.config.interval);
        let repeats = self.config.end_repeats;
        let Some(a) = self.active.as_mut() else {
            return;
        };
        if a.ends_left < repeats {
            // A repeat of the final packet, one interval after the last.
            if let Some(mut last) = a.last_end.clone() {
                last.marker = false;
                self.out.push_back(last);
            }
            a.ends_left = a.ends_left.saturating_sub(1);
            a.next_at += self.config.interval;
            if a.ends_left == 0 {
                let held = a.start + duration_of(a.total, self.config.clock_rate);
                let next = (held + self.config.pause).max(a.next_at);
                self.active = None;
                self.next_start = Some(next);
            }
            return;
        }
        let elapsed = (a.updates + 1) * interval_units;
        let end = elapsed >= a.total;
        let reported = elapsed.min(a.total);
        // Segment n covers (n*MAX, (n+1)*MAX]; a duration of exactly MAX
        // still belongs to segment n.
        let segment = reported.saturating_sub(1) / SEGMENT_MAX;
        let mut blocks = Vec::with_capacity(2);
        if segment > a.segment {
            // Close the previous segment at its maximum duration.
            blocks.push((a.segment, SEGMENT_MAX, false));
            a.segment = segment;
        }
        blocks.push((segment, reported - segment * SEGMENT_MAX, end));
        for (seg, dur, is_end) in blocks {
            let ev = TelephoneEvent {
                event: a.digit.event(),
                end: is_end,
                volume: self.config.volume,
                duration: dur.min(SEGMENT_MAX) as u16,
            };
            let packet = DtmfPacket {
                payload: Bytes::copy_from_slice(&ev.to_bytes()),
                payload_type: self.config.payload_type,
                marker: !a.marked,
                timestamp: a.start_ts.wrapping_add((seg * SEGMENT_MAX) as u32),
                digit: a.digit,
                end: is_end,
            };
            a.marked = true;
            if is_end {
                a.last_end = Some(packet.clone());
            }
            self.out.push_back(packet);
        }
        a.updates += 1;
        a.next_at = a.start + self.config.interval * (a.updates as u32 + 1);
        if end {
            a.ends_left = repeats - 1;
            if a.ends_left == 0 {
                let held = a.start + duration_of(a.total, self.config.clock_rate);
                let next = (held + self.config.pause).max(a.next_at);
                self.active = None;
                self.next_start = Some(next);
            }
        }
    }
}

fn duration_of(units: u64, rate: u32) -> Duration {
    Duration::from_nanos((u128::from(units) * 1_000_000_000 / u128::from(rate.max(1))) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(s: &mut DtmfSender) -> Vec<(Instant, DtmfPacket)> {
        let mut got = Vec::new();
        while let Some(at) = s.poll_timeout() {
            s.handle_timeout(at);
            while let Some(p) = s.poll_packet() {
                got.push((at, p));
            }
        }
        got
    }

    fn ev(p: &DtmfPacket) -> TelephoneEvent {
        TelephoneEvent::parse([p.payload[0], p.payload[1], p.payload[2], p.payload[3]])
    }

    #[test]
    fn rfc4733_example_shape_200ms_at_50ms_updates() {
        // A 200 ms digit at 8 kHz with 50 ms updates: durations 400, 800,
        // 1200, then 1600 with the E bit, sent three times; one timestamp;
        // marker on the first packet only.
        let t0 = Instant::now();
        let config = DtmfSenderConfig::default()
            .interval(Duration::from_millis(50))
            .duration(Duration::from_millis(200))
            .volume(20)
            .build()
            .unwrap();
        let mut s = DtmfSender::new(config, t0, 48_000);
        s.send(t0, DtmfDigit::D9).unwrap();
        assert!(s.poll_timeout().is_some());
        let got = drain(&mut s);
        let durations: Vec<u16> = got.iter().map(|(_, p)| ev(p).duration).collect();
        assert_eq!(durations, [400, 800, 1200, 1600, 1600, 1600]);
        let ends: Vec<bool> = got.iter().map(|(_, p)| ev(p).end).collect();
        assert_eq!(ends, [false, false, false, true, true, true]);
        let markers: Vec<bool> = got.iter().map(|(_, p)| p.marker).collect();
        assert_eq!(markers, [true, false, false, false, false, false]);
        assert!(
            got.iter()
                .all(|(_, p)| p.timestamp == 48_000 && p.payload_type == 101)
        );
        assert!(
            got.iter()
                .all(|(_, p)| ev(p).volume == 20 && ev(p).event == 9)
        );
        let times: Vec<u64> = got
            .iter()
            .map(|(at, _)| (*at - t0).as_millis() as u64)
            .collect();
        assert_eq!(times, [50, 100, 150, 200, 250, 300]);
        assert!(!s.is_sending());
    }

    #[test]
    fn queued_keys_get_later_timestamps_and_a_pause() {
        let t0 = Instant::now();
        let mut s = DtmfSender::new(DtmfSenderConfig::default(), t0, 1000);
        s.send_str(t0, "1#").unwrap();
        assert!(s.is_sending() || s.poll_timeout() == Some(t0));
        let got = drain(&mut s);
        let first: Vec<_> = got
            .iter()
            .filter(|(_, p)| p.digit == DtmfDigit::D1)
            .collect();
        let second: Vec<_> = got
            .iter()
            .filter(|(_, p)| p.digit == DtmfDigit::Pound)
            .collect();
        // 100 ms at 20 ms updates: 5 updates (the last is the first end) + 2 repeats.
        assert_eq!(first.len(), 7);
        assert_eq!(second.len(), 7);
        assert_eq!(first[0].1.timestamp, 1000);
        // Next key starts 100 ms held + 100 ms pause later: 1600 units.
        assert_eq!(second[0].1.timestamp, 1000 + 1600);
        assert!(second[0].1.marker);
        assert_eq!(s.send_str(t0, "1x"), Err(SendError::NotAKey('x')));
    }

    #[test]
    fn long_event_is_split_into_segments() {
        // 10 s at 8 kHz = 80000 units > 0xFFFF: segment 0 ends at 65535,
        // segment 1 starts at timestamp + 65535 and reports the rest.
        let t0 = Instant::now();
        let config = DtmfSenderConfig::default()
            .clock_rate(8000)
            .build()
            .unwrap();
        let mut s = DtmfSender::new(config, t0, u32::MAX - 10);
        s.send_for(t0, DtmfDigit::D0, Duration::from_secs(10))
            .unwrap();
        let got = drain(&mut s);
        let seg0: Vec<_> = got
            .iter()
            .filter(|(_, p)| p.timestamp == u32::MAX - 10)
            .collect();
        let seg1: Vec<_> = got
            .iter()
            .filter(|(_, p)| p.timestamp == (u32::MAX - 10).wrapping_add(65535))
            .collect();
        assert_eq!(seg0.len() + seg1.len(), got.len());
        assert_eq!(ev(&seg0.last().unwrap().1).duration, 0xFFFF);
        assert!(!ev(&seg0.last().unwrap().1).end);
        let last = &got.last().unwrap().1;
        assert!(ev(last).end);
        assert_eq!(u32::from(ev(last).duration), 80_000 - 65_535);
        assert_eq!(got.iter().filter(|(_, p)| p.marker).count(), 1);
    }

    #[test]
    fn config_is_checked() {
        assert!(
            DtmfSenderConfig::default()
                .payload_type(200)
                .build()
                .is_err()
        );
        assert!(DtmfSenderConfig::default().volume(64).build().is_err());
        assert!(
            DtmfSenderConfig::default()
                .duration(Duration::from_millis(20))
                .build()
                .is_err()
        );
        assert!(
            DtmfSenderConfig::default()
                .interval(Duration::ZERO)
                .build()
                .is_err()
        );
        assert!(
            DtmfSenderConfig::default()
                .clock_rate(16000)
                .build()
                .is_ok()
        );
    }
}
