//! Callers waiting for a group's agents (FreeSWITCH mod_callcenter's and
//! Asterisk app_queue's role), sans-IO: first come, first served per
//! group; a caller whose agent did not answer goes back to its old place;
//! each caller has a deadline and periodic position announcements.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// A group's queue settings (`[[groups]]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueuePolicy {
    /// Queue callers when every agent is busy; `false` says the busy prompt.
    pub enabled: bool,
    /// How long a caller may wait before the busy prompt and hang-up.
    pub timeout: Duration,
    /// Callers beyond this many get the busy prompt at once.
    pub max_waiting: usize,
    /// How often a waiting caller hears its position; `None` never.
    pub announce_every: Option<Duration>,
}

impl Default for QueuePolicy {
    fn default() -> Self {
        Self {
            enabled: true,
            timeout: Duration::from_secs(300),
            max_waiting: 50,
            announce_every: Some(Duration::from_secs(30)),
        }
    }
}

/// One waiting caller.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Waiting {
    call: u64,
    /// When it first joined (its place in the line).
    since: Instant,
    /// When it gives up.
    until: Instant,
    /// When it next hears its position.
    announce_at: Option<Instant>,
    announce_every: Option<Duration>,
    /// Not handed to an agent before this (after an unanswered attempt).
    retry_at: Option<Instant>,
}

/// A caller's place, kept while its agent rings (see [`Queues::rejoin`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    /// The group.
    pub group: String,
    since: Instant,
    until: Instant,
    announce_every: Option<Duration>,
}

/// What [`Queues::handle_timeout`] reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueEvent {
    /// The caller waited `timeout`; it has left the queue.
    TimedOut {
        /// The call.
        call: u64,
    },
    /// A caller's retry delay ended: try the agents again.
    Retry,
    /// Tell the caller its place (1 is next).
    Announce {
        /// The call.
        call: u64,
        /// Its position.
        position: usize,
    },
}

/// Why a caller could not join.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinError {
    /// The group does not queue.
    Disabled,
    /// `max_waiting` callers already wait.
    Full,
}

/// The waiting lines of every group.
#[derive(Debug, Default)]
pub struct Queues {
    lines: HashMap<String, Vec<Waiting>>,
}

impl Queues {
    /// Puts `call` in `group`'s line and returns its position (1 is next).
    pub fn join(
        &mut self,
        now: Instant,
        group: &str,
        policy: &QueuePolicy,
        call: u64,
    ) -> Result<usize, JoinError> {
        if !policy.enabled {
            return Err(JoinError::Disabled);
        }
        let line = self.lines.entry(group.to_owned()).or_default();
        if line.len() >= policy.max_waiting {
            return Err(JoinError::Full);
        }
        line.push(Waiting {
            call,
            since: now,
            until: now + policy.timeout,
            announce_at: policy.announce_every.map(|every| now + every),
            announce_every: policy.announce_every,
            retry_at: None,
        });
        Ok(line.len())
    }

    /// Puts `call` back after its agent did not answer: at the place its
    /// first join gave it, with its old deadline. Returns the position, or
    /// `None` when the deadline has passed (the caller should give up).
    /// It is not [`Queues::ready`] for `retry_delay`.
    pub fn rejoin(
        &mut self,
        now: Instant,
        call: u64,
        ticket: &Ticket,
        retry_delay: Duration,
    ) -> Option<usize> {
        if ticket.until <= now {
            return None;
        }
        let line = self.lines.entry(ticket.group.clone()).or_default();
        let at = line
            .iter()
            .position(|w| w.since > ticket.since)
            .unwrap_or(line.len());
        line.insert(
            at,
            Waiting {
                call,
                since: ticket.since,
                until: ticket.until,
                announce_at: ticket.announce_every.map(|every| now + every),
                announce_every: ticket.announce_every,
                retry_at: Some(now + retry_delay),
            },
        );
        Some(at + 1)
    }

    /// Takes `call` out of whatever line it is in; the ticket lets it
    /// [`Queues::rejoin`] at the same place.
    pub fn leave(&mut self, call: u64) -> Option<Ticket> {
        for (group, line) in &mut self.lines {
            if let Some(at) = line.iter().position(|w| w.call == call) {
                let w = line.remove(at);
                return Some(Ticket {
                    group: group.clone(),
                    since: w.since,
                    until: w.until,
                    announce_every: w.announce_every,
                });
            }
        }
        None
    }

    /// The calls waiting for `group`, first first.
    pub fn waiting(&self, group: &str) -> Vec<u64> {
        self.lines
            .get(group)
            .map(|line| line.iter().map(|w| w.call).collect())
            .unwrap_or_default()
    }

