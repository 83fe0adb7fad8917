//! The IVR machine: menus, key collection, actions and webhook scripts, in
//! virtual time.
//!
//! The machine performs no I/O. The driver feeds it keys, playback
//! completions, hang-ups, webhook answers and timeouts, and carries out the
//! [`Event`]s it emits (play a prompt, stop playback, transfer, hang up,
//! POST a webhook).

mod event;
mod gather;
mod timer;

#[cfg(test)]
mod tests;

pub use event::{Event, FinishReason};
pub use timer::Timer;

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gather::{Gather, GatherSpec, KeyResult, Outcome, Purpose};
use timer::TimerTable;

use crate::menu::{Action, Menu, MenuSet, Target, is_dtmf};
use crate::prompt::Prompt;
use crate::vars::Variables;
use crate::webhook::{GatherVerb, Verb, WebhookError, WebhookPayload, parse_verbs};

/// Settings shared by every IVR session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IvrConfig {
    webhook_timeout: Duration,
    webhook_failure_prompt: Prompt,
}

impl Default for IvrConfig {
    fn default() -> Self {
        IvrConfig {
            webhook_timeout: Duration::from_secs(10),
            webhook_failure_prompt: Prompt::tts("Sorry, we could not complete your request."),
        }
    }
}

impl IvrConfig {
    /// How long to wait for a webhook answer (default 10 s).
    pub fn webhook_timeout(mut self, timeout: Duration) -> Self {
        self.webhook_timeout = timeout;
        self
    }

    /// Said when a webhook fails (default "Sorry, we could not complete your
    /// request.").
    pub fn webhook_failure_prompt(mut self, prompt: Prompt) -> Self {
        self.webhook_failure_prompt = prompt;
        self
    }
}

/// Commands the machine refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IvrError {
    /// `start_*` was called twice.
    #[error("the IVR session has already started")]
    AlreadyStarted,
    /// The start menu is not in the menu set.
    #[error("no menu `{0}`")]
    UnknownMenu(String),
}

/// What the machine waits for.
///
/// ```text
///   start_menu ──► Gathering ◄──────────────┐ (invalid / timeout / repeat /
///      │            │  keys, timeouts       │  submenu / back / goto)
///      │            ▼                        │
/// start_webhook   option ──► Announcing ─────┤ (say before the action)
///      │            │            │           │
///      ▼            ▼            ▼           │
///   Webhook ◄── webhook      Transfer/Hangup ──► Done
///      │  answer: verbs ──► Announcing / Gathering / ... (script steps)
///      └─ failure ──► failure prompt ──► back to the menu, or Done
///   handle_hangup: any ──► Done
/// ```
#[derive(Debug)]
enum Wait {
    /// Not started.
    Idle,
    /// Between steps (only inside a method).
    Running,
    /// A prompt without barge-in is playing.
    Announcing,
    /// Collecting keys (prompts may be playing).
    Gathering(Gather),
    /// Waiting for a webhook answer.
    Webhook { url: String },
    /// Finished.
    Done,
}

/// How a menu is entered.
#[derive(Debug, Clone)]
enum Entry {
    /// As a submenu (or `goto`): remembered for `back`; counters reset.
    Push,
    /// Anew, counters reset, nothing remembered.
    Fresh,
    /// Again after an invalid entry, a timeout or `repeat`: counters kept;
    /// the prompt is played before the greeting.
    Again(Option<Prompt>),
}

/// One thing to do; a list of steps is what remains of a menu action or a
/// webhook script.
#[derive(Debug, Clone)]
enum Step {
    Announce(Prompt),
    Gather(Gather),
    Enter(String, Entry),
    Back,
    SetVars(BTreeMap<String, String>),
    Webhook {
        url: String,
        event: &'static str,
        digits: String,
    },
    Transfer(Target, FinishReason),
    Hangup(FinishReason),
}

/// One caller's IVR session.
///
/// ```text
/// loop {
///     deliver input:  handle_digit / handle_playback_finished /
///                     handle_webhook_response / handle_hangup
///     at poll_timeout(): handle_timeout(now)
///     drain poll_event() until None
/// }
/// ```
#[derive(Debug)]
pub struct Ivr {
    config: IvrConfig,
    menus: Arc<MenuSet>,
    vars: Variables,
    wait: Wait,
    steps: VecDeque<Step>,
    timers: TimerTable,
    events: VecDeque<Event>,
    menu: Option<String>,
    history: Vec<String>,
    failures: u32,
    timeouts: u32,
}

