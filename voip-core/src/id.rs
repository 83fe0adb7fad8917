//! Small `Copy` identifiers.

use std::fmt;

/// Identifies one connection (TCP, TLS, WebSocket) inside a transport driver.
///
/// Ids are never reused within one driver's lifetime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId(pub u64);

impl fmt::Display for ConnectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "conn#{}", self.0)
    }
}
