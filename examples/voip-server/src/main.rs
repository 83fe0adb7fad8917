//! `voip-server`: the reference server. Binds the SIP listeners and the HTTP
//! endpoint, writes the bound addresses to `DATA_DIR/ports.json`, and runs
//! until SIGINT or SIGTERM.
//!
//! Exit status: 0 after a clean shutdown, 2 for a user error (bad setting,
//! busy port, unreadable file, unwritable data dir) with one line on stderr
//! saying what to fix, 1 for an internal error. Logs go to stdout.
#![forbid(unsafe_code)]

mod config;
mod error;
mod http;
mod ivr;
mod media;
mod sip;
mod softphone;
mod store;

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use metrics_exporter_prometheus::PrometheusBuilder;
use tokio::sync::watch;
use tracing_subscriber::EnvFilter;

use crate::config::{Cli, Config};
use crate::error::Error;
use crate::sip::driver::{Driver, listener_name};

/// The file, inside the data dir, that lists the bound addresses.
const PORTS_FILE: &str = "ports.json";

/// How long open HTTP connections may take to finish after a shutdown signal.
const HTTP_GRACE: Duration = Duration::from_secs(5);

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("voip-server: {error}");
            ExitCode::from(error.exit_code())
        }
    }
}

fn run(cli: &Cli) -> Result<(), Error> {
    let config = Config::load(cli)?;
    // --log, else RUST_LOG, else the file's log key, else info.
    let env_filter = std::env::var("RUST_LOG")
        .ok()
        .filter(|f| !f.trim().is_empty());
    let filter = cli
        .log
        .clone()
        .or(env_filter)
        .or_else(|| config.log.clone());
    init_logging(filter.as_deref())?;
    prepare_data_dir(&config.data_dir)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|error| Error::Internal(format!("cannot start the tokio runtime: {error}")))?;
    runtime.block_on(serve(config))
}

fn init_logging(filter: Option<&str>) -> Result<(), Error> {
    let filter = match filter {
        Some(filter) => EnvFilter::try_new(filter).map_err(|error| {
            Error::Config(format!(
                "invalid log filter {filter:?}: {error} (write e.g. info or voip_server=debug with --log, RUST_LOG or the log key)"
            ))
        })?,
        None => EnvFilter::new("info"),
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stdout)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .try_init()
        .map_err(|error| Error::Internal(format!("cannot set up logging: {error}")))
}

fn prepare_data_dir(dir: &Path) -> Result<(), Error> {
    let fail = |path: &Path| {
        let path = path.to_owned();
        move |source| Error::DataDir { path, source }
    };
    std::fs::create_dir_all(dir).map_err(fail(dir))?;
    let probe = dir.join(".voip-server-write-test");
    std::fs::write(&probe, b"").map_err(fail(dir))?;
    std::fs::remove_file(&probe).map_err(fail(dir))?;
    Ok(())
}

/// The node key in `DATA_DIR/node.key` (32 random bytes, created once,
/// mode 0600): it signs Record-Route flow tokens, so in-dialog requests of
/// calls set up before a restart still route after it.
fn node_key(dir: &Path) -> Result<Vec<u8>, Error> {
    const FILE: &str = "node.key";
    let path = dir.join(FILE);
    let fail = |source| Error::DataDir {
        path: path.clone(),
        source,
    };
    match std::fs::read(&path) {
        Ok(key) if key.len() == 32 => return Ok(key),
        Ok(_) => tracing::warn!("{} is not 32 bytes; making a new key", path.display()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => return Err(fail(error)),
    }
    let mut key = vec![0u8; 32];
    voip_core::Rng::os().fill(&mut key);
    let temp = dir.join(format!("{FILE}.tmp"));
    {
        use std::io::Write as _;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&temp).map_err(fail)?;
        file.write_all(&key).map_err(fail)?;
        file.sync_all().map_err(fail)?;
    }
    std::fs::rename(&temp, &path).map_err(fail)?;
    Ok(key)
}

