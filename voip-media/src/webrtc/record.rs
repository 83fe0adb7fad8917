//! Recording a bridged call with the relay's recording tap: both
//! directions through a [`WebRtcBridge`](super::WebRtcBridge) are decoded
//! and handed out as [`RecordingEvent`]s, the same events a relayed call
//! yields, for a [`RecordingWriter`](crate::relay::RecordingWriter) to put
//! into a WAV file.
//!
//! ```text
//! browser: WebRtcEvent::Audio { rtp_time, contiguous, payload } ─► TapPacket (sequence numbered here) ─┐
//! plain:   RTP the plain side sent (audio, telephone-event)      ─► TapPacket                          ─┴► RecordTap ─► RecordingEvent
//! ```
//!
//! str0m hands the browser's payloads out in order, without their RTP
//! sequence numbers; they are numbered here, a gap (`contiguous == false`)
//! skipping as many numbers as the RTP time says frames were lost, so the
//! tap conceals short losses as it does for a relayed leg. The tap places
//! every frame on the recording's timeline by arrival and RTP time (see
//! `relay::record`), so the two directions line up as they were heard.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;

use super::config::WebRtcAudioCodec;
use super::leg::AudioPayload;
use crate::relay::{RecordTap, RecordingQueue, Side, TapPacket};
use crate::sdp::SdpCodec;

/// Lost frames of the browser's stream a gap may stand for (more: the
/// stream was paused, nothing to conceal).
const MAX_GAP_FRAMES: u64 = 50;
/// The SSRC the browser's stream is filed under in the tap (str0m does
/// not hand it out; one stream per leg).
const BROWSER_SSRC: u32 = 0x6272_7772;

/// A bridge's recording tap: which side the browser is and the browser
/// stream's numbering.
#[derive(Debug)]
pub(crate) struct BridgeRecorder {
    call: Arc<str>,
    tap: RecordTap,
    browser: Side,
    /// The number given to the browser's last payload.
    sequence: u16,
    /// The browser's last RTP time and the step to it from the one before.
    last: Option<(u64, u64)>,
}

impl BridgeRecorder {
    /// Starts recording `call` at `rate`; sample 0 is `now`.
    pub(crate) fn new(
        call: Arc<str>,
        rate: u32,
        browser: Side,
        now: Instant,
        out: &mut RecordingQueue,
    ) -> Self {
        let tap = RecordTap::new(&call, rate, now, out);
        Self {
            call,
            tap,
            browser,
            sequence: 0,
            last: None,
        }
    }

    /// An audio payload from the browser.
    pub(crate) fn browser_audio(
        &mut self,
        now: Instant,
        audio: &AudioPayload,
        out: &mut RecordingQueue,
    ) {
        let lost = match self.last {
            Some((last, step)) if !audio.contiguous && step > 0 && audio.rtp_time > last => {
                let frames = (audio.rtp_time - last) / step;
                if frames <= MAX_GAP_FRAMES {
                    frames.saturating_sub(1)
                } else {
                    0
                }
            }
            _ => 0,
        };
        if let Some((last, _)) = self.last
            && audio.rtp_time > last
        {
            let step = (audio.rtp_time - last) / (lost + 1);
            self.last = Some((audio.rtp_time, step));
        } else {
            self.last = Some((audio.rtp_time, self.last.map_or(0, |l| l.1)));
        }
        self.sequence = self.sequence.wrapping_add(1).wrapping_add(lost as u16);
        let packet = TapPacket {
            payload_type: audio.payload_type,
            sequence: self.sequence,
            timestamp: audio.rtp_time as u32,
            ssrc: BROWSER_SSRC,
            payload: audio.payload.clone(),
        };
        let format = browser_format(audio.codec, audio.payload_type);
        self.tap
            .handle_rtp(&self.call, now, self.browser, packet, Some(format), out);
    }

