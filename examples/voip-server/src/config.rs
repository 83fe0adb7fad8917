//! Settings: command-line flags win over the TOML file (`--config FILE`), the
//! file wins over the defaults. Every mistake becomes one [`Error::Config`]
//! line that names the flag or key and says how to fix it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use clap::Parser;
use serde::Deserialize;

use crate::error::{Error, io_message};

/// Default SIP address (UDP and TCP).
pub const DEFAULT_SIP: &str = "0.0.0.0:5060";
/// Default SIP over WebSocket address.
pub const DEFAULT_WS: &str = "0.0.0.0:8080";
/// Default HTTP address (health, metrics, status page).
pub const DEFAULT_HTTP: &str = "0.0.0.0:3000";
/// The seed's TTS service port.
pub const DEFAULT_TTS_HTTP: &str = "0.0.0.0:8000";
/// Default data directory.
pub const DEFAULT_DATA_DIR: &str = "./data";

/// Command-line flags. Addresses are `IP:PORT` (port 0 picks a free port) or
/// `off` to disable that listener.
#[derive(Debug, Default, Clone, Parser)]
#[command(name = "voip-server", version, about = "The VoIP SDK reference server")]
pub struct Cli {
    /// TOML file with the same settings (keys use underscores: sip_udp, ...).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// SIP over UDP [default: 0.0.0.0:5060].
    #[arg(long, value_name = "ADDR")]
    pub sip_udp: Option<String>,
    /// SIP over TCP [default: 0.0.0.0:5060].
    #[arg(long, value_name = "ADDR")]
    pub sip_tcp: Option<String>,
    /// SIP over TLS [default: off]; needs --tls-cert and --tls-key.
    #[arg(long, value_name = "ADDR")]
    pub sip_tls: Option<String>,
    /// PEM certificate chain for TLS and WSS.
    #[arg(long, value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for TLS and WSS.
    #[arg(long, value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
    /// SIP over WebSocket [default: 0.0.0.0:8080].
    #[arg(long, value_name = "ADDR")]
    pub sip_ws: Option<String>,
    /// SIP over secure WebSocket [default: off]; needs --tls-cert and --tls-key.
    #[arg(long, value_name = "ADDR")]
    pub sip_wss: Option<String>,
    /// HTTP: /healthz, /metrics and the status page [default: 0.0.0.0:3000].
    #[arg(long, value_name = "ADDR")]
    pub http: Option<String>,
    /// The seed's TTS API: POST /tts, GET /voices, GET /audio/KEY.wav
    /// [default: 0.0.0.0:8000].
    #[arg(long, value_name = "ADDR")]
    pub tts_http: Option<String>,
    /// Data directory, created if missing [default: ./data].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Database for CDRs, agents and menus: `postgres://USER:PASSWORD@HOST/DB`
    /// or `sqlite://FILE` [default: sqlite file voip.db in the data dir].
    #[arg(long, value_name = "URL")]
    pub db_url: Option<String>,
    /// Log filter, e.g. `info` or `voip_server=debug` (wins over RUST_LOG,
    /// which wins over the file's `log` key) [default: info].
    #[arg(long, value_name = "FILTER")]
    pub log: Option<String>,
    /// The SIP domain of the extensions [default: localhost].
    #[arg(long, value_name = "NAME")]
    pub domain: Option<String>,
    /// The IP to put in Via and Record-Route when listening on 0.0.0.0
    /// [default: 127.0.0.1].
    #[arg(long, value_name = "IP")]
    pub advertise: Option<String>,
    /// The browser softphone's built files, served at /softphone/
    /// [default: web/softphone/dist of the source tree; `npm ci` there builds it].
    #[arg(long, value_name = "DIR")]
    pub web_root: Option<PathBuf>,
}

