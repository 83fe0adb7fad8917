//! The IVR "media server" inside the reference server (FreeSWITCH and the
//! Drachtio IVR app of the seed): calls to the IVR extension (`9999`) are
//! proxied, after the caller's digest authentication, to a SIP user agent
//! on a loopback socket of its own, which answers, speaks the menu's
//! prompts (Piper through the TTS cache, espeak-ng when Piper is missing),
//! takes keys (RFC 4733, SIP INFO, in-band tones), and transfers the caller
//! to an agent of a group by calling the agent through the proxy and
//! relaying RTP between the two. See docs/ivr-server.md.
//!
//! | file | what |
//! |---|---|
//! | [`config`] | `[ivr]` and `[[groups]]` |
//! | [`groups`] | agent selection: round-robin, longest-idle, fewest-calls, ring-all |
//! | [`queue`] | callers waiting for a group's agents |
//! | [`hold_music`] | what a waiting caller hears |
//! | [`menus`] | menus from `ivr_menus`/`ivr_menu_options`, reloaded on change |
//! | [`server`] | the UA, the IVR machines, prompts |
//! | `server/transfer` | ringing agents, the queue, the bridge |
//! | [`media`] | per-call RTP: key detection, the bridge |
//! | [`clock`] | one 20 ms clock sending every call's prompt RTP |
//! | [`rtp`] | PCMU packetizer, RTP header reading, the port pool |
//! | [`webhook`] | the webhook action's HTTP client |
//! | [`recording`] | recording the calls that go through the IVR |
//! | [`agents_table`] | the `agents` table writer |

pub mod agents_table;
pub mod clock;
pub mod config;
pub mod groups;
pub mod hold_music;
pub mod media;
pub mod menus;
pub mod queue;
pub mod recording;
pub mod rtp;
pub mod server;
pub mod webhook;

pub use agents_table::{AgentRow, AgentWriter};

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::UdpSocket;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use voip_ivr::Prompt;
use voip_ivr::tts::TtsCache;

use crate::error::Error;
use crate::store::Store;
use config::IvrSettings;
use server::{BUSY_PROMPT, IvrParts, IvrServer, QUEUE_PROMPT};

/// Binds the IVR's SIP socket (before the proxy starts, which must know it).
pub async fn bind(settings: &IvrSettings) -> Result<(UdpSocket, SocketAddr), Error> {
    let socket = UdpSocket::bind(settings.sip)
        .await
        .map_err(|source| Error::Listen {
            what: "IVR SIP",
            flag: "[ivr] sip",
            addr: settings.sip,
            source,
        })?;
    let addr = socket
        .local_addr()
        .map_err(|error| Error::Internal(format!("cannot read the IVR address: {error}")))?;
    Ok((socket, addr))
}

/// What [`start`] needs besides the settings.
#[derive(Debug)]
pub struct Start {
    /// The bound IVR socket.
    pub socket: UdpSocket,
    /// The SIP domain.
    pub domain: String,
    /// The proxy's UDP listener.
    pub proxy: SocketAddr,
    /// The database (the `agents` table).
    pub store: Store,
    /// Registered group members, kept by the SIP driver.
    pub registered: watch::Receiver<BTreeSet<String>>,
    /// Display names of the extensions.
    pub names: HashMap<String, String>,
    /// Outbound prefixes of the trunks, by trunk name.
    pub trunks: HashMap<String, String>,
    /// The CDR writer.
    pub cdr: crate::store::cdr::CdrSender,
    /// `[recording]` (used when enabled).
    pub recording: crate::media::recording::RecordingSettings,
    /// Turns true at shutdown.
    pub shutdown: watch::Receiver<bool>,
    /// The prompt cache (shared with the TTS API), see [`open_tts`].
    pub tts: Arc<TtsCache>,
}

/// Opens the TTS cache in `dir` over the best engine installed (Piper,
/// else espeak-ng with a warning naming what to install).
pub fn open_tts(dir: &std::path::Path) -> Result<Arc<TtsCache>, Error> {
    let engine = voip_ivr::tts::fallback();
    let tts = TtsCache::open(dir, engine).map_err(|error| {
        Error::Config(format!(
            "cannot open the TTS cache {}: {error} (set [ivr] tts_cache to a writable directory)",
            dir.display()
        ))
    })?;
    Ok(Arc::new(tts))
}

/// Loads the menus from the database (writing the seed's menu into an
/// empty one), opens the TTS cache (prompts are pre-rendered at 8 kHz in
/// the background), starts the menu reload and the IVR server.
pub async fn start(settings: IvrSettings, start: Start) -> Result<JoinHandle<()>, Error> {
    let (rows, menus) = menus::load(&start.store, &settings.menu).await?;
    let menus = Arc::new(menus);
    let tts = start.tts;
    let hold = hold_music::load(settings.hold_music.as_deref()).map_err(Error::Config)?;
    tracing::info!(
        extension = %settings.extension,
        engine = tts.engine().name(),
        rtp = ?settings.rtp_ports,
        menus = menus.len(),
        "ivr enabled"
    );
    menus::prerender(tts.clone(), menus.clone());
    {
        let tts = tts.clone();
        tokio::task::spawn_blocking(move || {
            for text in [BUSY_PROMPT, QUEUE_PROMPT] {
                if let Some(Err(error)) = tts.render_prompt(&Prompt::tts(text), Some(8000)) {
                    tracing::warn!(%error, text, "ivr prompt not pre-rendered");
                }
            }
        });
    }
    let (menus_tx, menus_rx) = watch::channel(menus);
    menus::spawn_reload(
        start.store.clone(),
        settings.menu.clone(),
        rows,
        settings.menu_reload,
        tts.clone(),
        menus_tx,
    );
    let server = IvrServer::new(IvrParts {
        settings,
        domain: start.domain,
        socket: start.socket,
        proxy: start.proxy,
        menus: menus_rx,
        tts,
        hold,
        registered: start.registered,
        writer: AgentWriter::spawn(start.store),
        names: start.names,
        trunks: start.trunks,
        cdr: Some(start.cdr),
        recording: Some(start.recording).filter(|r| r.enabled),
    })
    .map_err(Error::Internal)?;
    Ok(tokio::spawn(server.run(start.shutdown)))
}