/// Writes `{"sip-udp": "127.0.0.1:40123", ...}` atomically (temp + rename),
/// so a reader never sees half a file.
fn write_ports(dir: &Path, listeners: &[(&'static str, SocketAddr)]) -> Result<(), Error> {
    let body: Vec<String> = listeners
        .iter()
        .map(|(name, addr)| format!("  \"{name}\": \"{addr}\""))
        .collect();
    let text = format!("{{\n{}\n}}\n", body.join(",\n"));
    let temp = dir.join(format!("{PORTS_FILE}.tmp"));
    let path = dir.join(PORTS_FILE);
    let fail = |source| Error::DataDir {
        path: path.clone(),
        source,
    };
    std::fs::write(&temp, text).map_err(fail)?;
    std::fs::rename(&temp, &path).map_err(fail)
}

async fn serve(config: Config) -> Result<(), Error> {
    let started = Instant::now();
    let metrics = PrometheusBuilder::new()
        .install_recorder()
        .map_err(|error| {
            Error::Internal(format!("cannot install the metrics recorder: {error}"))
        })?;
    let signals = Signals::new()?;

    let store = store::Store::open(config.db_url.as_deref(), &config.data_dir)
        .await
        .map_err(|error| Error::Config(error.to_string()))?;
    // A token for this run: rows it writes carry it, so the next run knows
    // which open calls an earlier run left behind.
    let run = voip_core::Rng::os().token(16);
    // through the trait the CDR writer uses
    match store::CallStore::reconcile_startup(&store, &run, std::time::SystemTime::now()).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(
            calls = n,
            "closed calls left ringing by an earlier run as interrupted"
        ),
        Err(error) => tracing::warn!(%error, "cannot reconcile calls of an earlier run"),
    }
    tracing::info!(
        database = store.kind(),
        "call records in {}",
        match &config.db_url {
            Some(_) => "the configured database".to_owned(),
            None => config.data_dir.join("voip.db").display().to_string(),
        }
    );
    let (cdr, cdr_task) = store::cdr::spawn(store.clone(), run);

    let flow_secret = node_key(&config.data_dir)?;
    let ivr_socket = match &config.ivr {
        Some(settings) => Some(ivr::bind(settings).await?),
        None => None,
    };
    let ivr_route = config
        .ivr
        .as_ref()
        .zip(ivr_socket.as_ref())
        .map(|(settings, (_, addr))| sip::core::IvrRoute {
            extension: settings.extension.clone(),
            addr: *addr,
        });
    let ivr_cdr = cdr.clone();
    let mut driver = Driver::bind(&config, cdr, flow_secret, ivr_route).await?;
    let (registered_tx, registered) = watch::channel(std::collections::BTreeSet::new());
    if let Some(settings) = &config.ivr {
        let members = settings
            .groups
            .iter()
            .flat_map(|g| g.members.iter().cloned())
            .collect();
        driver.watch_registrations(members, registered_tx);
    }
    let http_listener = tokio::net::TcpListener::bind(config.http)
        .await
        .map_err(|source| Error::Listen {
            what: "HTTP",
            flag: "--http",
            addr: config.http,
            source,
        })?;
    let http_addr = http_listener
        .local_addr()
        .map_err(|error| Error::Internal(format!("cannot read the HTTP address: {error}")))?;
    // the TTS cache behind the IVR's prompts and the TTS API
    let tts = match (&config.ivr, config.tts_http) {
        (None, None) => None,
        (ivr, _) => {
            let dir = ivr.as_ref().map_or_else(
                || config.data_dir.join("tts-cache"),
                |settings| settings.tts_cache.clone(),
            );
            Some(ivr::open_tts(&dir)?)
        }
    };
    let tts_listener = match config.tts_http {
        Some(addr) => Some(
            tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|source| Error::Listen {
                    what: "TTS API",
                    flag: "--tts-http",
                    addr,
                    source,
                })?,
        ),
        None => None,
    };

    let mut listeners: Vec<(&'static str, SocketAddr)> = driver
        .listeners()
        .iter()
        .map(|(protocol, addr)| (listener_name(*protocol), *addr))
        .collect();
    listeners.push(("http", http_addr));
    if let Some(listener) = &tts_listener {
        let addr = listener
            .local_addr()
            .map_err(|error| Error::Internal(format!("cannot read the TTS address: {error}")))?;
        listeners.push(("tts-http", addr));
    }
    if let Some((_, addr)) = &ivr_socket {
        listeners.push(("ivr-sip", *addr));
    }
    for (name, addr) in &listeners {
        tracing::info!("listening {name} {addr}");
    }
    tracing::info!("data dir {}", config.data_dir.display());
    write_ports(&config.data_dir, &listeners)?;

    let listener = |name: &str| {
        listeners
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, addr)| *addr)
    };
    let softphone = softphone::Softphone {
        root: config.web_root.clone(),
        ws: listener("sip-ws"),
        wss: listener("sip-wss"),
        domain: config.domain.clone(),
    };
    softphone.log_status(http_addr);

    let counters = Arc::new(sip::Counters::default());
    let (stop, stopped) = watch::channel(false);
    let state = http::AppState {
        metrics: metrics.clone(),
        counters: counters.clone(),
        listeners: Arc::new(listeners),
        data_dir: config.data_dir.clone(),
        started,
        store: store.clone(),
        softphone: Arc::new(softphone),
        recordings: config.recording.dir.clone(),
    };
    let mut http_stopped = stopped.clone();
    let http_task = tokio::spawn(async move {
        axum::serve(http_listener, http::router(state))
            .with_graceful_shutdown(async move {
                let _ = http_stopped.wait_for(|stop| *stop).await;
            })
            .await
    });
    let tts_task = match (tts_listener, &tts) {
        (Some(listener), Some(cache)) => {
            let mut tts_stopped = stopped.clone();
            let router = voip_ivr::tts::server::router(cache.clone());
            Some(tokio::spawn(async move {
                axum::serve(listener, router)
                    .with_graceful_shutdown(async move {
                        let _ = tts_stopped.wait_for(|stop| *stop).await;
                    })
                    .await
            }))
        }
        _ => None,
    };
    let ivr_task = match (config.ivr.clone(), ivr_socket, tts.clone()) {
        (Some(settings), Some((socket, _)), Some(tts)) => {
            let Some(proxy) = driver
                .listeners()
                .iter()
                .find(|(p, _)| *p == voip_core::TransportProtocol::Udp)
                .map(|(_, addr)| match addr.ip().is_unspecified() {
                    true => SocketAddr::from(([127, 0, 0, 1], addr.port())),
                    false => *addr,
                })
            else {
                return Err(error::Error::Config(
                    "the IVR needs the SIP UDP listener (set --sip-udp or remove [ivr])".into(),
                ));
            };
            let names = config
                .users
                .iter()
                .map(|u| {
                    let name = u
                        .display_name
                        .clone()
                        .unwrap_or_else(|| u.extension.clone());
                    (u.extension.clone(), name)
                })
                .collect();
            Some(
                ivr::start(
                    settings,
                    ivr::Start {
                        socket,
                        domain: config.domain.clone(),
                        proxy,
                        store: store.clone(),
                        registered,
                        names,
                        trunks: config
                            .trunks
                            .iter()
                            .filter(|t| !t.prefix.is_empty())
                            .map(|t| (t.name.clone(), t.prefix.clone()))
                            .collect(),
                        shutdown: stopped.clone(),
                        tts,
                        cdr: ivr_cdr.clone(),
                        recording: config.recording.clone(),
                    },
                )
                .await?,
            )
        }
        _ => None,
    };
    let sip_task = tokio::spawn(driver.run(stopped, counters));
    let upkeep = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tick.tick().await;
            metrics.run_upkeep();
        }
    });

    let signal = signals.wait().await;
    tracing::info!("received {signal}, shutting down");
    let _ = stop.send(true);
    upkeep.abort();
    if let Some(task) = ivr_task
        && let Err(error) = task.await
    {
        tracing::warn!(%error, "IVR task ended abnormally");
    }
    if let Err(error) = sip_task.await {
        tracing::warn!(%error, "SIP task ended abnormally");
    }
    // the SIP task dropped its sender: the writer finishes what it has
    match tokio::time::timeout(Duration::from_secs(10), cdr_task).await {
        Ok(_) => {}
        Err(_) => tracing::warn!("CDR writer still busy after 10 s; pending call records are lost"),
    }
    // Open HTTP connections get a grace period, then are cut.
    let http_abort = http_task.abort_handle();
    match tokio::time::timeout(HTTP_GRACE, http_task).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(error))) => tracing::warn!(%error, "HTTP server failed"),
        Ok(Err(error)) => tracing::warn!(%error, "HTTP task ended abnormally"),
        Err(_) => {
            tracing::warn!("HTTP connections still open after {HTTP_GRACE:?}; closing them");
            http_abort.abort();
        }
    }
    if let Some(task) = tts_task {
        task.abort();
    }
    let _ = std::fs::remove_file(config.data_dir.join(PORTS_FILE));
    tracing::info!("stopped");
    Ok(())
}

/// SIGINT and SIGTERM, registered before anything listens.
struct Signals {
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> Result<Self, Error> {
        #[cfg(unix)]
        {
            let terminate =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .map_err(|error| Error::Internal(format!("cannot handle SIGTERM: {error}")))?;
            Ok(Self { terminate })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    /// The name of the first signal that arrives.
    async fn wait(mut self) -> &'static str {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => "SIGINT",
                _ = self.terminate.recv() => "SIGTERM",
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            "SIGINT"
        }
    }
}