/// The TOML file. Unknown keys are an error.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// See [`Cli::sip_udp`].
    pub sip_udp: Option<String>,
    /// See [`Cli::sip_tcp`].
    pub sip_tcp: Option<String>,
    /// See [`Cli::sip_tls`].
    pub sip_tls: Option<String>,
    /// See [`Cli::tls_cert`].
    pub tls_cert: Option<PathBuf>,
    /// See [`Cli::tls_key`].
    pub tls_key: Option<PathBuf>,
    /// See [`Cli::sip_ws`].
    pub sip_ws: Option<String>,
    /// See [`Cli::sip_wss`].
    pub sip_wss: Option<String>,
    /// See [`Cli::http`].
    pub http: Option<String>,
    /// See [`Cli::tts_http`].
    pub tts_http: Option<String>,
    /// See [`Cli::data_dir`].
    pub data_dir: Option<PathBuf>,
    /// See [`Cli::db_url`].
    pub db_url: Option<String>,
    /// See [`Cli::log`].
    pub log: Option<String>,
    /// See [`Cli::domain`].
    pub domain: Option<String>,
    /// See [`Cli::advertise`].
    pub advertise: Option<String>,
    /// See [`Cli::web_root`].
    pub web_root: Option<PathBuf>,
    /// Failed authentications from one address before it is banned [default: 5].
    pub auth_max_failures: Option<u32>,
    /// How long a ban lasts, in seconds [default: 600].
    pub auth_ban_seconds: Option<u64>,
    /// Digest algorithms offered, one challenge each, in this order
    /// [default: ["MD5"]]: baresip 1.0 fails to register when a SHA-256
    /// challenge is offered at all; sipp 3.6 and JsSIP 3.13 cannot do SHA-256.
    pub auth_algorithms: Option<Vec<String>>,
    /// The extensions: `[[users]]` tables with `extension`, `password` and
    /// optionally `display_name`.
    #[serde(default)]
    pub users: Vec<UserEntry>,
    /// Carrier trunks: `[[trunks]]` tables (see [`TrunkEntry`]).
    #[serde(default)]
    pub trunks: Vec<TrunkEntry>,
    /// Inbound numbers: `[[dids]]` tables with `number` and `extension`.
    #[serde(default)]
    pub dids: Vec<DidEntry>,
    /// The IVR: an `[ivr]` table turns it on (see `crate::ivr::config`).
    pub ivr: Option<crate::ivr::config::IvrEntry>,
    /// Agent groups for IVR transfers: `[[groups]]` tables.
    #[serde(default)]
    pub groups: Vec<crate::ivr::config::GroupEntry>,
    /// The media relay: a `[media]` table (see `crate::media::config`);
    /// without one the relay runs with its defaults.
    pub media: Option<crate::media::config::MediaEntry>,
    /// Call recording: a `[recording]` table (see `crate::media::recording`).
    pub recording: Option<crate::media::recording::RecordingEntry>,
}

/// One `[[trunks]]` table.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrunkEntry {
    /// A name for logs [default: trunkN].
    #[serde(default)]
    pub name: String,
    /// The carrier's registrar and proxy, `IP:port` (UDP).
    pub target: String,
    /// The carrier's domain for URIs [default: the target].
    pub domain: Option<String>,
    /// Digest username at the carrier.
    pub username: String,
    /// Digest password at the carrier.
    pub password: String,
    /// Register to the carrier [default: true].
    pub register: Option<bool>,
    /// Requested registration expiry in seconds [default: 3600].
    pub expires: Option<u32>,
    /// The number presented to the carrier [default: username].
    pub from_user: Option<String>,
    /// Dialled numbers with this prefix go out through the trunk
    /// [default: none].
    pub prefix: Option<String>,
    /// Remove the prefix from the number sent to the carrier [default: true].
    pub strip: Option<bool>,
}

/// One `[[dids]]` table.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DidEntry {
    /// The number the carrier sends.
    pub number: String,
    /// The extension it rings.
    pub extension: String,
}

/// One `[[users]]` table.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserEntry {
    /// The extension (SIP user part), e.g. `1001`.
    pub extension: String,
    /// The digest password.
    pub password: String,
    /// Shown to callees.
    pub display_name: Option<String>,
}

impl FileConfig {
    /// Parses the file's text; `path` only names it in errors.
    pub fn parse(path: &Path, text: &str) -> Result<Self, Error> {
        toml::from_str(text).map_err(|error| {
            let line = error
                .span()
                .map(|span| text[..span.start.min(text.len())].matches('\n').count() + 1);
            let message = error.message().replace('\n', " ");
            let message = message.trim();
            match line {
                Some(line) => Error::Config(format!(
                    "invalid config file {} line {line}: {message} (fix or remove that line)",
                    path.display()
                )),
                None => Error::Config(format!(
                    "invalid config file {}: {message} (fix the file)",
                    path.display()
                )),
            }
        })
    }

