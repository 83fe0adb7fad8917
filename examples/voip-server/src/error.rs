//! Start-up errors: each one renders as a single line that says what is wrong
//! and how to fix it. User errors exit with status 2, internal ones with 1.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Why the server could not start (or stopped).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A wrong setting; the message is complete (what, where, how to fix).
    #[error("{0}")]
    Config(String),
    /// The config file could not be read.
    #[error("cannot read config file {}: {} (check the path given to --config)", path.display(), io_message(source))]
    ConfigRead {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A listener could not be bound.
    #[error(
        "cannot listen for {what} on {addr}: {} ({})",
        io_message(source),
        listen_hint(source, flag, addr)
    )]
    Listen {
        /// What the listener is for, e.g. "SIP over UDP".
        what: &'static str,
        /// The flag that sets its address, e.g. "--sip-udp".
        flag: &'static str,
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: io::Error,
    },
    /// The data directory could not be created or written.
    #[error("cannot use data dir {}: {} (create it with write permission for this user, or pick another with --data-dir DIR)", path.display(), io_message(source))]
    DataDir {
        /// The directory (or the file in it that failed).
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// Something failed that the user cannot fix with a setting.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// The process exit status for this error: 2 for user errors, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Internal(_) => 1,
            _ => 2,
        }
    }
}

/// A short lowercase description of an I/O error, without the OS error number.
pub fn io_message(error: &io::Error) -> String {
    match error.kind() {
        io::ErrorKind::AddrInUse => "address already in use".to_owned(),
        io::ErrorKind::AddrNotAvailable => "address not available on this machine".to_owned(),
        io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        io::ErrorKind::NotFound => "no such file or directory".to_owned(),
        _ => {
            let text = error.to_string();
            // "Message (os error 98)" -> "message"
            let text = match text.find(" (os error") {
                Some(at) => text[..at].to_owned(),
                None => text,
            };
            let mut chars = text.chars();
            match chars.next() {
                Some(first) => first.to_lowercase().chain(chars).collect(),
                None => text,
            }
        }
    }
}

fn listen_hint(error: &io::Error, flag: &str, addr: &SocketAddr) -> String {
    match error.kind() {
        io::ErrorKind::AddrInUse => {
            format!("another process holds it; pick another with {flag} ADDR")
        }
        io::ErrorKind::PermissionDenied if addr.port() < 1024 => format!(
            "ports below 1024 need root or CAP_NET_BIND_SERVICE; pick another with {flag} ADDR"
        ),
        io::ErrorKind::AddrNotAvailable => format!(
            "use an address of this machine, e.g. 0.0.0.0:{}, with {flag} ADDR",
            addr.port()
        ),
        _ => format!("pick another with {flag} ADDR"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_port_is_one_line_with_a_fix() {
        let error = Error::Listen {
            what: "SIP over UDP",
            flag: "--sip-udp",
            addr: SocketAddr::from(([0, 0, 0, 0], 5060)),
            source: io::Error::from(io::ErrorKind::AddrInUse),
        };
        assert_eq!(
            error.to_string(),
            "cannot listen for SIP over UDP on 0.0.0.0:5060: address already in use \
             (another process holds it; pick another with --sip-udp ADDR)"
        );
        assert_eq!(error.exit_code(), 2);
    }

    #[test]
    fn os_error_numbers_are_dropped() {
        let error = io::Error::from_raw_os_error(28); // ENOSPC on Linux
        let text = io_message(&error);
        assert!(!text.contains("os error"), "{text}");
        assert!(text.starts_with(|c: char| !c.is_uppercase()), "{text}");
    }
}
