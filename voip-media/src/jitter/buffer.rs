//! The adaptive jitter buffer.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::comfort_noise::ComfortNoise;
use super::config::JitterConfig;
use super::estimator::{DelayEstimator, EstimatorSettings};
use super::playout::{Frame, JitterStats, Packet, Playout, PushOutcome, TimeScale};
use super::seq::{SeqHistory, unwrap_near};

/// A sequence number this far from the stream's starts a probation
/// (RFC 3550 A.1 `MAX_DROPOUT`).
const MAX_DROPOUT: i64 = 3000;
/// Pops between two frames of delay added while audio is at hand.
const GROW_SPACING: u32 = 2;
/// Pops between two buffered frames dropped to cut delay.
const SHRINK_SPACING: u32 = 4;

/// One buffered packet.
#[derive(Debug, Clone)]
struct Entry {
    seq: i64,
    frame: Frame,
    /// Set for an RFC 3389 comfort noise packet.
    cn: Option<ComfortNoise>,
}

/// Whether frames are being played or the sender is silent.
///
/// ```text
///            first packet due (delay >= target)
///   Silent ─────────────────────────────────────► Playing
///     ▲  ◄─────────────────────────────────────────  │
///     │   CN packet played, or a gap that is a pause │
///     │   (next packet follows in sequence, carries  │
///     │   the marker bit, or nothing has come for    │
///     │   max_concealment)                           │
///     └── new SSRC / sequence restart (from either) ─┘
/// ```
/// In `Silent`, the next packet is scheduled afresh when its delay reaches
/// the target: that is the resynchronisation at each talkspurt start.
#[derive(Debug, Clone)]
enum Mode {
    Silent { cn: Option<ComfortNoise> },
    Playing,
}

/// An adaptive jitter buffer for one audio stream (sans-IO).
///
/// Push each received packet with [`push`](Self::push); call
/// [`pop`](Self::pop) once per frame time and act on the [`Playout`]. Both
/// take the current time; the buffer reads no clock.
#[derive(Debug)]
pub struct JitterBuffer {
    config: Arc<JitterConfig>,
    frame_samples: i64,
    frame_us: i64,
    epoch: Option<Instant>,
    ssrc: Option<u32>,
    /// Highest extended sequence number seen, and its extended timestamp.
    highest: Option<(i64, i64)>,
    probation: Option<u16>,
    history: SeqHistory,
    entries: BTreeMap<i64, Entry>,
    estimator: DelayEstimator,
    mode: Mode,
    /// Extended RTP timestamp of the next frame to play.
    play_ts: i64,
    /// Extended sequence number of the last packet played.
    last_seq: Option<i64>,
    /// Frames concealed in a row with nothing buffered.
    missing_run: u32,
    /// Pops since the delay was last changed.
    since_adjust: u32,
    current_delay_us: i64,
    stats: JitterStats,
}

impl JitterBuffer {
    /// A buffer for a stream with these settings.
    pub fn new(config: Arc<JitterConfig>) -> Self {
        let us = |d: Duration| i64::try_from(d.as_micros()).unwrap_or(i64::MAX);
        let estimator = DelayEstimator::new(EstimatorSettings {
            history: config.history,
            quantile: config.quantile,
            min_us: us(config.min_delay),
            max_us: us(config.max_delay),
            initial_us: us(config.initial_delay),
            decrease_per_s_us: us(config.decrease_per_second),
        });
        Self {
            frame_samples: i64::from(config.frame_samples()),
            frame_us: us(config.frame_duration),
            config,
            epoch: None,
            ssrc: None,
            highest: None,
            probation: None,
            history: SeqHistory::default(),
            entries: BTreeMap::new(),
            estimator,
            mode: Mode::Silent { cn: None },
            play_ts: 0,
            last_seq: None,
            missing_run: 0,
            since_adjust: 0,
            current_delay_us: 0,
            stats: JitterStats::default(),
        }
    }

    /// The settings.
    pub fn config(&self) -> &JitterConfig {
        &self.config
    }