    /// An RTP packet from the plain side; `format` is what its payload
    /// type stands for (audio or telephone-event).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn plain_rtp(
        &mut self,
        now: Instant,
        payload_type: u8,
        sequence: u16,
        timestamp: u32,
        ssrc: u32,
        payload: Bytes,
        format: SdpCodec,
        out: &mut RecordingQueue,
    ) {
        let packet = TapPacket {
            payload_type,
            sequence,
            timestamp,
            ssrc,
            payload,
        };
        let side = self.browser.other();
        self.tap
            .handle_rtp(&self.call, now, side, packet, Some(format), out);
    }

    /// Releases packets that waited long enough for the ones before them.
    pub(crate) fn handle_timeout(&mut self, now: Instant, out: &mut RecordingQueue) {
        self.tap.handle_timeout(&self.call, now, out);
    }

    /// When a held packet stops waiting.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.tap.poll_timeout()
    }

    /// Ends the recording (`RecordingEvent::Stopped`).
    pub(crate) fn finish(mut self, now: Instant, out: &mut RecordingQueue) {
        self.tap.finish(&self.call, now, out);
    }
}

/// The format of the browser's payloads in the tap.
fn browser_format(codec: WebRtcAudioCodec, payload_type: u8) -> SdpCodec {
    let mut format = match codec {
        WebRtcAudioCodec::Pcmu => SdpCodec::pcmu(),
        WebRtcAudioCodec::Pcma => SdpCodec::pcma(),
        _ => SdpCodec::opus(payload_type),
    };
    format.payload_type = payload_type;
    format
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::time::Duration;

    use super::*;
    use crate::relay::RecordingEvent;

    fn pcmu(rtp_time: u64, contiguous: bool, level: u8) -> AudioPayload {
        AudioPayload {
            codec: WebRtcAudioCodec::Pcmu,
            payload_type: 0,
            rtp_time,
            contiguous,
            payload: Bytes::from(vec![level; 160]),
        }
    }

    fn frames(out: &mut RecordingQueue) -> Vec<(Side, u64, usize)> {
        out.drain(..)
            .filter_map(|e| match e {
                RecordingEvent::Frame(f) => Some((f.side, f.offset, f.samples.len())),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn browser_payloads_are_numbered_and_placed_by_rtp_time() {
        let start = Instant::now();
        let mut out = RecordingQueue::new();
        let mut rec = BridgeRecorder::new("c".into(), 8000, Side::B, start, &mut out);
        assert!(matches!(
            out.pop_front(),
            Some(RecordingEvent::Started { rate: 8000, .. })
        ));
        // 20 ms frames; the fourth and fifth are lost.
        for (i, n) in [0u64, 1, 2, 5, 6].into_iter().enumerate() {
            let at = start + Duration::from_millis(20 * n);
            rec.browser_audio(at, &pcmu(1000 + 160 * n, i != 3, 0x80), &mut out);
        }
        // The tap holds the first packets for reordering; finishing
        // releases them.
        rec.finish(start + Duration::from_millis(140), &mut out);
        let Some(RecordingEvent::Stopped { end, stats, .. }) = out.back() else {
            panic!("not stopped: {out:?}");
        };
        assert_eq!(*end, 1120);
        assert_eq!((stats[1].decoded, stats[1].concealed), (5, 2), "{stats:?}");
        let got = frames(&mut out);
        // The browser is the callee here: every frame is side B.
        assert!(got.iter().all(|f| f.0 == Side::B), "{got:?}");
        assert_eq!(got[0].1, 0);
        assert_eq!(got[1].1, 160);
        // The gap was numbered as two lost packets: concealed, then frame 5
        // at its RTP time (a relayed leg's behaviour).
        let last = got.last().unwrap();
        assert_eq!(last.1 + last.2 as u64, 7 * 160, "{got:?}");
        let total: usize = got.iter().map(|f| f.2).sum();
        assert_eq!(total, 7 * 160, "{got:?}");
    }

    #[test]
    fn plain_packets_go_to_the_other_side() {
        let start = Instant::now();
        let mut out = RecordingQueue::new();
        let mut rec = BridgeRecorder::new("c".into(), 8000, Side::A, start, &mut out);
        for n in 0..3u16 {
            let at = start + Duration::from_millis(20 * u64::from(n));
            let payload = Bytes::from(vec![0x80; 160]);
            rec.plain_rtp(
                at,
                0,
                100 + n,
                u32::from(n) * 160,
                7,
                payload,
                SdpCodec::pcmu(),
                &mut out,
            );
        }
        rec.handle_timeout(start + Duration::from_millis(200), &mut out);
        assert_eq!(rec.poll_timeout(), None);
        let got = frames(&mut out);
        assert_eq!(
            got,
            vec![(Side::B, 0, 160), (Side::B, 160, 160), (Side::B, 320, 160)]
        );
    }
}
