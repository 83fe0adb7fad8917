//! Transfers: ring a group's agents (one after another, or all at once),
//! queue the caller with hold music when every agent is busy, hand queued
//! callers to agents as they free up, bridge the caller to the agent who
//! answers.
//!
//! ```text
//! Transfer(group) ─► Ringing ──200──► Bridged
//!                      │ nobody free / nobody answered
//!                      ▼
//!                    Queued (prompt, then music; position every N s)
//!                      │ an agent frees up ─► Ringing (music goes on)
//!                      │   └ no answer ─► back to its place in the line
//!                      └ queue timeout, queue full, queue off ─► busy prompt, BYE
//! ```

use std::time::Instant;

use voip_ivr::{Prompt, Target};
use voip_sip::StatusCode;
use voip_sip::Uri;
use voip_sip::dialog::DialogId;
use voip_sip::ua::{Body, InviteOptions, RequestId};

use super::{AgentLeg, IvrServer, Stage};
use crate::ivr::groups::{Group, Strategy};
use crate::ivr::media::MediaCommand;
use crate::ivr::queue::{JoinError, QueueEvent, QueuePolicy, Ticket};

/// Said when a caller joins a queue.
pub const QUEUE_PROMPT: &str =
    "All our agents are busy. Please hold, and the next available agent will take your call.";

/// How long a queued caller whose agent did not answer waits before the
/// next attempt (so an agent who rejects calls is not rung in a loop).
const RETRY_DELAY: std::time::Duration = std::time::Duration::from_secs(3);

impl IvrServer {
    pub(super) fn transfer(&mut self, now: Instant, id: u64, target: Target) {
        let group = match &target {
            Target::Group(name) => self
                .settings
                .groups
                .iter()
                .find(|g| &g.name == name)
                .cloned(),
            Target::Extension(ext) => Some(Group {
                name: format!("extension {ext}"),
                strategy: Strategy::RoundRobin,
                members: vec![ext.clone()],
                queue: Default::default(),
            }),
            Target::External { number, trunk } => {
                return self.ring_external(now, id, number, trunk.as_deref());
            }
            _ => None,
        };
        let Some(group) = group else {
            tracing::warn!(
                call = id,
                ?target,
                "transfer target not configured (add a [[groups]] table)"
            );
            return self.say_busy(id);
        };
        tracing::info!(call = id, group = %group.name, "transferring");
        self.ring(now, id, group, None);
    }

    /// Rings an outside number through the proxy's trunk routing: with a
    /// trunk name, the trunk's prefix goes in front of the number (the
    /// proxy strips it again if the trunk says so). No queue: when the
    /// number does not answer, the caller hears the busy prompt.
    fn ring_external(&mut self, now: Instant, id: u64, number: &str, trunk: Option<&str>) {
        let dial = match trunk {
            Some(name) => match self.trunks.get(name) {
                Some(prefix) => format!("{prefix}{number}"),
                None => {
                    tracing::warn!(
                        call = id,
                        trunk = name,
                        "transfer to an unknown trunk (or one without prefix)"
                    );
                    return self.say_busy(id);
                }
            },
            None => number.to_owned(),
        };
        let dialable = !dial.is_empty()
            && dial
                .bytes()
                .all(|b| b.is_ascii_digit() || matches!(b, b'+' | b'*' | b'#'));
        let caller = self.calls.get(&id).map(|c| c.caller.clone());
        let (true, Some(caller)) = (dialable, caller) else {
            tracing::warn!(call = id, %dial, "transfer to a number that cannot be dialled");
            return self.say_busy(id);
        };
        tracing::info!(call = id, %dial, "transferring to an outside number");
        let leg = match self.invite_agent(now, &caller, &dial) {
            Ok(leg) => leg,
            Err(error) => {
                tracing::warn!(call = id, %dial, "outside number not called: {error}");
                return self.say_busy(id);
            }
        };
        self.requests.insert(leg.request, id);
        let group = Group {
            name: format!("number {dial}"),
            strategy: Strategy::RoundRobin,
            members: vec![dial.clone()],
            queue: QueuePolicy {
                enabled: false,
                ..QueuePolicy::default()
            },
        };
        if let Some(call) = self.calls.get_mut(&id) {
            call.stage = Stage::Ringing {
                group,
                tried: vec![dial],
                legs: vec![leg],
                until: now + self.settings.ring_timeout,
                ticket: None,
            };
        }
    }

    /// Starts ringing `group` for call `id`; `ticket` is its place in the
    /// queue when it comes from there.
    fn ring(&mut self, now: Instant, id: u64, group: Group, ticket: Option<Ticket>) {
        if let Some(call) = self.calls.get_mut(&id) {
            call.stage = Stage::Ringing {
                group,
                tried: Vec::new(),
                legs: Vec::new(),
                until: now,
                ticket,
            };
        }
        self.try_next_agent(now, id);
    }