    /// Reads and parses a file.
    pub fn load(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::ConfigRead {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(path, &text)
    }
}

/// The resolved settings. `None` listeners are disabled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// SIP over UDP.
    pub sip_udp: Option<SocketAddr>,
    /// SIP over TCP.
    pub sip_tcp: Option<SocketAddr>,
    /// SIP over TLS.
    pub sip_tls: Option<SocketAddr>,
    /// SIP over WebSocket.
    pub sip_ws: Option<SocketAddr>,
    /// SIP over secure WebSocket.
    pub sip_wss: Option<SocketAddr>,
    /// PEM certificate chain (TLS, WSS).
    pub tls_cert: Option<PathBuf>,
    /// PEM private key (TLS, WSS).
    pub tls_key: Option<PathBuf>,
    /// HTTP.
    pub http: SocketAddr,
    /// The TTS API; `None`: off.
    pub tts_http: Option<SocketAddr>,
    /// Data directory.
    pub data_dir: PathBuf,
    /// Database URL; `None`: SQLite in the data directory.
    pub db_url: Option<String>,
    /// Log filter from the flag or the file (main puts RUST_LOG between them).
    pub log: Option<String>,
    /// The SIP domain.
    pub domain: String,
    /// The IP advertised for wildcard listeners.
    pub advertise: Option<std::net::IpAddr>,
    /// The extensions.
    pub users: Vec<crate::sip::users::User>,
    /// Failed authentications before a ban.
    pub auth_max_failures: u32,
    /// Ban length in seconds.
    pub auth_ban_seconds: u64,
    /// Digest algorithms offered, in challenge order.
    pub auth_algorithms: Vec<voip_sip::auth::Algorithm>,
    /// Carrier trunks.
    pub trunks: Vec<crate::sip::trunks::Trunk>,
    /// Inbound numbers.
    pub dids: Vec<crate::sip::trunks::Did>,
    /// The IVR, when enabled.
    pub ivr: Option<crate::ivr::config::IvrSettings>,
    /// The media relay.
    pub media: crate::media::MediaSettings,
    /// Call recording.
    pub recording: crate::media::recording::RecordingSettings,
    /// The softphone's files.
    pub web_root: PathBuf,
}

/// Where a value came from, for error messages.
#[derive(Clone, Copy)]
enum Source<'a> {
    Flag(&'static str),
    Key(&'static str, &'a Path),
    Default,
}

impl Source<'_> {
    fn describe(&self) -> String {
        match self {
            Self::Flag(flag) => flag.to_string(),
            Self::Key(key, path) => format!("{key} in {}", path.display()),
            Self::Default => "the default".to_owned(),
        }
    }
}

impl Config {
    /// Reads `--config` if given and merges it with the flags.
    pub fn load(cli: &Cli) -> Result<Self, Error> {
        match &cli.config {
            Some(path) => {
                let file = FileConfig::load(path)?;
                Self::merge(cli, Some((path, &file)))
            }
            None => Self::merge(cli, None),
        }
    }

