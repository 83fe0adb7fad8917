//! RFC 4733 receiver: turns telephone-event packets into key presses.
//!
//! One event is identified by its RTP timestamp (RFC 4733 §2.5.2): every
//! update and the (repeated) final packets carry the same timestamp, so
//!
//! - a packet with a new timestamp starts a new event even when the marker
//!   bit was lost with the first packet (§2.5.2.1);
//! - updates and final packets for an event already reported are absorbed,
//!   as are the redundant final packets after it ended and late packets of
//!   older events;
//! - a newer event, or silence longer than the end timeout, ends an event
//!   whose final packets were all lost;
//! - long events: a packet with timestamp `previous + 0xFFFF` after a
//!   report of duration 0xFFFF continues the same key press in a new
//!   segment (§2.5.1.3), and a 16-bit duration that wraps (senders that
//!   ignore segments) is unwrapped.
//!
//! Sans-IO: [`Rfc4733Receiver::handle_packet`] with the RTP timestamp and
//! payload of each packet of the negotiated telephone-event payload type,
//! [`Rfc4733Receiver::handle_timeout`] at [`Rfc4733Receiver::poll_timeout`],
//! events from [`Rfc4733Receiver::poll_event`].

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::dedupe::DtmfReport;
use super::digit::{DtmfDigit, DtmfSource};
use super::payload::{PayloadError, TelephoneEvent};

const SEGMENT_MAX: u32 = 0xFFFF;
/// Remembered finished events, for dropping their late packets.
const RECENT: usize = 16;
/// Queued events before the oldest are dropped (a caller that never polls).
const MAX_EVENTS: usize = 256;

/// What the receiver reports.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rfc4733Event {
    /// A key went down (reported once per key press).
    Pressed(DtmfReport),
    /// The key went up, or its end was inferred.
    Released {
        /// The key.
        digit: DtmfDigit,
        /// How long it was held, from the reported durations.
        duration: Duration,
        /// Whether a final (E bit) packet was seen; `false` when the end
        /// was inferred from a newer event or the end timeout.
        confirmed: bool,
    },
}

#[derive(Debug)]
struct Current {
    event: u8,
    /// Timestamp of the event's first segment.
    first_ts: u32,
    /// Timestamp of the current segment.
    segment_ts: u32,
    /// Units in the segments before the current one, plus unwrapped 16-bit
    /// overflows in this one.
    carried: u64,
    last_duration: u16,
    last_seen: Instant,
}

/// Sans-IO RFC 4733 receiver.
#[derive(Debug)]
pub struct Rfc4733Receiver {
    clock_rate: u32,
    end_timeout: Duration,
    current: Option<Current>,
    recent: VecDeque<(u8, u32)>,
    events: VecDeque<Rfc4733Event>,
    malformed: u64,
}

impl Rfc4733Receiver {
    /// A receiver for telephone-events at `clock_rate` (the rate from the
    /// negotiated `telephone-event/<rate>`), ending silent events after
    /// 500 ms.
    pub fn new(clock_rate: u32) -> Self {
        Rfc4733Receiver {
            clock_rate: clock_rate.max(1),
            end_timeout: Duration::from_millis(500),
            current: None,
            recent: VecDeque::with_capacity(RECENT),
            events: VecDeque::new(),
            malformed: 0,
        }
    }

    /// Changes how long an event may go without packets before it is ended.
    pub fn set_end_timeout(&mut self, timeout: Duration) {
        self.end_timeout = timeout;
    }

    /// Payloads refused so far (wrong length).
    pub fn malformed(&self) -> u64 {
        self.malformed
    }

    /// Takes one telephone-event packet. Malformed payloads are counted
    /// and dropped.
    pub fn handle_packet(
        &mut self,
        now: Instant,
        timestamp: u32,
        payload: &[u8],
    ) -> Result<(), PayloadError> {
        let blocks = match TelephoneEvent::parse_all(payload) {
            Ok(b) => b,
            Err(e) => {
                self.malformed += 1;
                return Err(e);
            }
        };
        // Several events in one packet (§2.5.1.5): each starts where the
        // one before it ended.
        let mut ts = timestamp;
        for block in blocks {
            self.handle_block(now, ts, block);
            ts = ts.wrapping_add(u32::from(block.duration));
        }
        Ok(())
    }

