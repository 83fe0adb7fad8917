//! The IVR machine's timers, named as FreeSWITCH and TwiML name them.

use std::time::Instant;

/// A timer of the IVR machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Timer {
    /// Waiting for the first key after the prompts finished (FreeSWITCH
    /// `timeout`, TwiML `timeout`).
    FirstDigit,
    /// Waiting for the next key of a multi-key entry (FreeSWITCH
    /// `inter-digit-timeout`).
    InterDigit,
    /// Waiting for a webhook answer.
    Webhook,
}

impl Timer {
    const ALL: [Timer; 3] = [Timer::FirstDigit, Timer::InterDigit, Timer::Webhook];

    fn index(self) -> usize {
        match self {
            Timer::FirstDigit => 0,
            Timer::InterDigit => 1,
            Timer::Webhook => 2,
        }
    }
}

/// Deadlines by timer, the way quinn-proto keeps its timers.
#[derive(Debug, Clone, Default)]
pub(crate) struct TimerTable {
    deadlines: [Option<Instant>; 3],
}

impl TimerTable {
    pub(crate) fn set(&mut self, timer: Timer, at: Instant) {
        self.deadlines[timer.index()] = Some(at);
    }

    pub(crate) fn stop(&mut self, timer: Timer) {
        self.deadlines[timer.index()] = None;
    }

    pub(crate) fn stop_all(&mut self) {
        self.deadlines = [None; 3];
    }

    pub(crate) fn get(&self, timer: Timer) -> Option<Instant> {
        self.deadlines[timer.index()]
    }

    /// The earliest deadline.
    pub(crate) fn next(&self) -> Option<Instant> {
        self.deadlines.iter().flatten().min().copied()
    }

    /// Removes and returns a timer whose deadline is at or before `now`.
    pub(crate) fn expired(&mut self, now: Instant) -> Option<Timer> {
        let timer = Timer::ALL
            .into_iter()
            .filter(|t| self.get(*t).is_some_and(|at| at <= now))
            .min_by_key(|t| self.get(*t))?;
        self.stop(timer);
        Some(timer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn earliest_first() {
        let t0 = Instant::now();
        let mut table = TimerTable::default();
        assert_eq!(table.next(), None);
        table.set(Timer::Webhook, t0 + Duration::from_secs(5));
        table.set(Timer::FirstDigit, t0 + Duration::from_secs(2));
        assert_eq!(table.next(), Some(t0 + Duration::from_secs(2)));
        assert_eq!(table.expired(t0 + Duration::from_secs(1)), None);
        assert_eq!(
            table.expired(t0 + Duration::from_secs(9)),
            Some(Timer::FirstDigit)
        );
        assert_eq!(
            table.expired(t0 + Duration::from_secs(9)),
            Some(Timer::Webhook)
        );
        assert_eq!(table.expired(t0 + Duration::from_secs(9)), None);
        table.set(Timer::InterDigit, t0);
        table.stop_all();
        assert_eq!(table.next(), None);
    }
}