    /// Merges flags over file over defaults and validates the result.
    pub fn merge(cli: &Cli, file: Option<(&Path, &FileConfig)>) -> Result<Self, Error> {
        let default_file = FileConfig::default();
        let (path, fc) = match file {
            Some((path, fc)) => (path, fc),
            None => (Path::new(""), &default_file),
        };
        macro_rules! addr {
            ($field:ident, $flag:literal, $key:literal, $default:expr) => {
                pick_addr(
                    cli.$field.as_deref(),
                    fc.$field.as_deref(),
                    $flag,
                    $key,
                    path,
                    $default,
                )?
            };
        }
        let sip_udp = addr!(sip_udp, "--sip-udp", "sip_udp", Some(DEFAULT_SIP));
        let sip_tcp = addr!(sip_tcp, "--sip-tcp", "sip_tcp", Some(DEFAULT_SIP));
        let sip_tls = addr!(sip_tls, "--sip-tls", "sip_tls", None);
        let sip_ws = addr!(sip_ws, "--sip-ws", "sip_ws", Some(DEFAULT_WS));
        let sip_wss = addr!(sip_wss, "--sip-wss", "sip_wss", None);
        let http = addr!(http, "--http", "http", Some(DEFAULT_HTTP)).ok_or_else(|| {
            Error::Config(
                "the HTTP listener cannot be off (give an address with --http ADDR)".to_owned(),
            )
        })?;
        let tts_http = addr!(tts_http, "--tts-http", "tts_http", Some(DEFAULT_TTS_HTTP));
        let tls_cert = cli.tls_cert.clone().or_else(|| fc.tls_cert.clone());
        let tls_key = cli.tls_key.clone().or_else(|| fc.tls_key.clone());
        let data_dir = cli
            .data_dir
            .clone()
            .or_else(|| fc.data_dir.clone())
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
        let log = cli.log.clone().or_else(|| fc.log.clone());
        let web_root = cli
            .web_root
            .clone()
            .or_else(|| fc.web_root.clone())
            .unwrap_or_else(crate::softphone::default_root);
        let db_url = cli
            .db_url
            .clone()
            .or_else(|| fc.db_url.clone())
            .filter(|u| !u.trim().is_empty());
        let domain = cli
            .domain
            .clone()
            .or_else(|| fc.domain.clone())
            .unwrap_or_else(|| "localhost".to_owned());
        if domain.is_empty()
            || !domain
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || b"-._".contains(&c))
        {
            return Err(Error::Config(format!(
                "domain {domain:?} is not a host name (give one like pbx.example.com with --domain NAME)"
            )));
        }
        let advertise = match cli.advertise.as_deref().or(fc.advertise.as_deref()) {
            None => None,
            Some(text) => Some(text.parse().map_err(|_| {
                Error::Config(format!(
                    "advertise address {text:?} is not an IP address (give one like 203.0.113.7 with --advertise IP)"
                ))
            })?),
        };
        let mut users = Vec::with_capacity(fc.users.len());
        for (i, u) in fc.users.iter().enumerate() {
            if u.extension.is_empty()
                || !u
                    .extension
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || b"-._".contains(&c))
            {
                return Err(Error::Config(format!(
                    "[[users]] entry {} in {}: extension {:?} must be letters, digits, '-', '.' or '_'",
                    i + 1,
                    path.display(),
                    u.extension
                )));
            }
            if u.password.is_empty() {
                return Err(Error::Config(format!(
                    "[[users]] entry {} in {}: extension {} has an empty password (set password = \"...\")",
                    i + 1,
                    path.display(),
                    u.extension
                )));
            }
            if users
                .iter()
                .any(|x: &crate::sip::users::User| x.extension == u.extension)
            {
                return Err(Error::Config(format!(
                    "[[users]] in {}: extension {} appears twice",
                    path.display(),
                    u.extension
                )));
            }
            users.push(crate::sip::users::User {
                extension: u.extension.clone(),
                password: u.password.clone(),
                display_name: u.display_name.clone(),
            });
        }
        let auth_max_failures = fc.auth_max_failures.unwrap_or(5);
        if auth_max_failures == 0 {
            return Err(Error::Config(format!(
                "auth_max_failures in {} must be at least 1",
                path.display()
            )));
        }
        let auth_ban_seconds = fc.auth_ban_seconds.unwrap_or(600);
        let auth_algorithms = match &fc.auth_algorithms {
            // MD5 only, as Kamailio and Asterisk: baresip 1.0 fails to
            // register when any SHA-256 challenge is offered (ENOSYS), and
            // sipp 3.6, sipvicious and JsSIP 3.13 cannot answer SHA-256;
            // RFC 8760 clients get SHA-256 with ["SHA-256", "MD5"].
            None => vec![voip_sip::auth::Algorithm::Md5],
            Some(names) => {
                let mut algorithms = Vec::with_capacity(names.len());
                for name in names {
                    let Some(alg) = voip_sip::auth::Algorithm::from_token(name.as_bytes()) else {
                        return Err(Error::Config(format!(
                            "auth_algorithms in {}: {name:?} is not a digest algorithm (use \"SHA-256\" and/or \"MD5\")",
                            path.display()
                        )));
                    };
                    if !algorithms.contains(&alg) {
                        algorithms.push(alg);
                    }
                }
                if algorithms.is_empty() {
                    return Err(Error::Config(format!(
                        "auth_algorithms in {} is empty (offer at least one: [\"SHA-256\", \"MD5\"])",
                        path.display()
                    )));
                }
                algorithms
            }
        };

        let trunks = trunks(path, &fc.trunks)?;
        let mut dids = Vec::with_capacity(fc.dids.len());
        for (i, d) in fc.dids.iter().enumerate() {
            if d.number.is_empty() || !users.iter().any(|u| u.extension == d.extension) {
                return Err(Error::Config(format!(
                    "[[dids]] entry {} in {}: number {:?} must be non-empty and extension {:?} one of the [[users]]",
                    i + 1,
                    path.display(),
                    d.number,
                    d.extension
                )));
            }
            dids.push(crate::sip::trunks::Did {
                number: d.number.clone(),
                extension: d.extension.clone(),
            });
        }

        let ivr = crate::ivr::config::resolve(
            path,
            fc.ivr.as_ref(),
            &fc.groups,
            &data_dir,
            &users,
            advertise,
        )?;
        let media = crate::media::config::resolve(
            path,
            fc.media.as_ref(),
            advertise,
            sip_udp,
            ivr.as_ref().map(|i| i.rtp_ports),
        )?;
        let recording = crate::media::recording::resolve(path, fc.recording.as_ref(), &data_dir)?;
        for (on, flag) in [(sip_tls, "--sip-tls"), (sip_wss, "--sip-wss")] {
            if on.is_none() {
                continue;
            }
            if tls_cert.is_none() || tls_key.is_none() {
                return Err(Error::Config(format!(
                    "{flag} needs a certificate and a key (give PEM files with --tls-cert FILE and --tls-key FILE)"
                )));
            }
        }
        for (file, flag) in [(&tls_cert, "--tls-cert"), (&tls_key, "--tls-key")] {
            if let Some(file) = file
                && let Err(error) = std::fs::File::open(file)
            {
                return Err(Error::Config(format!(
                    "cannot read {flag} file {}: {} (give a readable PEM file with {flag} FILE)",
                    file.display(),
                    io_message(&error)
                )));
            }
        }
        Ok(Self {
            sip_udp,
            sip_tcp,
            sip_tls,
            sip_ws,
            sip_wss,
            tls_cert,
            tls_key,
            http,
            tts_http,
            data_dir,
            db_url,
            log,
            domain,
            advertise,
            users,
            auth_max_failures,
            auth_ban_seconds,
            auth_algorithms,
            trunks,
            dids,
            ivr,
            media,
            recording,
            web_root,
        })
    }
}