    /// Ends an event whose packets stopped arriving.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(cur) = &self.current {
            if now >= cur.last_seen + self.end_timeout {
                self.finish(false);
            }
        }
    }

    /// When [`Rfc4733Receiver::handle_timeout`] should run next.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.current
            .as_ref()
            .map(|c| c.last_seen + self.end_timeout)
    }

    /// The next event.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Rfc4733Event> {
        self.events.pop_front()
    }

    fn handle_block(&mut self, now: Instant, ts: u32, block: TelephoneEvent) {
        if self.recent.contains(&(block.event, ts)) {
            return; // a redundant final packet or a late update
        }
        if let Some(cur) = self.current.as_mut() {
            if block.event == cur.event && ts == cur.segment_ts {
                cur.last_seen = now;
                if block.duration < cur.last_duration {
                    if cur.last_duration >= 0xC000 && block.duration < 0x4000 {
                        // 16-bit wrap from a sender that does not segment.
                        cur.carried += 0x1_0000;
                        cur.last_duration = block.duration;
                    }
                    // Otherwise a reordered older update: keep the maximum.
                } else {
                    cur.last_duration = block.duration;
                }
                if block.end {
                    self.finish(true);
                }
                return;
            }
            let next_segment = cur.segment_ts.wrapping_add(SEGMENT_MAX);
            if block.event == cur.event
                && ts == next_segment
                && cur.last_duration == SEGMENT_MAX as u16
            {
                cur.carried += u64::from(SEGMENT_MAX);
                cur.segment_ts = ts;
                cur.last_duration = block.duration;
                cur.last_seen = now;
                if block.end {
                    self.finish(true);
                }
                return;
            }
            if serial_lt(ts, cur.first_ts) {
                return; // late packet of an older event
            }
            // A newer event: the current one lost its final packets.
            self.finish(false);
        } else if let Some(&(_, last_ts)) = self.recent.back() {
            if serial_lt(ts, last_ts) {
                return; // older than the last finished event
            }
        }
        self.current = Some(Current {
            event: block.event,
            first_ts: ts,
            segment_ts: ts,
            carried: 0,
            last_duration: block.duration,
            last_seen: now,
        });
        if let Some(digit) = DtmfDigit::from_event(block.event) {
            self.push(Rfc4733Event::Pressed(DtmfReport {
                digit,
                source: DtmfSource::Rfc4733,
                at: now,
            }));
        }
        if block.end {
            self.finish(true);
        }
    }

    fn finish(&mut self, confirmed: bool) {
        let Some(cur) = self.current.take() else {
            return;
        };
        if self.recent.len() == RECENT {
            self.recent.pop_front();
        }
        self.recent.push_back((cur.event, cur.segment_ts));
        if cur.segment_ts != cur.first_ts && self.recent.len() < RECENT {
            self.recent.push_back((cur.event, cur.first_ts));
        }
        if let Some(digit) = DtmfDigit::from_event(cur.event) {
            let units = cur.carried + u64::from(cur.last_duration);
            let duration = Duration::from_nanos(
                (u128::from(units) * 1_000_000_000 / u128::from(self.clock_rate)) as u64,
            );
            self.push(Rfc4733Event::Released {
                digit,
                duration,
                confirmed,
            });
        }
    }

    fn push(&mut self, event: Rfc4733Event) {
        if self.events.len() == MAX_EVENTS {
            self.events.pop_front();
        }
        self.events.push_back(event);
    }
}

