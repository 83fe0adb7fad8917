//! voip-ivr: an IVR state machine, webhook applications, and text-to-speech
//! engines with a cache.
//!
//! # The IVR machine
//!
//! [`Ivr`] is a sans-IO core: it never reads the clock, opens a socket or
//! renders audio. The driver (one task per call) owns the media session and
//! an HTTP client, feeds the machine its inputs with the current time, and
//! carries out the events it emits:
//!
//! ```no_run
//! use std::sync::Arc;
//! use std::time::Instant;
//! use voip_ivr::{Event, InMemoryMenuStore, Ivr, IvrConfig, MenuStore, Variables};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let menus = Arc::new(InMemoryMenuStore::seed().menu_set()?);
//! let mut ivr = Ivr::new(IvrConfig::default(), menus, Variables::new("1001", "9999"));
//! ivr.start_menu(Instant::now(), "main")?;
//! loop {
//!     while let Some(event) = ivr.poll_event() {
//!         match event {
//!             Event::Play(prompt) => { /* render (tts cache) and play; later:
//!                 ivr.handle_playback_finished(Instant::now()) */ }
//!             Event::StopPlayback => { /* stop the media source */ }
//!             Event::Transfer(target) => { /* hand the call to the router */ }
//!             Event::Hangup => { /* send BYE */ }
//!             Event::Webhook { url, payload } => { /* POST on a task; later:
//!                 ivr.handle_webhook_response(Instant::now(), Ok(body)) */ }
//!             Event::Finished { reason } => return Ok(()),
//!             _ => {}
//!         }
//!     }
//!     // select! { key = dtmf => ivr.handle_digit(now, key),
//!     //           _ = playback_done => ivr.handle_playback_finished(now),
//!     //           _ = bye => ivr.handle_hangup(now),
//!     //           _ = sleep_until(ivr.poll_timeout()) => ivr.handle_timeout(now) }
//! #   break;
//! }
//! # Ok(())
//! # }
//! ```
//!
//! Time: every input takes `now`; [`Ivr::poll_timeout`] gives the next
//! deadline ([`Timer`] names them). Tests drive an hour of timeouts in
//! microseconds.
//!
//! Panics: none on any input. Webhook answers are parsed and refused with an
//! error ([`webhook::WebhookError`]), which takes the failure path.
//!
//! # Text to speech
//!
//! [`tts`] holds the [`tts::TtsEngine`] trait and engines (Piper through ONNX
//! Runtime, espeak-ng, the seed's HTTP service, tones for tests), a WAV cache
//! keyed by a hash of what was rendered, and, with the `http` feature, the
//! seed's TTS HTTP API as an axum router.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod machine;
pub mod menu;
pub mod prompt;
pub mod tts;
pub mod vars;
pub mod webhook;

pub use machine::{Event, FinishReason, Ivr, IvrConfig, IvrError, Timer};
pub use menu::{
    Action, InMemoryMenuStore, Menu, MenuError, MenuOption, MenuSet, MenuStore, Target,
};
pub use prompt::Prompt;
pub use vars::Variables;
