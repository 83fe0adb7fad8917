//! Scenario tests of the IVR machine in virtual time.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use super::*;
use crate::menu::{MenuOption, seed_menus};

const WELCOME: &str =
    "Welcome to our service. Press 1 for sales, 2 for support, or 0 to hear these options again.";
const INVALID: &str = "Sorry, that is not a valid option.";
const EXIT: &str = "Sorry, we could not process your selection. Goodbye.";
const SORRY: &str = "Sorry, we could not complete your request.";

struct Call {
    ivr: Ivr,
    now: Instant,
}

impl Call {
    fn new(menus: Vec<Menu>) -> Call {
        let set = Arc::new(MenuSet::new(menus).unwrap());
        let ivr = Ivr::new(IvrConfig::default(), set, Variables::new("1001", "9999"));
        Call {
            ivr,
            now: Instant::now(),
        }
    }

    fn seed() -> Call {
        let mut call = Call::new(seed_menus());
        call.ivr.start_menu(call.now, "main").unwrap();
        call
    }

    fn events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.ivr.poll_event()).collect()
    }

    /// Moves the clock; fires timers that came due, as a driver would.
    fn advance(&mut self, by: Duration) {
        let end = self.now + by;
        while let Some(at) = self.ivr.poll_timeout().filter(|at| *at <= end) {
            self.now = at;
            self.ivr.handle_timeout(at);
        }
        self.now = end;
    }

    fn key(&mut self, key: char) {
        self.ivr.handle_digit(self.now, key);
    }

    fn keys(&mut self, keys: &str) {
        for k in keys.chars() {
            self.advance(Duration::from_millis(300));
            self.key(k);
        }
    }

    fn finished(&mut self) {
        self.advance(Duration::from_secs(3));
        self.ivr.handle_playback_finished(self.now);
    }

    fn webhook(&mut self, body: Result<&str, &str>) {
        let body = body.map(str::as_bytes).map_err(str::to_string);
        self.ivr.handle_webhook_response(self.now, body);
    }
}

fn play(text: &str) -> Event {
    Event::Play(Prompt::tts(text))
}

fn finished(reason: FinishReason) -> Event {
    Event::Finished { reason }
}

fn entered(id: &str) -> Event {
    Event::MenuEntered { menu_id: id.into() }
}

fn group(name: &str) -> Event {
    Event::Transfer(Target::Group(name.into()))
}

#[test]
fn greeting_then_valid_key_transfers_to_sales() {
    let mut call = Call::seed();
    assert_eq!(call.events(), vec![entered("main"), play(WELCOME)]);
    assert_eq!(
        call.ivr.poll_timeout(),
        None,
        "no timer while the greeting plays"
    );
    call.finished();
    assert_eq!(
        call.ivr.poll_timeout(),
        Some(call.now + Duration::from_secs(10))
    );
    call.advance(Duration::from_secs(2));
    call.key('1');
    assert_eq!(call.events(), vec![play("Transferring to sales")]);
    assert_eq!(call.ivr.poll_timeout(), None);
    call.key('2'); // ignored while announcing
    call.finished();
    assert_eq!(
        call.events(),
        vec![group("sales"), finished(FinishReason::Transferred)]
    );
    assert!(call.ivr.is_finished());
    assert_eq!(call.ivr.variables().digits, "1");
}

#[test]
fn barge_in_stops_the_greeting() {
    let mut call = Call::seed();
    call.events();
    call.advance(Duration::from_secs(1));
    call.key('2');
    assert_eq!(
        call.events(),
        vec![Event::StopPlayback, play("Transferring to support")]
    );
    // A late report for the stopped greeting must not skip the announcement:
    // the driver does not report stopped prompts; the next report is for it.
    call.finished();
    assert_eq!(
        call.events(),
        vec![group("support"), finished(FinishReason::Transferred)]
    );
}