/// RFC 1982 serial-number comparison on 32-bit timestamps.
fn serial_lt(a: u32, b: u32) -> bool {
    a != b && b.wrapping_sub(a) < 0x8000_0000
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dtmf::sender::{DtmfSender, DtmfSenderConfig};

    fn block(event: u8, end: bool, duration: u16) -> [u8; 4] {
        TelephoneEvent {
            event,
            end,
            volume: 10,
            duration,
        }
        .to_bytes()
    }

    fn events(r: &mut Rfc4733Receiver) -> Vec<Rfc4733Event> {
        std::iter::from_fn(|| r.poll_event()).collect()
    }

    fn pressed(ev: &[Rfc4733Event]) -> String {
        ev.iter()
            .filter_map(|e| match e {
                Rfc4733Event::Pressed(r) => Some(r.digit.as_char()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn one_event_with_three_end_packets_is_one_digit() {
        let t = Instant::now();
        let mut r = Rfc4733Receiver::new(8000);
        for d in [400, 800, 1200] {
            r.handle_packet(t, 48_000, &block(9, false, d)).unwrap();
        }
        for _ in 0..3 {
            r.handle_packet(t, 48_000, &block(9, true, 1600)).unwrap();
        }
        let ev = events(&mut r);
        assert_eq!(pressed(&ev), "9");
        assert_eq!(
            ev[1],
            Rfc4733Event::Released {
                digit: DtmfDigit::D9,
                duration: Duration::from_millis(200),
                confirmed: true
            }
        );
        assert_eq!(ev.len(), 2);
        assert_eq!(r.poll_timeout(), None);
    }

    #[test]
    fn sender_output_round_trips() {
        let t0 = Instant::now();
        let mut s = DtmfSender::new(DtmfSenderConfig::default(), t0, 7);
        s.send_str(t0, "123*#ABCD0").unwrap();
        let mut r = Rfc4733Receiver::new(8000);
        while let Some(at) = s.poll_timeout() {
            s.handle_timeout(at);
            while let Some(p) = s.poll_packet() {
                r.handle_packet(at, p.timestamp, &p.payload).unwrap();
            }
        }
        let ev = events(&mut r);
        assert_eq!(pressed(&ev), "123*#ABCD0");
        assert!(ev.iter().all(|e| match e {
            Rfc4733Event::Released {
                duration,
                confirmed,
                ..
            } => *confirmed && *duration == Duration::from_millis(100),
            _ => true,
        }));
    }

    #[test]
    fn lost_start_and_lost_end_packets() {
        let t = Instant::now();
        let mut r = Rfc4733Receiver::new(8000);
        // The marker packet (duration 160) is lost; the update still starts the event.
        r.handle_packet(t, 1000, &block(5, false, 320)).unwrap();
        // All end packets of "5" lost: the next event ends it.
        r.handle_packet(t, 3000, &block(6, false, 160)).unwrap();
        // Then the end of "6" is lost too, and the timeout ends it.
        assert_eq!(r.poll_timeout(), Some(t + Duration::from_millis(500)));
        r.handle_timeout(t + Duration::from_millis(499));
        assert_eq!(events(&mut r).len(), 3);
        r.handle_timeout(t + Duration::from_millis(500));
        let ev = events(&mut r);
        assert_eq!(
            ev,
            [Rfc4733Event::Released {
                digit: DtmfDigit::D6,
                duration: Duration::from_millis(20),
                confirmed: false
            }]
        );
        // A late update of the first event changes nothing.
        r.handle_packet(t, 1000, &block(5, true, 800)).unwrap();
        r.handle_packet(t, 3000, &block(6, true, 800)).unwrap();
        assert!(events(&mut r).is_empty());
    }

    #[test]
    fn same_key_twice_is_told_apart_by_timestamp() {
        let t = Instant::now();
        let mut r = Rfc4733Receiver::new(8000);
        for ts in [100u32, 2100] {
            r.handle_packet(t, ts, &block(1, false, 160)).unwrap();
            r.handle_packet(t, ts, &block(1, true, 800)).unwrap();
            r.handle_packet(t, ts, &block(1, true, 800)).unwrap();
        }
        // A redundant end of the first press, arriving very late.
        r.handle_packet(t, 100, &block(1, true, 800)).unwrap();
        assert_eq!(pressed(&events(&mut r)), "11");
    }

    #[test]
    fn long_event_segments_and_duration_wrap() {
        let t = Instant::now();
        let mut r = Rfc4733Receiver::new(8000);
        r.handle_packet(t, 10, &block(0, false, 60_000)).unwrap();
        r.handle_packet(t, 10, &block(0, false, 0xFFFF)).unwrap();
        // Next segment: timestamp + 0xFFFF, durations restart.
        r.handle_packet(t, 10 + 0xFFFF, &block(0, false, 1000))
            .unwrap();
        r.handle_packet(t, 10 + 0xFFFF, &block(0, true, 14_465))
            .unwrap();
        let ev = events(&mut r);
        assert_eq!(pressed(&ev), "0");
        assert_eq!(
            ev[1],
            Rfc4733Event::Released {
                digit: DtmfDigit::D0,
                duration: Duration::from_secs(10),
                confirmed: true
            }
        );
        // A sender that lets the 16-bit duration wrap.
        r.handle_packet(t, 500_000, &block(3, false, 65_000))
            .unwrap();
        r.handle_packet(t, 500_000, &block(3, true, 14_464))
            .unwrap();
        let ev = events(&mut r);
        assert_eq!(pressed(&ev), "3");
        assert_eq!(
            ev[1],
            Rfc4733Event::Released {
                digit: DtmfDigit::D3,
                duration: Duration::from_secs(10),
                confirmed: true
            }
        );
    }

    #[test]
    fn packed_events_and_garbage() {
        let t = Instant::now();
        let mut r = Rfc4733Receiver::new(8000);
        // §2.5.1.5: a finished "1" then the running "2", starting 800 later.
        let mut p = block(1, true, 800).to_vec();
        p.extend_from_slice(&block(2, false, 160));
        r.handle_packet(t, 0, &p).unwrap();
        r.handle_packet(t, 800, &block(2, true, 800)).unwrap();
        assert_eq!(pressed(&events(&mut r)), "12");
        assert!(r.handle_packet(t, 0, &[1, 2, 3]).is_err());
        assert_eq!(r.malformed(), 1);
        // Flash (16) and tones are events but not keys.
        r.handle_packet(t, 9000, &block(16, true, 800)).unwrap();
        assert!(events(&mut r).is_empty());
    }
}