impl Ivr {
    /// A session over `menus` with the call's variables.
    pub fn new(config: IvrConfig, menus: Arc<MenuSet>, vars: Variables) -> Self {
        Ivr {
            config,
            menus,
            vars,
            wait: Wait::Idle,
            steps: VecDeque::new(),
            timers: TimerTable::default(),
            events: VecDeque::new(),
            menu: None,
            history: Vec::new(),
            failures: 0,
            timeouts: 0,
        }
    }

    /// Starts in a menu: plays its greeting and collects keys.
    pub fn start_menu(&mut self, now: Instant, menu_id: &str) -> Result<(), IvrError> {
        if !matches!(self.wait, Wait::Idle) {
            return Err(IvrError::AlreadyStarted);
        }
        if !self.menus.contains(menu_id) {
            return Err(IvrError::UnknownMenu(menu_id.to_string()));
        }
        self.steps = VecDeque::from([Step::Enter(menu_id.to_string(), Entry::Push)]);
        self.run(now);
        Ok(())
    }

    /// Starts by asking a webhook application for the first steps.
    pub fn start_webhook(&mut self, now: Instant, url: &str) -> Result<(), IvrError> {
        if !matches!(self.wait, Wait::Idle) {
            return Err(IvrError::AlreadyStarted);
        }
        self.steps = VecDeque::from([Step::Webhook {
            url: url.to_string(),
            event: "start",
            digits: String::new(),
        }]);
        self.run(now);
        Ok(())
    }

    /// A DTMF key (`0`-`9`, `*`, `#`, `A`-`D`; other characters are ignored).
    pub fn handle_digit(&mut self, now: Instant, key: char) {
        let key = key.to_ascii_uppercase();
        if !is_dtmf(key) {
            return;
        }
        let menus = Arc::clone(&self.menus);
        let Wait::Gathering(g) = &mut self.wait else {
            return;
        };
        let menu = match &g.purpose {
            Purpose::Menu(id) => menus.get(id),
            Purpose::Hook(_) => None,
        };
        let was_playing = g.playing;
        let result = g.key(key, menu);
        if result == KeyResult::Ignored {
            return;
        }
        if was_playing {
            // Barge-in: the key stops the prompts.
            g.playing = false;
            g.queued.clear();
            self.events.push_back(Event::StopPlayback);
        }
        match result {
            KeyResult::Done(outcome) => {
                let purpose = g.purpose.clone();
                self.timers.stop(Timer::FirstDigit);
                self.timers.stop(Timer::InterDigit);
                self.wait = Wait::Running;
                self.complete(now, purpose, outcome);
            }
            _ => {
                let inter = g.spec.inter_digit_timeout;
                self.timers.stop(Timer::FirstDigit);
                set_timer(&mut self.timers, Timer::InterDigit, now, inter);
            }
        }
    }

    /// The prompt from the last [`Event::Play`] finished playing.
    pub fn handle_playback_finished(&mut self, now: Instant) {
        match &mut self.wait {
            Wait::Announcing => {
                self.wait = Wait::Running;
                self.run(now);
            }
            Wait::Gathering(g) if g.playing => match g.queued.pop_front() {
                Some(next) => play(&mut self.events, &self.vars, &next),
                None => {
                    g.playing = false;
                    if g.digits.is_empty() {
                        let first = g.spec.first_digit_timeout;
                        set_timer(&mut self.timers, Timer::FirstDigit, now, first);
                    } else {
                        let inter = g.spec.inter_digit_timeout;
                        set_timer(&mut self.timers, Timer::InterDigit, now, inter);
                    }
                }
            },
            // A late report (after a stop or a hang-up): nothing to do.
            _ => {}
        }
    }

    /// The answer to the last [`Event::Webhook`]: the body, or why the
    /// request failed. Answers that come when none is awaited are ignored.
    pub fn handle_webhook_response(&mut self, now: Instant, response: Result<&[u8], String>) {
        let Wait::Webhook { url } = &self.wait else {
            return;
        };
        let url = url.clone();
        self.timers.stop(Timer::Webhook);
        self.wait = Wait::Running;
        let script = response
            .map_err(WebhookError::Request)
            .and_then(parse_verbs)
            .and_then(|verbs| self.script(&url, verbs));
        match script {
            Ok(steps) => {
                self.steps = steps;
                self.run(now);
            }
            Err(error) => self.webhook_failed(now, url, error),
        }
    }