#[test]
fn zero_repeats_the_greeting_without_counting() {
    let mut call = Call::seed();
    call.events();
    call.finished();
    for _ in 0..5 {
        call.key('0');
        assert_eq!(call.events(), vec![play(WELCOME)]);
        call.finished();
    }
    assert!(!call.ivr.is_finished());
}

#[test]
fn invalid_key_says_so_and_replays_then_exits_after_three() {
    let mut call = Call::seed();
    call.events();
    call.finished();
    call.key('7');
    assert_eq!(call.events(), vec![play(INVALID)]);
    // The invalid prompt and greeting accept barge-in too.
    call.key('9');
    assert_eq!(call.events(), vec![Event::StopPlayback, play(INVALID)]);
    call.finished();
    assert_eq!(call.events(), vec![play(WELCOME)]);
    call.finished();
    call.key('*');
    assert_eq!(call.events(), vec![play(EXIT)]);
    call.finished();
    assert_eq!(
        call.events(),
        vec![Event::Hangup, finished(FinishReason::MaxFailures)]
    );
}

#[test]
fn timeouts_replay_then_exit() {
    let mut call = Call::seed();
    call.events();
    call.finished();
    call.advance(Duration::from_millis(9_999));
    assert!(call.events().is_empty());
    call.advance(Duration::from_millis(1));
    assert_eq!(call.events(), vec![play(WELCOME)], "timeout 1 replays");
    call.finished();
    call.advance(Duration::from_secs(10));
    assert_eq!(call.events(), vec![play(WELCOME)], "timeout 2 replays");
    call.finished();
    call.advance(Duration::from_secs(10));
    assert_eq!(call.events(), vec![play(EXIT)], "timeout 3 exits");
    call.finished();
    assert_eq!(
        call.events(),
        vec![Event::Hangup, finished(FinishReason::MaxTimeouts)]
    );
    assert_eq!(call.ivr.poll_timeout(), None);
}

#[test]
fn exit_action_can_transfer_to_an_operator() {
    let mut menu = seed_menus().remove(0).limits(1, 1);
    menu.on_exit = Action::Transfer(Target::Extension("1000".into()));
    let mut call = Call::new(vec![menu]);
    call.ivr.start_menu(call.now, "main").unwrap();
    call.events();
    call.finished();
    call.key('5');
    assert_eq!(call.events(), vec![play(EXIT)]);
    call.finished();
    assert_eq!(
        call.events(),
        vec![
            Event::Transfer(Target::Extension("1000".into())),
            finished(FinishReason::MaxFailures)
        ]
    );
}

#[test]
fn hang_up_mid_prompt_stops_playback() {
    let mut call = Call::seed();
    call.events();
    call.ivr.handle_hangup(call.now);
    assert_eq!(
        call.events(),
        vec![Event::StopPlayback, finished(FinishReason::CallerHangup)]
    );
    // Everything after is ignored.
    call.key('1');
    call.finished();
    call.ivr.handle_hangup(call.now);
    call.advance(Duration::from_secs(60));
    assert!(call.events().is_empty());
    assert_eq!(call.ivr.poll_timeout(), None);
}

#[test]
fn hang_up_while_waiting_for_keys() {
    let mut call = Call::seed();
    call.events();
    call.finished();
    call.ivr.handle_hangup(call.now);
    assert_eq!(call.events(), vec![finished(FinishReason::CallerHangup)]);
}

fn account_menus() -> Vec<Menu> {
    vec![
        Menu::new("main", "Main", "Press 9 for accounts")
            .option(MenuOption::new("9", Action::Submenu("accounts".into())))
            .option(MenuOption::new("8", Action::Hangup)),
        Menu::new("accounts", "Accounts", "Enter your account, then hash")
            .digits(4, Some('#'))
            .timeouts(Duration::from_secs(5), Duration::from_secs(2))
            .option(MenuOption::new(
                "1234",
                Action::Transfer(Target::Extension("1001".into())),
            ))
            .option(MenuOption::new(
                "12",
                Action::Transfer(Target::Extension("1002".into())),
            ))
            .option(MenuOption::new("*", Action::Back)),
    ]
}