    /// Rings the next agent(s) of the call's group; when nobody is left,
    /// queues the caller (or puts it back in its place), else says the
    /// busy prompt.
    pub(super) fn try_next_agent(&mut self, now: Instant, id: u64) {
        let registered = self.registered.borrow().clone();
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let Stage::Ringing { group, tried, .. } = &mut call.stage else {
            return;
        };
        let picks = self.agents.pick(group, |m| registered.contains(m), tried);
        tried.extend(picks.iter().cloned());
        let caller = call.caller.clone();
        let mut legs = Vec::new();
        for agent in picks {
            match self.invite_agent(now, &caller, &agent) {
                Ok(leg) => legs.push(leg),
                Err(error) => tracing::warn!(call = id, %agent, "agent not called: {error}"),
            }
        }
        if legs.is_empty() {
            return self.wait_in_queue(now, id);
        }
        for leg in &legs {
            self.agents.ringing(&leg.agent);
            self.requests.insert(leg.request, id);
            self.write_agent(&leg.agent);
        }
        let ring = self.settings.ring_timeout;
        if let Some(Stage::Ringing {
            legs: held, until, ..
        }) = self.calls.get_mut(&id).map(|c| &mut c.stage)
        {
            *held = legs;
            *until = now + ring;
        }
    }

    /// Nobody (more) to ring: join the group's queue, go back to the
    /// caller's place in it, or say the busy prompt.
    fn wait_in_queue(&mut self, now: Instant, id: u64) {
        let registered = self.registered.borrow().clone();
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let Stage::Ringing { group, ticket, .. } = &mut call.stage else {
            return;
        };
        let group = group.clone();
        if let Some(ticket) = ticket.take() {
            return match self.queues.rejoin(now, id, &ticket, RETRY_DELAY) {
                Some(position) => {
                    tracing::info!(call = id, group = %group.name, position, "no agent answered; back in the queue");
                    call.stage = Stage::Queued { group };
                }
                None => {
                    tracing::info!(call = id, group = %group.name, "queue time is up");
                    self.say_busy(id);
                }
            };
        }
        if !group.queue.enabled {
            tracing::info!(call = id, group = %group.name, "nobody answered");
            return self.say_busy(id);
        }
        if !group.members.iter().any(|m| registered.contains(m)) {
            tracing::info!(call = id, group = %group.name, "no agent is logged in");
            return self.say_busy(id);
        }
        match self.queues.join(now, &group.name, &group.queue, id) {
            Ok(position) => {
                tracing::info!(call = id, group = %group.name, position, "every agent is busy; queued");
                call.stage = Stage::Queued { group };
                self.play(id, &Prompt::tts(QUEUE_PROMPT));
            }
            Err(JoinError::Full) => {
                tracing::info!(call = id, group = %group.name, "queue full");
                self.say_busy(id);
            }
            Err(JoinError::Disabled) => {
                tracing::info!(call = id, group = %group.name, "no agent available");
                self.say_busy(id);
            }
        }
    }

    /// Hands waiting callers to agents that are free, first come first
    /// served per group.
    pub(super) fn dispatch_queues(&mut self, now: Instant) {
        let registered = self.registered.borrow().clone();
        for name in self.queues.groups() {
            for id in self.queues.ready(&name) {
                let Some(Stage::Queued { group }) = self.calls.get(&id).map(|c| &c.stage) else {
                    self.queues.leave(id);
                    continue;
                };
                let free = group
                    .members
                    .iter()
                    .any(|m| registered.contains(m) && self.agents.stats(m).current_calls == 0);
                if !free {
                    break;
                }
                let group = group.clone();
                let ticket = self.queues.leave(id);
                tracing::info!(call = id, group = %group.name, "an agent is free; ringing");
                self.ring(now, id, group, ticket);
            }
        }
    }

    /// Queue deadlines and announcements.
    pub(super) fn handle_queue_timeout(&mut self, now: Instant) {
        for event in self.queues.handle_timeout(now) {
            match event {
                QueueEvent::TimedOut { call } => {
                    tracing::info!(call, "waited too long in the queue");
                    self.say_busy(call);
                }
                QueueEvent::Announce { call, position } => {
                    if matches!(
                        self.calls.get(&call).map(|c| &c.stage),
                        Some(Stage::Queued { .. })
                    ) {
                        let text =
                            format!("You are caller number {position}. Please continue to hold.");
                        self.play(call, &Prompt::tts(text));
                    }
                }
                QueueEvent::Retry => {}
            }
        }
    }

