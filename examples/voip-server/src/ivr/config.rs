//! The `[ivr]` and `[[groups]]` settings: which extension reaches the IVR,
//! its SIP socket, the RTP port range, the menu, the TTS cache, and the
//! agent groups a menu transfers to.
//!
//! ```toml
//! [ivr]
//! extension = "9999"          # default
//! menu = "main"               # default: the seed's menu
//! rtp_ports = "30000-30100"   # default, as in the seed
//! sip = "127.0.0.1:0"         # the IVR's own SIP socket (loopback)
//! media_ip = "127.0.0.1"      # address in our SDP [default: advertise, else 127.0.0.1]
//! ring_timeout_seconds = 20   # per agent attempt
//! menu_reload_seconds = 5     # how often ivr_menus is re-read
//! hold_music = "/srv/moh.wav" # default: built-in music
//!
//! [[groups]]
//! name = "sales"
//! strategy = "round-robin"    # longest-idle, fewest-calls, ring-all
//! members = ["1002"]
//! queue = true                # wait with music when every agent is busy
//! queue_timeout_seconds = 300
//! max_waiting = 50
//! announce_seconds = 30       # position announcements; 0: none
//! ```
//!
//! The IVR runs when the file has an `[ivr]` table (unless `enabled = false`).

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::groups::{Group, Strategy};
use super::queue::QueuePolicy;
use crate::error::Error;

/// Default IVR extension (the seed's).
pub const DEFAULT_EXTENSION: &str = "9999";
/// Default RTP port range (the seed's).
pub const DEFAULT_RTP_PORTS: (u16, u16) = (30000, 30100);

/// The `[ivr]` table.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IvrEntry {
    /// Run the IVR [default: true when the table is present].
    pub enabled: Option<bool>,
    /// The extension that reaches it [default: 9999].
    pub extension: Option<String>,
    /// The menu a call starts in [default: main].
    pub menu: Option<String>,
    /// RTP ports, `"LOW-HIGH"` inclusive [default: 30000-30100].
    pub rtp_ports: Option<String>,
    /// The IVR's SIP socket [default: 127.0.0.1:0].
    pub sip: Option<String>,
    /// The IP written in our SDP [default: advertise, else 127.0.0.1].
    pub media_ip: Option<String>,
    /// Seconds an agent may ring before the next one is tried [default: 20].
    pub ring_timeout_seconds: Option<u64>,
    /// Where rendered prompts are kept [default: DATA_DIR/tts-cache].
    pub tts_cache: Option<PathBuf>,
    /// Seconds between reads of `ivr_menus` [default: 5].
    pub menu_reload_seconds: Option<u64>,
    /// A WAV file for callers waiting in a queue [default: built-in music].
    pub hold_music: Option<PathBuf>,
}

/// One `[[groups]]` table.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupEntry {
    /// The name menus transfer to (`transfer` to group `sales`).
    pub name: String,
    /// round-robin, longest-idle, fewest-calls or ring-all [default: round-robin].
    pub strategy: Option<String>,
    /// Extensions of the agents.
    #[serde(default)]
    pub members: Vec<String>,
    /// Queue callers when every agent is busy [default: true].
    pub queue: Option<bool>,
    /// Longest wait in the queue [default: 300].
    pub queue_timeout_seconds: Option<u64>,
    /// Most callers waiting [default: 50].
    pub max_waiting: Option<usize>,
    /// Seconds between position announcements; 0 for none [default: 30].
    pub announce_seconds: Option<u64>,
}

/// The resolved IVR settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IvrSettings {
    /// The extension that reaches the IVR.
    pub extension: String,
    /// The menu a call starts in.
    pub menu: String,
    /// RTP ports, inclusive.
    pub rtp_ports: (u16, u16),
    /// The IVR's SIP socket.
    pub sip: SocketAddr,
    /// The IP in our SDP.
    pub media_ip: IpAddr,
    /// Ring time per agent attempt.
    pub ring_timeout: Duration,
    /// The TTS cache directory.
    pub tts_cache: PathBuf,
    /// How often `ivr_menus` is re-read.
    pub menu_reload: Duration,
    /// The hold music file (`None`: built-in).
    pub hold_music: Option<PathBuf>,
    /// Agent groups.
    pub groups: Vec<Group>,
}

/// Parses `"LOW-HIGH"`.
pub fn parse_port_range(text: &str) -> Option<(u16, u16)> {
    let (low, high) = text.split_once('-')?;
    let low: u16 = low.trim().parse().ok()?;
    let high: u16 = high.trim().parse().ok()?;
    (low > 0 && low <= high).then_some((low, high))
}