    /// The caller hung up.
    pub fn handle_hangup(&mut self, _now: Instant) {
        match &self.wait {
            Wait::Done => return,
            Wait::Announcing => self.events.push_back(Event::StopPlayback),
            Wait::Gathering(g) if g.playing => self.events.push_back(Event::StopPlayback),
            _ => {}
        }
        self.finish(FinishReason::CallerHangup);
    }

    /// Fires the timers whose deadline is at or before `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(timer) = self.timers.expired(now) {
            match (timer, &mut self.wait) {
                (Timer::FirstDigit, Wait::Gathering(g)) => {
                    let purpose = g.purpose.clone();
                    self.timers.stop(Timer::InterDigit);
                    self.wait = Wait::Running;
                    self.complete(now, purpose, Outcome::Timeout);
                }
                (Timer::InterDigit, Wait::Gathering(g)) => {
                    let purpose = g.purpose.clone();
                    let digits = std::mem::take(&mut g.digits);
                    self.wait = Wait::Running;
                    self.complete(now, purpose, Outcome::Entry(digits));
                }
                (Timer::Webhook, Wait::Webhook { url }) => {
                    let url = url.clone();
                    self.wait = Wait::Running;
                    self.webhook_failed(now, url, WebhookError::Timeout);
                }
                _ => {}
            }
        }
    }

    /// The next thing for the driver to do.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When to call [`Ivr::handle_timeout`] next.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    /// The session's variables.
    pub fn variables(&self) -> &Variables {
        &self.vars
    }

    /// Sets a session variable (see [`Variables::set`]).
    pub fn set_variable(&mut self, name: &str, value: impl Into<String>) {
        self.vars.set(name, value);
    }

    /// The menu the caller is in.
    pub fn current_menu(&self) -> Option<&str> {
        self.menu.as_deref()
    }

    /// Whether the session is over.
    pub fn is_finished(&self) -> bool {
        matches!(self.wait, Wait::Done)
    }

    /// Runs steps until one waits for the outside world.
    fn run(&mut self, now: Instant) {
        while matches!(self.wait, Wait::Running | Wait::Idle) {
            let Some(step) = self.steps.pop_front() else {
                self.hang_up(FinishReason::ScriptEnded);
                return;
            };
            match step {
                Step::Announce(prompt) => {
                    play(&mut self.events, &self.vars, &prompt);
                    self.wait = Wait::Announcing;
                }
                Step::Gather(mut g) => {
                    match g.queued.pop_front() {
                        Some(first) => {
                            play(&mut self.events, &self.vars, &first);
                            g.playing = true;
                        }
                        None => {
                            let first = g.spec.first_digit_timeout;
                            set_timer(&mut self.timers, Timer::FirstDigit, now, first);
                        }
                    }
                    self.wait = Wait::Gathering(g);
                }
                Step::Enter(menu_id, entry) => self.enter(menu_id, entry),
                Step::Back => match self.history.pop() {
                    Some(previous) => self.enter(previous, Entry::Fresh),
                    None => {
                        let current = self.menu.clone().unwrap_or_default();
                        self.enter(current, Entry::Again(None));
                    }
                },
                Step::SetVars(vars) => {
                    for (name, value) in vars {
                        self.vars.set(&name, value);
                    }
                }
                Step::Webhook { url, event, digits } => {
                    let payload = WebhookPayload {
                        event: event.to_string(),
                        menu_id: self.menu.clone(),
                        digits,
                        caller_id: self.vars.caller_id.clone(),
                        dialled_number: self.vars.dialled_number.clone(),
                        variables: self.vars.custom.clone(),
                    };
                    let payload = serde_json::to_value(&payload).unwrap_or_default();
                    self.events.push_back(Event::Webhook {
                        url: url.clone(),
                        payload,
                    });
                    let timeout = self.config.webhook_timeout;
                    set_timer(&mut self.timers, Timer::Webhook, now, timeout);
                    self.wait = Wait::Webhook { url };
                }
                Step::Transfer(target, reason) => {
                    self.events.push_back(Event::Transfer(target));
                    self.finish(reason);
                }
                Step::Hangup(reason) => self.hang_up(reason),
            }
        }
    }

    /// Enters a menu: queues a gather over its greeting.
    fn enter(&mut self, menu_id: String, entry: Entry) {
        let menus = Arc::clone(&self.menus);
        let Some(menu) = menus.get(&menu_id) else {
            // Only reachable with an empty current menu (`back` at the start
            // of a webhook-only session): nothing to return to.
            self.steps = VecDeque::from([Step::Hangup(FinishReason::ScriptEnded)]);
            return;
        };
        let lead = match entry {
            Entry::Push => {
                if let Some(current) = self.menu.take() {
                    if current != menu_id {
                        self.history.push(current);
                    }
                }
                self.reset_counters();
                None
            }
            Entry::Fresh => {
                self.reset_counters();
                None
            }
            Entry::Again(lead) => lead,
        };
        if self.menu.as_deref() != Some(menu_id.as_str()) {
            self.events.push_back(Event::MenuEntered {
                menu_id: menu_id.clone(),
            });
        }
        self.vars.menu_id = menu_id.clone();
        self.menu = Some(menu_id.clone());
        let prompts = lead.into_iter().chain([menu.greeting_prompt()]).collect();
        let gather = Gather::new(GatherSpec::for_menu(menu), Purpose::Menu(menu_id), prompts);
        self.steps.push_front(Step::Gather(gather));
    }

    fn reset_counters(&mut self) {
        self.failures = 0;
        self.timeouts = 0;
    }

    /// An entry is complete: decide what comes next.
    fn complete(&mut self, now: Instant, purpose: Purpose, outcome: Outcome) {
        match purpose {
            Purpose::Menu(menu_id) => {
                let menus = Arc::clone(&self.menus);
                let Some(menu) = menus.get(&menu_id) else {
                    self.hang_up(FinishReason::ScriptEnded);
                    return;
                };
                self.steps = match outcome {
                    Outcome::Timeout => {
                        self.timeouts += 1;
                        if self.timeouts >= menu.max_timeouts {
                            self.exit_steps(menu, FinishReason::MaxTimeouts)
                        } else {
                            VecDeque::from([Step::Enter(menu_id, Entry::Again(None))])
                        }
                    }
                    Outcome::Entry(digits) => {
                        self.vars.digits = digits.clone();
                        match menu.find(&digits) {
                            Some(option) => {
                                let mut steps: VecDeque<Step> =
                                    option.say.clone().map(Step::Announce).into_iter().collect();
                                steps.extend(self.action_steps(&option.action, digits, None));
                                steps
                            }
                            None => {
                                self.failures += 1;
                                if self.failures >= menu.max_failures {
                                    self.exit_steps(menu, FinishReason::MaxFailures)
                                } else {
                                    let invalid = Some(menu.invalid_prompt.clone());
                                    VecDeque::from([Step::Enter(menu_id, Entry::Again(invalid))])
                                }
                            }
                        }
                    }
                };
            }
            Purpose::Hook(url) => match outcome {
                Outcome::Entry(digits) => {
                    self.vars.digits = digits.clone();
                    self.steps = VecDeque::from([Step::Webhook {
                        url,
                        event: "gather",
                        digits,
                    }]);
                }
                // TwiML: no input goes on with the next verb.
                Outcome::Timeout => self.vars.digits.clear(),
            },
        }
        self.run(now);
    }

    /// The steps of an action. `exit` is the finish reason when the action
    /// ends a menu that ran out of tries.
    fn action_steps(
        &self,
        action: &Action,
        digits: String,
        exit: Option<FinishReason>,
    ) -> Vec<Step> {
        let current = self.menu.clone().unwrap_or_default();
        match action {
            Action::Submenu(id) => vec![Step::Enter(id.clone(), Entry::Push)],
            Action::Back => vec![Step::Back],
            Action::Repeat if exit.is_some() => vec![Step::Enter(current, Entry::Fresh)],
            Action::Repeat => vec![Step::Enter(current, Entry::Again(None))],
            Action::Transfer(target) => vec![Step::Transfer(
                target.clone(),
                exit.unwrap_or(FinishReason::Transferred),
            )],
            Action::Hangup => vec![Step::Hangup(exit.unwrap_or(FinishReason::HungUp))],
            Action::Webhook { url } => vec![Step::Webhook {
                url: url.clone(),
                event: "option",
                digits,
            }],
        }
    }

    fn exit_steps(&self, menu: &Menu, reason: FinishReason) -> VecDeque<Step> {
        let mut steps = VecDeque::from([Step::Announce(menu.exit_prompt.clone())]);
        steps.extend(self.action_steps(&menu.on_exit, self.vars.digits.clone(), Some(reason)));
        steps
    }

    /// Turns a webhook answer into steps.
    fn script(&self, url: &str, verbs: Vec<Verb>) -> Result<VecDeque<Step>, WebhookError> {
        let mut steps = VecDeque::new();
        for verb in verbs {
            let end = match verb {
                Verb::Say { text, voice } => Some(Step::Announce(Prompt::Tts { text, voice })),
                Verb::Play { file } => Some(Step::Announce(Prompt::file(file))),
                Verb::Gather(g) => Some(Step::Gather(gather_verb(url, g))),
                Verb::Set { variables } => Some(Step::SetVars(variables)),
                Verb::Transfer(t) => {
                    steps.push_back(Step::Transfer(t.target, FinishReason::Transferred));
                    None
                }
                Verb::Hangup => {
                    steps.push_back(Step::Hangup(FinishReason::HungUp));
                    None
                }
                Verb::Goto { menu } => {
                    if !self.menus.contains(&menu) {
                        return Err(WebhookError::UnknownMenu(menu));
                    }
                    steps.push_back(Step::Enter(menu, Entry::Push));
                    None
                }
                Verb::Redirect { url } => {
                    steps.push_back(Step::Webhook {
                        url,
                        event: "redirect",
                        digits: String::new(),
                    });
                    None
                }
            };
            match end {
                Some(step) => steps.push_back(step),
                None => return Ok(steps),
            }
        }
        steps.push_back(Step::Hangup(FinishReason::ScriptEnded));
        Ok(steps)
    }

    /// A webhook failed: say so, then back to the menu (a failure there), or
    /// hang up when there is no menu.
    fn webhook_failed(&mut self, now: Instant, url: String, error: WebhookError) {
        self.events.push_back(Event::WebhookFailed { url, error });
        let menus = Arc::clone(&self.menus);
        let menu = self.menu.as_deref().and_then(|id| menus.get(id));
        let sorry = Step::Announce(self.config.webhook_failure_prompt.clone());
        self.steps = match menu {
            Some(menu) => {
                self.failures += 1;
                if self.failures >= menu.max_failures {
                    self.exit_steps(menu, FinishReason::MaxFailures)
                } else {
                    let again = Step::Enter(menu.menu_id.clone(), Entry::Again(None));
                    VecDeque::from([sorry, again])
                }
            }
            None => VecDeque::from([sorry, Step::Hangup(FinishReason::WebhookFailed)]),
        };
        self.run(now);
    }

    fn hang_up(&mut self, reason: FinishReason) {
        self.events.push_back(Event::Hangup);
        self.finish(reason);
    }

    fn finish(&mut self, reason: FinishReason) {
        self.wait = Wait::Done;
        self.steps.clear();
        self.timers.stop_all();
        self.events.push_back(Event::Finished { reason });
    }
}

fn gather_verb(url: &str, g: GatherVerb) -> Gather {
    let spec = GatherSpec {
        max_digits: g.num_digits.max(1),
        terminator: g.terminator(),
        first_digit_timeout: g.first_digit_timeout(),
        inter_digit_timeout: g.inter_digit_timeout(),
        barge_in: g.barge_in,
    };
    let prompts = g.prompts();
    let hook = g.action_hook.unwrap_or_else(|| url.to_string());
    Gather::new(spec, Purpose::Hook(hook), prompts)
}

fn play(events: &mut VecDeque<Event>, vars: &Variables, prompt: &Prompt) {
    events.push_back(Event::Play(prompt.interpolate(|name| vars.get(name))));
}

/// Sets a timer `after` from `now`; a deadline past the end of `Instant`'s
/// range means "never".
fn set_timer(timers: &mut TimerTable, timer: Timer, now: Instant, after: Duration) {
    match now.checked_add(after) {
        Some(at) => timers.set(timer, at),
        None => timers.stop(timer),
    }
}