    /// The calls of `group` that may be handed to an agent now, first first.
    pub fn ready(&self, group: &str) -> Vec<u64> {
        self.lines
            .get(group)
            .map(|line| {
                line.iter()
                    .filter(|w| w.retry_at.is_none())
                    .map(|w| w.call)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Groups that have someone waiting.
    pub fn groups(&self) -> Vec<String> {
        self.lines
            .iter()
            .filter(|(_, line)| !line.is_empty())
            .map(|(group, _)| group.clone())
            .collect()
    }

    /// Number of waiting callers.
    pub fn len(&self) -> usize {
        self.lines.values().map(Vec::len).sum()
    }

    /// When [`Queues::handle_timeout`] has something to do.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.lines
            .values()
            .flatten()
            .flat_map(|w| [Some(w.until), w.announce_at, w.retry_at])
            .flatten()
            .min()
    }

    /// Expires callers past their deadline and schedules announcements.
    pub fn handle_timeout(&mut self, now: Instant) -> Vec<QueueEvent> {
        let mut events = Vec::new();
        for line in self.lines.values_mut() {
            line.retain(|w| {
                let expired = w.until <= now;
                if expired {
                    events.push(QueueEvent::TimedOut { call: w.call });
                }
                !expired
            });
            for (at, w) in line.iter_mut().enumerate() {
                if w.retry_at.is_some_and(|due| due <= now) {
                    w.retry_at = None;
                    events.push(QueueEvent::Retry);
                }
                if let (Some(due), Some(every)) = (w.announce_at, w.announce_every)
                    && due <= now
                {
                    w.announce_at = Some(now + every);
                    events.push(QueueEvent::Announce {
                        call: w.call,
                        position: at + 1,
                    });
                }
            }
        }
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> QueuePolicy {
        QueuePolicy {
            enabled: true,
            timeout: Duration::from_secs(60),
            max_waiting: 3,
            announce_every: Some(Duration::from_secs(20)),
        }
    }

    #[test]
    fn first_come_first_served_per_group() {
        let t0 = Instant::now();
        let mut q = Queues::default();
        assert_eq!(q.join(t0, "sales", &policy(), 1), Ok(1));
        assert_eq!(q.join(t0, "support", &policy(), 2), Ok(1));
        assert_eq!(
            q.join(t0 + Duration::from_secs(1), "sales", &policy(), 3),
            Ok(2)
        );
        assert_eq!(q.waiting("sales"), vec![1, 3]);
        assert_eq!(q.len(), 3);
        let mut groups = q.groups();
        groups.sort();
        assert_eq!(groups, ["sales", "support"]);
    }

    #[test]
    fn full_and_disabled_queues_refuse() {
        let t0 = Instant::now();
        let mut q = Queues::default();
        for call in 1..=3 {
            q.join(t0, "sales", &policy(), call).unwrap();
        }
        assert_eq!(q.join(t0, "sales", &policy(), 4), Err(JoinError::Full));
        let off = QueuePolicy {
            enabled: false,
            ..policy()
        };
        assert_eq!(q.join(t0, "support", &off, 5), Err(JoinError::Disabled));
    }

    #[test]
    fn a_caller_whose_agent_did_not_answer_keeps_its_place() {
        let t0 = Instant::now();
        let mut q = Queues::default();
        q.join(t0, "sales", &policy(), 1).unwrap();
        q.join(t0 + Duration::from_secs(1), "sales", &policy(), 2)
            .unwrap();
        let ticket = q.leave(1).unwrap();
        assert_eq!(ticket.group, "sales");
        assert_eq!(q.waiting("sales"), vec![2]);
        let later = t0 + Duration::from_secs(5);
        let delay = Duration::from_secs(3);
        assert_eq!(q.rejoin(later, 1, &ticket, delay), Some(1));
        assert_eq!(q.waiting("sales"), vec![1, 2]);
        // it waits out the retry delay; the next caller may go first
        assert_eq!(q.ready("sales"), vec![2]);
        assert_eq!(q.poll_timeout(), Some(later + delay));
        assert_eq!(q.handle_timeout(later + delay), vec![QueueEvent::Retry]);
        assert_eq!(q.ready("sales"), vec![1, 2]);
        // past its deadline it does not come back
        let ticket = q.leave(1).unwrap();
        assert_eq!(
            q.rejoin(t0 + Duration::from_secs(60), 1, &ticket, delay),
            None
        );
    }

    #[test]
    fn deadlines_and_announcements() {
        let t0 = Instant::now();
        let mut q = Queues::default();
        q.join(t0, "sales", &policy(), 1).unwrap();
        q.join(t0 + Duration::from_secs(10), "sales", &policy(), 2)
            .unwrap();
        assert_eq!(q.poll_timeout(), Some(t0 + Duration::from_secs(20)));
        let events = q.handle_timeout(t0 + Duration::from_secs(20));
        assert_eq!(
            events,
            vec![QueueEvent::Announce {
                call: 1,
                position: 1
            }]
        );
        let events = q.handle_timeout(t0 + Duration::from_secs(30));
        assert_eq!(
            events,
            vec![QueueEvent::Announce {
                call: 2,
                position: 2
            }]
        );
        let events = q.handle_timeout(t0 + Duration::from_secs(60));
        assert!(
            events.contains(&QueueEvent::TimedOut { call: 1 }),
            "{events:?}"
        );
        assert_eq!(q.waiting("sales"), vec![2]);
        assert!(q.leave(1).is_none());
    }
}
