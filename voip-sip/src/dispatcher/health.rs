//! Health of one destination: consecutive failures take it down,
//! consecutive successes bring it back.
//!
//! ```text
//!          failure (count < down_after)        success (count < up_after)
//!            ┌──────┐                             ┌──────┐
//!            ▼      │                             ▼      │
//!  ──────►  Up ─────┴── down_after failures ──► Down ────┴── up_after successes ──► Up
//!            ▲  success resets the count           failure resets the count
//! ```

use crate::message::StatusCode;

/// Whether a destination takes traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// Answers its probes; selected.
    Up,
    /// Failed its probes; skipped until it answers again.
    Down,
}

/// Which answers to an OPTIONS probe prove a destination alive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AliveOn {
    /// Any final response: a server that answers 404 or 405 to OPTIONS is
    /// running. Only a timeout or a transport error is a failure.
    AnyResponse,
    /// Any final response except 5xx (a 503 says "do not send me
    /// traffic"): the default.
    NotServerError,
    /// Only 2xx.
    Success,
}

impl AliveOn {
    /// Whether a final `status` proves the destination alive.
    pub fn is_alive(self, status: StatusCode) -> bool {
        match self {
            Self::AnyResponse => true,
            Self::NotServerError => status.class() != 5,
            Self::Success => status.is_success(),
        }
    }
}

/// The counters of one destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HealthState {
    pub(crate) health: Health,
    /// Consecutive failures while up, or successes while down.
    streak: u32,
}

impl HealthState {
    pub(crate) fn new() -> Self {
        Self {
            health: Health::Up,
            streak: 0,
        }
    }

    /// Counts one probe result; returns the new health when it changed.
    pub(crate) fn record(&mut self, alive: bool, down_after: u32, up_after: u32) -> Option<Health> {
        match (self.health, alive) {
            (Health::Up, true) | (Health::Down, false) => {
                self.streak = 0;
                None
            }
            (Health::Up, false) => {
                self.streak += 1;
                (self.streak >= down_after).then(|| self.set(Health::Down))
            }
            (Health::Down, true) => {
                self.streak += 1;
                (self.streak >= up_after).then(|| self.set(Health::Up))
            }
        }
    }

    pub(crate) fn set(&mut self, health: Health) -> Health {
        self.health = health;
        self.streak = 0;
        health
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_and_resets() {
        let mut h = HealthState::new();
        assert_eq!(h.record(false, 3, 2), None);
        assert_eq!(h.record(false, 3, 2), None);
        assert_eq!(h.record(true, 3, 2), None); // reset
        assert_eq!(h.record(false, 3, 2), None);
        assert_eq!(h.record(false, 3, 2), None);
        assert_eq!(h.record(false, 3, 2), Some(Health::Down));
        assert_eq!(h.record(true, 3, 2), None);
        assert_eq!(h.record(false, 3, 2), None); // reset
        assert_eq!(h.record(true, 3, 2), None);
        assert_eq!(h.record(true, 3, 2), Some(Health::Up));
    }

    #[test]
    fn reply_policies() {
        let s = StatusCode::SERVICE_UNAVAILABLE;
        assert!(AliveOn::AnyResponse.is_alive(s));
        assert!(!AliveOn::NotServerError.is_alive(s));
        assert!(AliveOn::NotServerError.is_alive(StatusCode::NOT_FOUND));
        assert!(AliveOn::NotServerError.is_alive(StatusCode::METHOD_NOT_ALLOWED));
        assert!(!AliveOn::Success.is_alive(StatusCode::NOT_FOUND));
        assert!(AliveOn::Success.is_alive(StatusCode::OK));
    }
}
