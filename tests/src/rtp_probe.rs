//! A media port a test listens on itself (sipp 3.6 cannot check received
//! audio): it counts the PCMU packets that arrive and which of them are
//! loud (loudest sample above about -30 dBFS), with arrival times, so a
//! test can tell a prompt, hold music or silence apart by when they came.

use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// G.711 µ-law to linear (ITU-T G.711).
pub fn ulaw(code: u8) -> i32 {
    let c = !code;
    let exponent = i32::from((c >> 4) & 7);
    let mantissa = i32::from(c & 0x0f);
    let magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84;
    if c & 0x80 != 0 { -magnitude } else { magnitude }
}

/// Peak above which a 20 ms packet counts as loud (about -30 dBFS).
const LOUD_PEAK: i32 = 1000;

/// One PCMU packet: when it came and whether it was loud.
#[derive(Debug, Clone, Copy)]
pub struct Arrival {
    /// When it arrived.
    pub at: Instant,
    /// Its loudest sample is above about -30 dBFS.
    pub loud: bool,
}

/// A listening media port (see the module docs).
#[derive(Debug)]
pub struct RtpProbe {
    port: u16,
    stop: Arc<AtomicBool>,
    arrivals: Arc<Mutex<Vec<Arrival>>>,
    thread: Option<JoinHandle<()>>,
}

impl RtpProbe {
    /// Binds a loopback port and starts listening.
    pub fn start() -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let port = socket.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let arrivals = Arc::new(Mutex::new(Vec::new()));
        let thread = {
            let (stop, arrivals) = (stop.clone(), arrivals.clone());
            std::thread::spawn(move || listen(socket, &stop, &arrivals))
        };
        Self {
            port,
            stop,
            arrivals,
            thread: Some(thread),
        }
    }

    /// The port to put in the SDP.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// (all packets, loud packets) so far.
    pub fn counts(&self) -> (usize, usize) {
        let arrivals = self.arrivals.lock().unwrap();
        (arrivals.len(), arrivals.iter().filter(|a| a.loud).count())
    }

    /// (all, loud) packets that arrived in `from..to`.
    pub fn counts_between(&self, from: Instant, to: Instant) -> (usize, usize) {
        let arrivals = self.arrivals.lock().unwrap();
        let window: Vec<&Arrival> = arrivals
            .iter()
            .filter(|a| a.at >= from && a.at < to)
            .collect();
        (window.len(), window.iter().filter(|a| a.loud).count())
    }

    /// The longest silence between two packets (nothing sent while on
    /// hold); zero with fewer than two packets.
    pub fn largest_gap(&self) -> Duration {
        let arrivals = self.arrivals.lock().unwrap();
        arrivals
            .windows(2)
            .map(|w| w[1].at.saturating_duration_since(w[0].at))
            .max()
            .unwrap_or_default()
    }

    /// Stops listening.
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            thread.join().unwrap();
        }
    }
}

impl Drop for RtpProbe {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn listen(socket: UdpSocket, stop: &AtomicBool, arrivals: &Mutex<Vec<Arrival>>) {
    let mut buf = [0u8; 2048];
    while !stop.load(Ordering::Relaxed) {
        let Ok(len) = socket.recv(&mut buf) else {
            continue;
        };
        let packet = &buf[..len];
        // RTP version 2, payload type 0 (PCMU)
        if len <= 12 || packet[0] >> 6 != 2 || packet[1] & 0x7f != 0 {
            continue;
        }
        let header = 12 + 4 * usize::from(packet[0] & 0x0f);
        let peak = packet
            .get(header..)
            .unwrap_or_default()
            .iter()
            .map(|c| ulaw(*c).abs())
            .max()
            .unwrap_or(0);
        arrivals.lock().unwrap().push(Arrival {
            at: Instant::now(),
            loud: peak > LOUD_PEAK,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ulaw_decodes_the_extremes() {
        assert_eq!(ulaw(0xff), 0);
        assert_eq!(ulaw(0x80), 32124);
        assert_eq!(ulaw(0x00), -32124);
    }
}