fn in_accounts() -> Call {
    let mut call = Call::new(account_menus());
    call.ivr.start_menu(call.now, "main").unwrap();
    call.events();
    call.key('9');
    assert_eq!(
        call.events(),
        vec![
            Event::StopPlayback,
            entered("accounts"),
            play("Enter your account, then hash")
        ]
    );
    assert_eq!(call.ivr.current_menu(), Some("accounts"));
    call.finished();
    call
}

#[test]
fn multi_digit_entry_with_terminator() {
    let mut call = in_accounts();
    call.keys("12");
    // "12" is an option but "1234" is longer: keep collecting.
    assert!(call.events().is_empty());
    assert_eq!(
        call.ivr.poll_timeout(),
        Some(call.now + Duration::from_secs(2))
    );
    call.keys("#");
    assert_eq!(
        call.events(),
        vec![
            Event::Transfer(Target::Extension("1002".into())),
            finished(FinishReason::Transferred)
        ]
    );
}

#[test]
fn multi_digit_entry_completes_at_full_length() {
    let mut call = in_accounts();
    call.keys("1234");
    assert_eq!(
        call.events(),
        vec![
            Event::Transfer(Target::Extension("1001".into())),
            finished(FinishReason::Transferred)
        ]
    );
    assert_eq!(call.ivr.variables().digits, "1234");
}

#[test]
fn inter_digit_timeout_ends_the_entry() {
    let mut call = in_accounts();
    call.keys("1");
    call.advance(Duration::from_millis(1_999));
    assert!(call.events().is_empty());
    call.advance(Duration::from_millis(1));
    // "1" is not an option: invalid, and the menu starts again.
    assert_eq!(call.events(), vec![play(INVALID)]);
    call.finished();
    assert_eq!(call.events(), vec![play("Enter your account, then hash")]);
    call.finished();
    call.keys("12");
    call.advance(Duration::from_secs(2));
    assert_eq!(
        call.events(),
        vec![
            Event::Transfer(Target::Extension("1002".into())),
            finished(FinishReason::Transferred)
        ]
    );
}

#[test]
fn a_key_no_option_starts_with_fails_at_once() {
    let mut call = in_accounts();
    call.keys("5");
    assert_eq!(call.events(), vec![play(INVALID)]);
    // The terminator alone is an empty, invalid entry.
    call.key('#');
    assert_eq!(call.events(), vec![Event::StopPlayback, play(INVALID)]);
}

#[test]
fn submenu_and_back() {
    let mut call = in_accounts();
    call.keys("*");
    assert_eq!(
        call.events(),
        vec![entered("main"), play("Press 9 for accounts")]
    );
    assert_eq!(call.ivr.current_menu(), Some("main"));
    // Back at the top repeats the top menu.
    let mut menus = account_menus();
    menus[0].options.push(MenuOption::new("*", Action::Back));
    let mut top = Call::new(menus);
    top.ivr.start_menu(top.now, "main").unwrap();
    top.events();
    top.finished();
    top.key('*');
    assert_eq!(top.events(), vec![play("Press 9 for accounts")]);
}

#[test]
fn counters_reset_in_a_new_menu() {
    let mut call = in_accounts();
    call.keys("5");
    call.finished();
    call.finished();
    call.keys("5");
    call.finished();
    call.finished();
    call.keys("*");
    call.events();
    call.finished();
    // Two failures in "accounts" do not count in "main".
    call.key('7');
    assert_eq!(call.events(), vec![play(INVALID)]);
}

fn webhook_menus() -> Vec<Menu> {
    vec![
        Menu::new("main", "Main", "Press 3 for your balance")
            .option(MenuOption::new(
                "3",
                Action::Webhook {
                    url: "http://127.0.0.1:9/balance".into(),
                },
            ))
            .option(MenuOption::new("1", Action::Hangup)),
        Menu::new("other", "Other", "Other menu"),
    ]
}