/// Validates the `[[trunks]]` tables.
fn trunks(path: &Path, entries: &[TrunkEntry]) -> Result<Vec<crate::sip::trunks::Trunk>, Error> {
    let mut trunks = Vec::with_capacity(entries.len());
    for (i, t) in entries.iter().enumerate() {
        let bad = |what: String| {
            Error::Config(format!(
                "[[trunks]] entry {} in {}: {what}",
                i + 1,
                path.display()
            ))
        };
        let target: SocketAddr = t.target.trim().parse().map_err(|_| {
            bad(format!(
                "target {:?} is not IP:port (give one like 203.0.113.5:5060)",
                t.target
            ))
        })?;
        let token = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|c| c.is_ascii_alphanumeric() || b"-._+*#".contains(&c))
        };
        if !token(&t.username) {
            return Err(bad(format!(
                "username {:?} must be letters, digits, '-', '.', '_', '+'",
                t.username
            )));
        }
        let from_user = t.from_user.clone().unwrap_or_else(|| t.username.clone());
        if !token(&from_user) {
            return Err(bad(format!(
                "from_user {from_user:?} is not a valid number"
            )));
        }
        let prefix = t.prefix.clone().unwrap_or_default();
        if !prefix.is_empty() && !token(&prefix) {
            return Err(bad(format!(
                "prefix {prefix:?} must be digits, '+', '*' or '#'"
            )));
        }
        if let Some(domain) = &t.domain
            && !token(domain)
        {
            return Err(bad(format!("domain {domain:?} is not a host name")));
        }
        if t.password.is_empty() {
            return Err(bad("password is empty (set password = \"...\")".to_owned()));
        }
        let expires = t.expires.unwrap_or(3600);
        if expires == 0 {
            return Err(bad("expires must be at least 1 second".to_owned()));
        }
        trunks.push(crate::sip::trunks::Trunk {
            name: if t.name.is_empty() {
                format!("trunk{}", i + 1)
            } else {
                t.name.clone()
            },
            target,
            domain: t.domain.clone(),
            username: t.username.clone(),
            password: t.password.clone(),
            register: t.register.unwrap_or(true),
            expires,
            from_user,
            prefix,
            strip: t.strip.unwrap_or(true),
        });
    }
    Ok(trunks)
}

