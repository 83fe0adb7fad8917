//! Agent groups (queues) and how a transfer picks an agent: round-robin,
//! longest-idle, fewest-calls or ring-all, over the agents that are
//! registered and not in a call. Sans-IO: the caller passes who is
//! registered and the time.

use std::collections::HashMap;
use std::time::Instant;

/// How a group hands out calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// The next available member after the one who got the last call.
    RoundRobin,
    /// The available member whose last call ended longest ago (never
    /// called first).
    LongestIdle,
    /// The available member with the fewest calls so far.
    FewestCalls,
    /// Every available member at once; the first to answer gets the call.
    RingAll,
}

impl Strategy {
    /// Parses the config spelling (`round-robin`, `longest-idle`,
    /// `fewest-calls`, `ring-all`; underscores accepted).
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "round-robin" => Some(Self::RoundRobin),
            "longest-idle" => Some(Self::LongestIdle),
            "fewest-calls" => Some(Self::FewestCalls),
            "ring-all" => Some(Self::RingAll),
            _ => None,
        }
    }
}

/// A group of agents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// Its name (the transfer target).
    pub name: String,
    /// How calls are handed out.
    pub strategy: Strategy,
    /// Member extensions, in order.
    pub members: Vec<String>,
    /// Whether and how callers wait when every member is busy.
    pub queue: super::queue::QueuePolicy,
}

/// What the router knows about one agent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AgentStats {
    /// Calls it is in (ringing or answered).
    pub current_calls: u32,
    /// Calls it answered.
    pub total_calls: u64,
    /// When its last call ended.
    pub last_call_end: Option<Instant>,
}

/// Agent statistics and the round-robin positions of the groups.
#[derive(Debug, Default)]
pub struct Agents {
    stats: HashMap<String, AgentStats>,
    cursors: HashMap<String, usize>,
}

impl Agents {
    /// The statistics of `extension`.
    pub fn stats(&self, extension: &str) -> AgentStats {
        self.stats.get(extension).copied().unwrap_or_default()
    }

    /// The agents to ring for a call to `group`: one for the sequential
    /// strategies, every available one for ring-all, none when nobody is
    /// available. Available: `registered`, in no call, and not in
    /// `tried` (agents this call already rang).
    pub fn pick(
        &mut self,
        group: &Group,
        registered: impl Fn(&str) -> bool,
        tried: &[String],
    ) -> Vec<String> {
        let available: Vec<(usize, &String)> = group
            .members
            .iter()
            .enumerate()
            .filter(|(_, m)| {
                registered(m) && self.stats(m).current_calls == 0 && !tried.contains(m)
            })
            .collect();
        let chosen = match group.strategy {
            Strategy::RingAll => return available.into_iter().map(|(_, m)| m.clone()).collect(),
            Strategy::RoundRobin => {
                let start = self.cursors.get(&group.name).copied().unwrap_or(0);
                let n = group.members.len().max(1);
                available
                    .iter()
                    .min_by_key(|(i, _)| (i + n - start % n) % n)
                    .copied()
            }
            Strategy::LongestIdle => available
                .iter()
                .min_by_key(|(i, m)| (self.stats(m).last_call_end, *i))
                .copied(),
            Strategy::FewestCalls => available
                .iter()
                .min_by_key(|(i, m)| (self.stats(m).total_calls, *i))
                .copied(),
        };
        match chosen {
            Some((i, m)) => {
                self.cursors.insert(group.name.clone(), i + 1);
                vec![m.clone()]
            }
            None => Vec::new(),
        }
    }

    /// An agent is being rung.
    pub fn ringing(&mut self, extension: &str) {
        self.stats
            .entry(extension.to_owned())
            .or_default()
            .current_calls += 1;
    }

    /// An agent answered.
    pub fn answered(&mut self, extension: &str) {
        self.stats
            .entry(extension.to_owned())
            .or_default()
            .total_calls += 1;
    }

    /// An agent's call (or ringing) ended at `now`; `answered` says whether
    /// it was a call (the idle clock restarts only after a call).
    pub fn ended(&mut self, extension: &str, now: Instant, answered: bool) {
        let s = self.stats.entry(extension.to_owned()).or_default();
        s.current_calls = s.current_calls.saturating_sub(1);
        if answered {
            s.last_call_end = Some(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn group(strategy: Strategy) -> Group {
        Group {
            name: "sales".into(),
            strategy,
            members: vec!["a".into(), "b".into(), "c".into()],
            queue: Default::default(),
        }
    }

    fn all(_: &str) -> bool {
        true
    }

    /// One call to `who`, answered and ended at `at`.
    fn call(agents: &mut Agents, who: &str, at: Instant) {
        agents.ringing(who);
        agents.answered(who);
        agents.ended(who, at, true);
    }

    #[test]
    fn round_robin_rotates_and_skips_the_unavailable() {
        let g = group(Strategy::RoundRobin);
        let mut agents = Agents::default();
        let picks: Vec<Vec<String>> = (0..4).map(|_| agents.pick(&g, all, &[])).collect();
        assert_eq!(picks, [vec!["a"], vec!["b"], vec!["c"], vec!["a"]]);
        // b is not registered, c is busy: after a comes a again
        agents.ringing("c");
        assert_eq!(agents.pick(&g, |m| m != "b", &[]), ["a"]);
        // a already tried for this call: nobody left
        assert!(agents.pick(&g, |m| m != "b", &["a".into()]).is_empty());
    }

    #[test]
    fn longest_idle_prefers_never_called_then_oldest_end() {
        let g = group(Strategy::LongestIdle);
        let mut agents = Agents::default();
        let t = Instant::now();
        call(&mut agents, "a", t + Duration::from_secs(10));
        call(&mut agents, "b", t + Duration::from_secs(5));
        assert_eq!(agents.pick(&g, all, &[]), ["c"]);
        call(&mut agents, "c", t + Duration::from_secs(20));
        assert_eq!(agents.pick(&g, all, &[]), ["b"]);
    }

    #[test]
    fn fewest_calls_balances_totals() {
        let g = group(Strategy::FewestCalls);
        let mut agents = Agents::default();
        let t = Instant::now();
        call(&mut agents, "a", t);
        call(&mut agents, "a", t);
        call(&mut agents, "b", t);
        assert_eq!(agents.pick(&g, all, &[]), ["c"]);
        call(&mut agents, "c", t);
        assert_eq!(agents.pick(&g, all, &[]), ["b"]);
        assert_eq!(agents.stats("a").total_calls, 2);
    }

    #[test]
    fn ring_all_rings_every_available_member() {
        let g = group(Strategy::RingAll);
        let mut agents = Agents::default();
        agents.ringing("b");
        assert_eq!(agents.pick(&g, all, &[]), ["a", "c"]);
        agents.ended("b", Instant::now(), false);
        assert_eq!(agents.stats("b").last_call_end, None);
        assert_eq!(agents.pick(&g, |m| m == "b", &[]), ["b"]);
    }

    #[test]
    fn strategies_parse() {
        assert_eq!(Strategy::parse("round-robin"), Some(Strategy::RoundRobin));
        assert_eq!(Strategy::parse("Longest_Idle"), Some(Strategy::LongestIdle));
        assert_eq!(Strategy::parse("fewest-calls"), Some(Strategy::FewestCalls));
        assert_eq!(Strategy::parse("ring-all"), Some(Strategy::RingAll));
        assert_eq!(Strategy::parse("random"), None);
    }
}