    /// Takes a received packet at time `now`.
    pub fn push(&mut self, now: Instant, packet: Packet) -> PushOutcome {
        let now_us = self.micros(now);
        let mut outcome = PushOutcome::Buffered;
        if self.ssrc != Some(packet.ssrc) {
            if self.ssrc.is_some() {
                self.reset_stream();
                outcome = PushOutcome::Reset;
            }
            self.ssrc = Some(packet.ssrc);
        }
        let (seq, ts) = match self.highest {
            None => (i64::from(packet.sequence), i64::from(packet.timestamp)),
            Some((high_seq, high_ts)) => {
                let seq = unwrap_near(high_seq, u64::from(packet.sequence), 16);
                if (seq - high_seq).abs() <= MAX_DROPOUT {
                    (seq, unwrap_near(high_ts, u64::from(packet.timestamp), 32))
                } else if self.probation == Some(packet.sequence.wrapping_sub(1)) {
                    // Two packets in sequence far from the old stream: the
                    // sender restarted its numbering.
                    self.reset_stream();
                    outcome = PushOutcome::Reset;
                    (i64::from(packet.sequence), i64::from(packet.timestamp))
                } else {
                    self.probation = Some(packet.sequence);
                    self.stats.out_of_range += 1;
                    return PushOutcome::OutOfRange;
                }
            }
        };
        self.probation = None;
        if self.highest.is_none_or(|(high, _)| seq > high) {
            self.highest = Some((seq, ts));
        }
        if !self.history.insert(seq) || self.entries.get(&ts).is_some_and(|e| e.seq != seq) {
            self.stats.duplicates += 1;
            return PushOutcome::Duplicate;
        }
        // Late packets still tell how late the network is.
        self.estimator.record(now_us - self.ts_us(ts));
        let passed = self.last_seq.is_some_and(|last| seq <= last)
            || (matches!(self.mode, Mode::Playing) && ts < self.play_ts);
        if passed {
            self.stats.late += 1;
            return PushOutcome::Late;
        }
        let cn = if self.config.cn_payload_type == Some(packet.payload_type) {
            // An empty CN payload is a SID without a level: take the quietest.
            Some(ComfortNoise::parse(&packet.payload).unwrap_or_else(|_| ComfortNoise::new(127)))
        } else {
            None
        };
        let frame = Frame {
            sequence: packet.sequence,
            timestamp: packet.timestamp,
            payload_type: packet.payload_type,
            marker: packet.marker,
            payload: packet.payload,
        };
        self.entries.insert(ts, Entry { seq, frame, cn });
        self.stats.received += 1;
        if self.entries.len() > self.config.max_packets {
            if let Some((old_ts, _)) = self.entries.pop_first() {
                self.stats.overflow += 1;
                if matches!(self.mode, Mode::Playing) && old_ts >= self.play_ts {
                    self.play_ts = old_ts + self.frame_samples;
                }
            }
            if outcome == PushOutcome::Buffered {
                outcome = PushOutcome::Overflow;
            }
        }
        outcome
    }

    /// What to play for the frame that starts at `now`. Call it once per
    /// frame duration.
    pub fn pop(&mut self, now: Instant) -> Playout {
        let now_us = self.micros(now);
        self.estimator.decay(now_us);
        let out = match self.mode {
            Mode::Silent { .. } => self.pop_silent(now_us),
            Mode::Playing => self.pop_playing(now_us),
        };
        let s = &mut self.stats;
        match &out {
            Playout::Frame(_) => s.played += 1,
            Playout::Lost { next } => {
                s.concealed += 1;
                s.concealed_with_next += u64::from(next.is_some());
            }
            Playout::Expand => s.expanded += 1,
            Playout::Silence => s.silence += 1,
            Playout::ComfortNoise(_) => s.comfort_noise += 1,
        }
        out
    }

    /// Which way a time-stretching playout should go for the last popped
    /// frame. A caller that can stretch audio (WSOLA and the like) shortens
    /// frames on [`TimeScale::Accelerate`] and pops again sooner; the
    /// buffer then seldom needs to drop or add whole frames.
    pub fn time_scale(&self) -> TimeScale {
        if !matches!(self.mode, Mode::Playing) {
            return TimeScale::Normal;
        }
        let target = self.target_us();
        if self.current_delay_us < target {
            TimeScale::Decelerate
        } else if self.current_delay_us - target >= self.frame_us / 2 {
            TimeScale::Accelerate
        } else {
            TimeScale::Normal
        }
    }

    /// Counters and delays.
    pub fn stats(&self) -> JitterStats {
        let dur = |us: i64| Duration::from_micros(u64::try_from(us).unwrap_or(0));
        JitterStats {
            current_delay: dur(self.current_delay_us),
            target_delay: dur(self.target_us()),
            jitter: dur(self.estimator.jitter_us()),
            buffered: self.entries.len(),
            ..self.stats.clone()
        }
    }

    /// Forgets the stream (buffered packets, delay statistics, sequence
    /// state); counters are kept. The next packet starts afresh.
    pub fn reset(&mut self) {
        self.reset_stream();
        self.ssrc = None;
    }

    fn reset_stream(&mut self) {
        self.stats.resets += 1;
        self.highest = None;
        self.probation = None;
        self.history.clear();
        self.entries.clear();
        self.estimator.reset();
        self.mode = Mode::Silent { cn: None };
        self.last_seq = None;
        self.missing_run = 0;
        self.since_adjust = 0;
        self.current_delay_us = 0;
    }