fn pick_addr(
    flag_value: Option<&str>,
    file_value: Option<&str>,
    flag: &'static str,
    key: &'static str,
    path: &Path,
    default: Option<&str>,
) -> Result<Option<SocketAddr>, Error> {
    let (value, source) = match (flag_value, file_value, default) {
        (Some(value), _, _) => (value, Source::Flag(flag)),
        (None, Some(value), _) => (value, Source::Key(key, path)),
        (None, None, Some(value)) => (value, Source::Default),
        (None, None, None) => return Ok(None),
    };
    parse_addr(value, source, flag)
}

fn parse_addr(value: &str, source: Source<'_>, flag: &str) -> Result<Option<SocketAddr>, Error> {
    let trimmed = value.trim();
    if trimmed.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    trimmed.parse().map(Some).map_err(|_| {
        Error::Config(format!(
            "invalid address for {}: {value:?} is not IP:PORT (write e.g. 0.0.0.0:5060 or [::]:5060, or off to disable {flag})",
            source.describe()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cli(args: &[&str]) -> Cli {
        let mut all = vec!["voip-server"];
        all.extend_from_slice(args);
        Cli::try_parse_from(all).unwrap()
    }

    fn file(text: &str) -> FileConfig {
        FileConfig::parse(Path::new("server.toml"), text).unwrap()
    }

    #[test]
    fn defaults_follow_the_seed() {
        let config = Config::merge(&cli(&[]), None).unwrap();
        assert_eq!(config.sip_udp, Some("0.0.0.0:5060".parse().unwrap()));
        assert_eq!(config.sip_tcp, Some("0.0.0.0:5060".parse().unwrap()));
        assert_eq!(config.sip_ws, Some("0.0.0.0:8080".parse().unwrap()));
        assert_eq!(config.sip_tls, None);
        assert_eq!(config.sip_wss, None);
        assert_eq!(config.http, "0.0.0.0:3000".parse().unwrap());
        assert_eq!(config.data_dir, PathBuf::from("./data"));
        assert_eq!(config.log, None);
    }

    #[test]
    fn flags_win_over_file_and_file_over_defaults() {
        let fc = file(
            "sip_udp = \"127.0.0.1:5070\"\nsip_tcp = \"127.0.0.1:5071\"\nhttp = \"127.0.0.1:3001\"\ndata_dir = \"/tmp/x\"\nlog = \"debug\"\n",
        );
        let config = Config::merge(
            &cli(&["--sip-udp", "127.0.0.1:6000", "--sip-ws", "off"]),
            Some((Path::new("server.toml"), &fc)),
        )
        .unwrap();
        assert_eq!(config.sip_udp, Some("127.0.0.1:6000".parse().unwrap()));
        assert_eq!(config.sip_tcp, Some("127.0.0.1:5071".parse().unwrap()));
        assert_eq!(config.sip_ws, None);
        assert_eq!(config.http, "127.0.0.1:3001".parse().unwrap());
        assert_eq!(config.data_dir, PathBuf::from("/tmp/x"));
        assert_eq!(config.log.as_deref(), Some("debug"));
    }

    #[test]
    fn unknown_key_is_named_with_its_line() {
        let error = FileConfig::parse(
            Path::new("server.toml"),
            "http = \"127.0.0.1:3000\"\nsip_udpp = \"x\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("server.toml line 2"), "{error}");
        assert!(error.contains("sip_udpp"), "{error}");
        assert!(!error.contains('\n'), "{error}");
    }

    #[test]
    fn bad_toml_names_the_line() {
        let error = FileConfig::parse(Path::new("s.toml"), "log = \"info\"\n\nhttp = \n")
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("invalid config file s.toml line 3:"),
            "{error}"
        );
        assert!(!error.contains('\n'), "{error}");
    }

    #[test]
    fn bad_address_names_flag_or_key() {
        let error = Config::merge(&cli(&["--sip-udp", "localhost"]), None)
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "invalid address for --sip-udp: \"localhost\" is not IP:PORT (write e.g. 0.0.0.0:5060 or [::]:5060, or off to disable --sip-udp)"
        );
        let fc = file("sip_tcp = \"1.2.3.4\"\n");
        let error = Config::merge(&cli(&[]), Some((Path::new("s.toml"), &fc)))
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("invalid address for sip_tcp in s.toml:"),
            "{error}"
        );
    }

    #[test]
    fn tls_needs_cert_and_key() {
        let error = Config::merge(&cli(&["--sip-tls", "0.0.0.0:5061"]), None)
            .unwrap_err()
            .to_string();
        assert!(error.contains("--tls-cert FILE"), "{error}");
        let error = Config::merge(
            &cli(&[
                "--sip-tls",
                "0.0.0.0:5061",
                "--tls-cert",
                "/nonexistent/cert.pem",
                "--tls-key",
                "/nonexistent/key.pem",
            ]),
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(
            error.starts_with("cannot read --tls-cert file /nonexistent/cert.pem: no such file"),
            "{error}"
        );
    }

    #[test]
    fn the_example_file_parses_to_the_defaults() {
        let path = Path::new("voip-server.example.toml");
        let fc = FileConfig::parse(path, include_str!("../voip-server.example.toml")).unwrap();
        let from_file = Config::merge(&cli(&[]), Some((path, &fc))).unwrap();
        let defaults = Config::merge(&cli(&[]), None).unwrap();
        assert_eq!(from_file.log.as_deref(), Some("info"));
        assert_eq!(
            Config {
                log: None,
                ..from_file
            },
            defaults
        );
    }

    #[test]
    fn trunks_and_dids() {
        let text = "[[users]]\nextension = \"1001\"\npassword = \"p\"\n\
            [[trunks]]\nname = \"carrier\"\ntarget = \"127.0.0.1:5080\"\n\
            username = \"acct\"\npassword = \"pw\"\nexpires = 60\n\
            from_user = \"5551000\"\nprefix = \"9\"\n\
            [[dids]]\nnumber = \"5551000\"\nextension = \"1001\"\n";
        let fc = file(text);
        let config = Config::merge(&cli(&[]), Some((Path::new("s.toml"), &fc))).unwrap();
        let t = &config.trunks[0];
        assert_eq!(t.target, "127.0.0.1:5080".parse().unwrap());
        assert!(t.register && t.strip);
        assert_eq!((t.expires, t.prefix.as_str()), (60, "9"));
        assert_eq!(config.dids[0].extension, "1001");
        for bad in [
            text.replace("127.0.0.1:5080", "carrier.example.com"),
            text.replace(
                "number = \"5551000\"\nextension = \"1001\"",
                "number = \"5551000\"\nextension = \"7\"",
            ),
            text.replace("password = \"pw\"", "password = \"\""),
        ] {
            let fc = file(&bad);
            let error = Config::merge(&cli(&[]), Some((Path::new("s.toml"), &fc)));
            assert!(error.is_err(), "{bad}");
        }
    }

    #[test]
    fn auth_algorithms_parse_in_order() {
        use voip_sip::auth::Algorithm;
        let defaults = Config::merge(&cli(&[]), None).unwrap();
        assert_eq!(defaults.auth_algorithms, [Algorithm::Md5]);
        let fc = file("auth_algorithms = [\"md5\"]\n");
        let config = Config::merge(&cli(&[]), Some((Path::new("s.toml"), &fc))).unwrap();
        assert_eq!(config.auth_algorithms, [Algorithm::Md5]);
        for bad in ["[]", "[\"SHA-1\"]"] {
            let fc = file(&format!("auth_algorithms = {bad}\n"));
            let error = Config::merge(&cli(&[]), Some((Path::new("s.toml"), &fc)))
                .unwrap_err()
                .to_string();
            assert!(error.starts_with("auth_algorithms in s.toml"), "{error}");
        }
    }

    #[test]
    fn missing_config_file_is_a_user_error() {
        let error = Config::load(&cli(&["--config", "/nonexistent/voip.toml"])).unwrap_err();
        assert_eq!(error.exit_code(), 2);
        assert_eq!(
            error.to_string(),
            "cannot read config file /nonexistent/voip.toml: no such file or directory (check the path given to --config)"
        );
    }
}