fn at_webhook() -> Call {
    let mut call = Call::new(webhook_menus());
    call.ivr.set_variable("account", "42");
    call.ivr.start_menu(call.now, "main").unwrap();
    call.events();
    call.finished();
    call.key('3');
    let events = call.events();
    assert_eq!(
        events,
        vec![Event::Webhook {
            url: "http://127.0.0.1:9/balance".into(),
            payload: json!({
                "event": "option", "menu_id": "main", "digits": "3",
                "caller_id": "1001", "dialled_number": "9999",
                "variables": {"account": "42"}
            }),
        }]
    );
    assert_eq!(
        call.ivr.poll_timeout(),
        Some(call.now + Duration::from_secs(10))
    );
    call
}

#[test]
fn webhook_success_runs_the_verbs() {
    let mut call = at_webhook();
    call.advance(Duration::from_millis(150));
    call.webhook(Ok(r#"[
        {"verb":"set","variables":{"balance":"17"}},
        {"verb":"say","text":"Account ${account} has ${balance} dollars."},
        {"verb":"play","file":"/p/beep.wav"},
        {"verb":"transfer","group":"billing"},
        {"verb":"say","text":"never"}
    ]"#));
    assert_eq!(call.ivr.poll_timeout(), None);
    assert_eq!(call.events(), vec![play("Account 42 has 17 dollars.")]);
    call.key('1'); // no barge-in on say
    call.finished();
    assert_eq!(
        call.events(),
        vec![Event::Play(Prompt::file("/p/beep.wav"))]
    );
    call.finished();
    assert_eq!(
        call.events(),
        vec![group("billing"), finished(FinishReason::Transferred)]
    );
    // A late second answer is ignored.
    call.webhook(Ok("[]"));
    assert!(call.events().is_empty());
}

#[test]
fn webhook_gather_posts_keys_and_script_end_hangs_up() {
    let mut call = at_webhook();
    call.webhook(Ok(r#"[{"verb":"gather","num_digits":4,"timeout":5,
        "inter_digit_timeout":2,"say":"Enter your PIN"}]"#));
    assert_eq!(call.events(), vec![play("Enter your PIN")]);
    call.key('4'); // barge-in
    assert_eq!(call.events(), vec![Event::StopPlayback]);
    call.keys("56#");
    let events = call.events();
    let [Event::Webhook { url, payload }] = events.as_slice() else {
        panic!("{events:?}");
    };
    assert_eq!(
        url, "http://127.0.0.1:9/balance",
        "default hook: the same URL"
    );
    assert_eq!(payload["event"], "gather");
    assert_eq!(payload["digits"], "456");
    call.webhook(Ok(r#"{"verbs":[{"verb":"say","text":"Thanks"}]}"#));
    assert_eq!(call.events(), vec![play("Thanks")]);
    call.finished();
    assert_eq!(
        call.events(),
        vec![Event::Hangup, finished(FinishReason::ScriptEnded)]
    );
}

#[test]
fn webhook_gather_timeout_goes_on_with_the_next_verb() {
    let mut call = at_webhook();
    call.webhook(Ok(
        r#"[{"verb":"gather","timeout":3,"action_hook":"http://127.0.0.1:9/pin"},
        {"verb":"goto","menu":"other"}]"#,
    ));
    assert!(call.events().is_empty());
    call.advance(Duration::from_secs(3));
    assert_eq!(call.events(), vec![entered("other"), play("Other menu")]);
    assert_eq!(call.ivr.current_menu(), Some("other"));
}

#[test]
fn webhook_gather_to_its_action_hook() {
    let mut call = at_webhook();
    call.webhook(Ok(
        r#"[{"verb":"gather","numDigits":2,"actionHook":"http://127.0.0.1:9/pin"}]"#,
    ));
    call.keys("77");
    let events = call.events();
    assert!(
        matches!(events.as_slice(), [Event::Webhook { url, .. }] if url == "http://127.0.0.1:9/pin"),
        "{events:?}"
    );
    call.webhook(Ok(r#"[{"verb":"hangup"}]"#));
    assert_eq!(
        call.events(),
        vec![Event::Hangup, finished(FinishReason::HungUp)]
    );
}

fn failed(error: WebhookError) -> Event {
    Event::WebhookFailed {
        url: "http://127.0.0.1:9/balance".into(),
        error,
    }
}

#[test]
fn webhook_failure_returns_to_the_menu() {
    let mut call = at_webhook();
    call.webhook(Err("connection refused"));
    assert_eq!(
        call.events(),
        vec![
            failed(WebhookError::Request("connection refused".into())),
            play(SORRY)
        ]
    );
    call.finished();
    assert_eq!(call.events(), vec![play("Press 3 for your balance")]);
    call.finished();
    call.key('3');
    call.events();
    call.webhook(Ok("{not json"));
    let events = call.events();
    assert!(matches!(
        &events[0],
        Event::WebhookFailed {
            error: WebhookError::Invalid(_),
            ..
        }
    ));
    assert_eq!(events[1], play(SORRY));
    call.finished();
    call.finished();
    // The third failure (a timeout) exhausts the menu's tries.
    call.key('3');
    call.events();
    call.advance(Duration::from_secs(10));
    assert_eq!(
        call.events(),
        vec![failed(WebhookError::Timeout), play(EXIT)]
    );
    call.finished();
    assert_eq!(
        call.events(),
        vec![Event::Hangup, finished(FinishReason::MaxFailures)]
    );
}

#[test]
fn webhook_goto_unknown_menu_is_a_failure() {
    let mut call = at_webhook();
    call.webhook(Ok(r#"[{"verb":"goto","menu":"nowhere"}]"#));
    assert_eq!(
        call.events(),
        vec![
            failed(WebhookError::UnknownMenu("nowhere".into())),
            play(SORRY)
        ]
    );
}

#[test]
fn webhook_first_session_and_redirect() {
    let mut call = Call::new(webhook_menus());
    call.ivr
        .start_webhook(call.now, "http://127.0.0.1:9/start")
        .unwrap();
    assert!(call.ivr.start_menu(call.now, "main").is_err());
    let events = call.events();
    assert!(matches!(&events[..], [Event::Webhook { payload, .. }] if payload["event"] == "start"));
    call.webhook(Ok(
        r#"[{"verb":"redirect","url":"http://127.0.0.1:9/next"}]"#,
    ));
    let events = call.events();
    assert!(
        matches!(&events[..], [Event::Webhook { url, payload }]
            if url == "http://127.0.0.1:9/next" && payload["event"] == "redirect"),
        "{events:?}"
    );
    // Without a menu to go back to, a failure hangs up after the apology.
    call.webhook(Err("503"));
    assert_eq!(
        call.events(),
        vec![
            Event::WebhookFailed {
                url: "http://127.0.0.1:9/next".into(),
                error: WebhookError::Request("503".into())
            },
            play(SORRY)
        ]
    );
    call.finished();
    assert_eq!(
        call.events(),
        vec![Event::Hangup, finished(FinishReason::WebhookFailed)]
    );
}

#[test]
fn start_errors_and_ignored_input() {
    let mut call = Call::new(seed_menus());
    assert_eq!(
        call.ivr.start_menu(call.now, "nope"),
        Err(IvrError::UnknownMenu("nope".into()))
    );
    // Before start, inputs do nothing.
    call.key('1');
    call.finished();
    call.advance(Duration::from_secs(100));
    call.webhook(Ok("[]"));
    assert!(call.events().is_empty());
    call.ivr.start_menu(call.now, "main").unwrap();
    assert_eq!(
        call.ivr.start_menu(call.now, "main"),
        Err(IvrError::AlreadyStarted)
    );
    call.events();
    call.key('x'); // not DTMF
    call.key('\u{0}');
    assert!(call.events().is_empty());
}

#[test]
fn no_barge_in_menu_ignores_keys_during_the_greeting() {
    let mut menu = seed_menus().remove(0);
    menu.barge_in = false;
    let mut call = Call::new(vec![menu]);
    call.ivr.start_menu(call.now, "main").unwrap();
    call.events();
    call.key('1');
    assert!(call.events().is_empty());
    call.finished();
    call.key('2');
    assert_eq!(call.events(), vec![play("Transferring to support")]);
}

#[test]
fn huge_timeouts_never_fire_and_never_panic() {
    let menu = seed_menus().remove(0).timeouts(
        Duration::from_millis(u64::MAX),
        Duration::from_millis(u64::MAX),
    );
    let mut call = Call::new(vec![menu]);
    call.ivr.start_menu(call.now, "main").unwrap();
    call.events();
    call.finished();
    // Either past the clock's range ("never") or far away; nothing fires.
    call.advance(Duration::from_secs(86_400 * 365));
    assert!(call.events().is_empty());
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Input {
        Key(char),
        Finished,
        Advance(u64),
        Answer(String),
        Fail,
        Hangup,
    }

    fn input() -> impl Strategy<Value = Input> {
        let answers = prop_oneof![
            Just(r#"[{"verb":"say","text":"x"},{"verb":"gather","num_digits":2}]"#.to_string()),
            Just(r#"[{"verb":"goto","menu":"accounts"}]"#.to_string()),
            Just(r#"[{"verb":"redirect","url":"http://127.0.0.1:9/r"}]"#.to_string()),
            Just(r#"[{"verb":"set","variables":{"a":"b"}}]"#.to_string()),
            ".{0,40}",
        ];
        prop_oneof![
            4 => prop::sample::select(vec!['0', '1', '2', '3', '5', '9', '*', '#', 'A', 'x']).prop_map(Input::Key),
            3 => Just(Input::Finished),
            3 => (0u64..15_000).prop_map(Input::Advance),
            1 => answers.prop_map(Input::Answer),
            1 => Just(Input::Fail),
            1 => Just(Input::Hangup),
        ]
    }

    proptest! {
        /// Any input sequence: no panic, prompts never overlap, nothing
        /// after `Finished`, no timer once finished.
        #[test]
        fn any_inputs_are_safe(inputs in prop::collection::vec(input(), 0..60)) {
            let mut menus = account_menus();
            menus.extend(webhook_menus().into_iter().map(|mut m| {
                m.menu_id = format!("w{}", m.menu_id);
                m
            }));
            menus[0].options.push(MenuOption::new("3", Action::Submenu("wmain".into())));
            let mut call = Call::new(menus);
            call.ivr.start_menu(call.now, "main").unwrap();
            let mut playing = false;
            let mut finished = false;
            for input in inputs {
                match input {
                    Input::Key(k) => call.key(k),
                    Input::Finished => {
                        if playing {
                            playing = false;
                            call.ivr.handle_playback_finished(call.now);
                        }
                    }
                    Input::Advance(ms) => call.advance(Duration::from_millis(ms)),
                    Input::Answer(body) => call.webhook(Ok(&body)),
                    Input::Fail => call.webhook(Err("boom")),
                    Input::Hangup => call.ivr.handle_hangup(call.now),
                }
                for event in call.events() {
                    prop_assert!(!finished, "event after Finished: {event:?}");
                    match event {
                        Event::Play(_) => {
                            prop_assert!(!playing, "overlapping prompts");
                            playing = true;
                        }
                        Event::StopPlayback => {
                            prop_assert!(playing);
                            playing = false;
                        }
                        Event::Finished { .. } => finished = true,
                        _ => {}
                    }
                }
                if finished {
                    prop_assert_eq!(call.ivr.poll_timeout(), None);
                    prop_assert!(call.ivr.is_finished());
                }
            }
        }
    }
}