    fn pop_silent(&mut self, now_us: i64) -> Playout {
        if let Some(&ts) = self.entries.keys().next() {
            if self.delay_us(now_us, ts) >= self.target_us() {
                // Resynchronise: the first packet after the pause is due.
                self.mode = Mode::Playing;
                self.play_ts = ts;
                self.missing_run = 0;
                self.since_adjust = 0;
                return self.pop_playing(now_us);
            }
        }
        self.play_ts += self.frame_samples;
        match &self.mode {
            Mode::Silent { cn: Some(cn) } => Playout::ComfortNoise(cn.clone()),
            _ => Playout::Silence,
        }
    }

    fn pop_playing(&mut self, now_us: i64) -> Playout {
        let f = self.frame_samples;
        let target = self.target_us();
        let max_us = i64::try_from(self.config.max_delay.as_micros()).unwrap_or(i64::MAX);
        let mut delay = self.delay_us(now_us, self.play_ts);
        self.since_adjust = self.since_adjust.saturating_add(1);
        let present = self.entries.contains_key(&self.play_ts);

        if delay < target && (!present || self.since_adjust >= GROW_SPACING) {
            self.current_delay_us = delay;
            self.since_adjust = 0;
            return Playout::Expand;
        }
        // How far the delay would stay above target with one frame less.
        let excess = delay - self.frame_us - target;
        let is_cn = self
            .entries
            .get(&self.play_ts)
            .is_some_and(|e| e.cn.is_some());
        let skip = if !present {
            // Skipping a missing frame costs nothing audible beyond the
            // concealment it replaces.
            excess >= self.frame_us / 4
        } else {
            // Dropping audio is audible: only two frames over target (the
            // pauses between talkspurts resynchronise more finely), or
            // past the maximum delay.
            !is_cn
                && ((excess >= self.frame_us && self.since_adjust >= SHRINK_SPACING)
                    || delay - self.frame_us >= max_us)
        };
        if skip {
            if let Some(entry) = self.entries.remove(&self.play_ts) {
                self.note_played(entry.seq);
            }
            self.play_ts += f;
            self.since_adjust = 0;
            self.stats.accelerated += 1;
            delay -= self.frame_us;
        }
        self.current_delay_us = delay;

        if let Some(entry) = self.entries.remove(&self.play_ts) {
            self.play_ts += f;
            self.missing_run = 0;
            self.note_played(entry.seq);
            return match entry.cn {
                Some(cn) => {
                    self.mode = Mode::Silent {
                        cn: Some(cn.clone()),
                    };
                    Playout::ComfortNoise(cn)
                }
                None => Playout::Frame(entry.frame),
            };
        }
        // Nothing for this frame: a loss, or has the sender paused?
        let pause = match self.entries.values().next() {
            Some(next) => {
                next.cn.is_some()
                    || next.frame.marker
                    || self.last_seq.is_some_and(|last| next.seq == last + 1)
            }
            None => {
                let concealed_us = i64::from(self.missing_run) * self.frame_us;
                concealed_us >= i64::try_from(self.config.max_concealment.as_micros()).unwrap_or(0)
            }
        };
        if pause {
            self.mode = Mode::Silent { cn: None };
            self.missing_run = 0;
            return self.pop_silent(now_us);
        }
        self.missing_run += 1;
        let next = self
            .entries
            .get(&(self.play_ts + f))
            .filter(|e| e.cn.is_none())
            .map(|e| e.frame.clone());
        self.play_ts += f;
        Playout::Lost { next }
    }

    /// The target delay: the estimator's, plus a frame for FEC lookahead.
    fn target_us(&self) -> i64 {
        let target = self.estimator.target_us();
        if self.config.fec_lookahead {
            let max = i64::try_from(self.config.max_delay.as_micros()).unwrap_or(i64::MAX);
            (target + self.frame_us).min(max.max(target))
        } else {
            target
        }
    }

    /// Counts the sequence numbers skipped before `seq` that never came.
    fn note_played(&mut self, seq: i64) {
        if let Some(last) = self.last_seq {
            self.stats.lost += self.history.missing_between(last, seq);
        }
        self.last_seq = Some(self.last_seq.map_or(seq, |last| last.max(seq)));
    }

    /// How much later than the fastest recent packet the frame at `ts`
    /// plays if played at `now_us`.
    fn delay_us(&self, now_us: i64, ts: i64) -> i64 {
        let fastest = self
            .estimator
            .min_transit()
            .unwrap_or(now_us - self.ts_us(ts));
        now_us - self.ts_us(ts) - fastest
    }

    /// Media time of an extended RTP timestamp, in microseconds.
    fn ts_us(&self, ts: i64) -> i64 {
        (i128::from(ts) * 1_000_000 / i128::from(self.config.clock_rate)) as i64
    }

    /// Microseconds since the first call.
    fn micros(&mut self, now: Instant) -> i64 {
        let epoch = *self.epoch.get_or_insert(now);
        match now.checked_duration_since(epoch) {
            Some(d) => i64::try_from(d.as_micros()).unwrap_or(i64::MAX),
            None => -i64::try_from(epoch.duration_since(now).as_micros()).unwrap_or(i64::MAX),
        }
    }
}