    /// Plays the hold music to a queued caller (after the queue prompt, an
    /// announcement, or the previous loop).
    pub(super) fn play_hold_music(&mut self, id: u64) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        call.token += 1;
        call.media.send(MediaCommand::Play {
            samples: self.hold.clone(),
            token: call.token,
        });
    }

    fn invite_agent(
        &mut self,
        now: Instant,
        caller: &str,
        agent: &str,
    ) -> Result<AgentLeg, String> {
        let socket = self.pool.bind().map_err(|e| e.to_string())?;
        let port = socket.local_addr().map_err(|e| e.to_string())?.port();
        let mut sdp = self.sdp_session(port);
        let offer = sdp.create_offer().map_err(|e| e.to_string())?;
        let uri = |text: String| text.parse::<Uri>().map_err(|_| format!("bad uri {text}"));
        let from = uri(format!("sip:{}@{}", self.settings.extension, self.domain))?;
        let to = uri(format!("sip:{agent}@{}", self.domain))?;
        let mut options = InviteOptions::new(from, to).body(Body::sdp(offer));
        // the agent sees who is calling
        if !caller.is_empty()
            && caller
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'+')
        {
            options.from.set_display_name(Some(caller));
        }
        let request = self.ua.invite(now, options).map_err(|e| e.to_string())?;
        tracing::info!(%agent, "ringing agent");
        Ok(AgentLeg {
            request,
            agent: agent.to_owned(),
            socket,
            sdp,
        })
    }

    pub(super) fn agent_answered(
        &mut self,
        now: Instant,
        request: RequestId,
        dialog: DialogId,
        body: Option<Body>,
    ) {
        let Some(id) = self.requests.remove(&request) else {
            let _ = self.ua.bye(now, dialog);
            return;
        };
        let Some(call) = self.calls.get_mut(&id) else {
            let _ = self.ua.bye(now, dialog);
            return;
        };
        let Stage::Ringing { legs, .. } = &mut call.stage else {
            // a second agent of a ring-all answered too late
            let _ = self.ua.bye(now, dialog);
            return;
        };
        let Some(index) = legs.iter().position(|l| l.request == request) else {
            let _ = self.ua.bye(now, dialog);
            return;
        };
        let mut leg = legs.remove(index);
        let others: Vec<AgentLeg> = std::mem::take(legs);
        let remote = body
            .as_ref()
            .and_then(|b| leg.sdp.handle_answer(&b.data).ok())
            .and_then(|n| n.first().filter(|m| m.accepted).and_then(|m| m.remote_rtp));
        let agent = leg.agent.clone();
        match remote {
            Some(remote) => {
                call.token += 1;
                call.media.send(MediaCommand::Bridge {
                    socket: leg.socket,
                    remote,
                });
                call.stage = Stage::Bridged {
                    dialog,
                    agent: agent.clone(),
                    sdp: Box::new(leg.sdp),
                };
                self.dialogs.insert(dialog, id);
                self.agents.answered(&agent);
                tracing::info!(call = id, %agent, %remote, "agent answered; bridged");
            }
            None => {
                tracing::warn!(call = id, %agent, "agent answered without a usable SDP answer");
                let _ = self.ua.bye(now, dialog);
                self.agents.ended(&agent, now, false);
                call.stage = Stage::Ended;
                let _ = self.ua.bye(now, call.caller_dialog);
            }
        }
        self.write_agent(&agent);
        for other in others {
            self.requests.remove(&other.request);
            let _ = self.ua.cancel(now, other.request);
            self.agents.ended(&other.agent, now, false);
            self.write_agent(&other.agent);
        }
    }

    pub(super) fn agent_failed(&mut self, now: Instant, request: RequestId, status: StatusCode) {
        let Some(id) = self.requests.remove(&request) else {
            return;
        };
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let Stage::Ringing { legs, .. } = &mut call.stage else {
            return;
        };
        let Some(index) = legs.iter().position(|l| l.request == request) else {
            return;
        };
        let leg = legs.remove(index);
        let left = legs.len();
        tracing::info!(call = id, agent = %leg.agent, %status, "agent did not answer");
        self.agents.ended(&leg.agent, now, false);
        self.write_agent(&leg.agent);
        if left == 0 {
            self.try_next_agent(now, id);
        }
    }

    pub(super) fn cancel_ringing(&mut self, now: Instant, id: u64) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let Stage::Ringing { legs, .. } = &mut call.stage else {
            return;
        };
        for leg in std::mem::take(legs) {
            self.requests.remove(&leg.request);
            let _ = self.ua.cancel(now, leg.request);
            self.agents.ended(&leg.agent, now, false);
            self.write_agent(&leg.agent);
        }
    }

    /// Says the busy prompt, then hangs up.
    pub(super) fn say_busy(&mut self, id: u64) {
        self.queues.leave(id);
        if let Some(call) = self.calls.get_mut(&id) {
            call.stage = Stage::Closing;
        }
        self.play(id, &Prompt::tts(super::BUSY_PROMPT));
    }
}