/// Validates `[ivr]` and `[[groups]]`; `None` when the IVR is off.
pub fn resolve(
    path: &Path,
    entry: Option<&IvrEntry>,
    groups: &[GroupEntry],
    data_dir: &Path,
    users: &[crate::sip::users::User],
    advertise: Option<IpAddr>,
) -> Result<Option<IvrSettings>, Error> {
    let fail = |what: String| Error::Config(format!("{what} in {}", path.display()));
    let mut resolved = Vec::with_capacity(groups.len());
    for (i, g) in groups.iter().enumerate() {
        let strategy = match g.strategy.as_deref() {
            None => Strategy::RoundRobin,
            Some(s) => Strategy::parse(s).ok_or_else(|| {
                fail(format!(
                    "[[groups]] entry {}: strategy {s:?} (use round-robin, longest-idle, fewest-calls or ring-all)",
                    i + 1
                ))
            })?,
        };
        if g.name.is_empty() || resolved.iter().any(|r: &Group| r.name == g.name) {
            return Err(fail(format!(
                "[[groups]] entry {}: name {:?} must be non-empty and unique",
                i + 1,
                g.name
            )));
        }
        if let Some(m) = g
            .members
            .iter()
            .find(|m| !users.iter().any(|u| &u.extension == *m))
        {
            return Err(fail(format!(
                "[[groups]] {}: member {m:?} is not one of the [[users]]",
                g.name
            )));
        }
        let defaults = QueuePolicy::default();
        let queue = QueuePolicy {
            enabled: g.queue.unwrap_or(defaults.enabled),
            timeout: g
                .queue_timeout_seconds
                .map_or(defaults.timeout, |s| Duration::from_secs(s.max(1))),
            max_waiting: g.max_waiting.unwrap_or(defaults.max_waiting),
            announce_every: match g.announce_seconds {
                None => defaults.announce_every,
                Some(0) => None,
                Some(s) => Some(Duration::from_secs(s)),
            },
        };
        resolved.push(Group {
            name: g.name.clone(),
            strategy,
            members: g.members.clone(),
            queue,
        });
    }
    let Some(entry) = entry else {
        return Ok(None);
    };
    if entry.enabled == Some(false) {
        return Ok(None);
    }
    let extension = entry
        .extension
        .clone()
        .unwrap_or_else(|| DEFAULT_EXTENSION.to_owned());
    if extension.is_empty() || users.iter().any(|u| u.extension == extension) {
        return Err(fail(format!(
            "[ivr] extension {extension:?} must be non-empty and not one of the [[users]]"
        )));
    }
    let rtp_ports = match &entry.rtp_ports {
        None => DEFAULT_RTP_PORTS,
        Some(text) => parse_port_range(text).ok_or_else(|| {
            fail(format!(
                "[ivr] rtp_ports {text:?} (write \"LOW-HIGH\", e.g. \"30000-30100\")"
            ))
        })?,
    };
    let sip = match &entry.sip {
        None => SocketAddr::from(([127, 0, 0, 1], 0)),
        Some(text) => text.parse().map_err(|_| {
            fail(format!(
                "[ivr] sip {text:?} (write IP:PORT, e.g. \"127.0.0.1:0\")"
            ))
        })?,
    };
    let media_ip = match &entry.media_ip {
        None => advertise
            .filter(|ip| !ip.is_unspecified())
            .unwrap_or(IpAddr::from([127, 0, 0, 1])),
        Some(text) => text
            .parse()
            .map_err(|_| fail(format!("[ivr] media_ip {text:?} (write an IP address)")))?,
    };
    Ok(Some(IvrSettings {
        extension,
        menu: entry.menu.clone().unwrap_or_else(|| "main".to_owned()),
        rtp_ports,
        sip,
        media_ip,
        ring_timeout: Duration::from_secs(entry.ring_timeout_seconds.unwrap_or(20).max(1)),
        tts_cache: entry
            .tts_cache
            .clone()
            .unwrap_or_else(|| data_dir.join("tts-cache")),
        menu_reload: Duration::from_secs(entry.menu_reload_seconds.unwrap_or(5).max(1)),
        hold_music: entry.hold_music.clone(),
        groups: resolved,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::users::User;

    fn users() -> Vec<User> {
        ["1001", "1002"]
            .into_iter()
            .map(|e| User {
                extension: e.into(),
                password: "x".into(),
                display_name: None,
            })
            .collect()
    }

    #[test]
    fn defaults_follow_the_seed() {
        let s = resolve(
            Path::new("f.toml"),
            Some(&IvrEntry::default()),
            &[],
            Path::new("/d"),
            &users(),
            None,
        )
        .unwrap()
        .unwrap();
        assert_eq!(s.extension, "9999");
        assert_eq!(s.rtp_ports, (30000, 30100));
        assert_eq!(s.menu, "main");
        assert_eq!(s.tts_cache, Path::new("/d/tts-cache"));
        assert_eq!(s.media_ip, IpAddr::from([127, 0, 0, 1]));
    }

    #[test]
    fn off_without_the_table_and_errors_name_the_key() {
        let none = resolve(Path::new("f"), None, &[], Path::new("/d"), &users(), None);
        assert_eq!(none.unwrap(), None);
        let bad = IvrEntry {
            rtp_ports: Some("30100-30000".into()),
            ..IvrEntry::default()
        };
        let e = resolve(
            Path::new("f"),
            Some(&bad),
            &[],
            Path::new("/d"),
            &users(),
            None,
        );
        assert!(e.unwrap_err().to_string().contains("rtp_ports"));
        let group = GroupEntry {
            name: "sales".into(),
            strategy: Some("random".into()),
            members: vec!["1002".into()],
            ..GroupEntry::default()
        };
        let e = resolve(
            Path::new("f"),
            None,
            std::slice::from_ref(&group),
            Path::new("/d"),
            &users(),
            None,
        );
        assert!(e.unwrap_err().to_string().contains("strategy"));
        let stranger = GroupEntry {
            members: vec!["7777".into()],
            strategy: None,
            ..group
        };
        let e = resolve(
            Path::new("f"),
            None,
            &[stranger],
            Path::new("/d"),
            &users(),
            None,
        );
        assert!(e.unwrap_err().to_string().contains("7777"));
    }

    #[test]
    fn port_ranges() {
        assert_eq!(parse_port_range("30000-30100"), Some((30000, 30100)));
        assert_eq!(parse_port_range(" 5 - 5 "), Some((5, 5)));
        assert_eq!(parse_port_range("0-10"), None);
        assert_eq!(parse_port_range("10"), None);
    }
}
