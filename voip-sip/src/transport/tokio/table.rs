//! The connection table: limits, ids, and lookup for connection reuse
//! (RFC 3261 §18.2.2, RFC 5923).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use tokio::sync::mpsc;
use voip_core::{ConnectionId, TransportProtocol};

/// An open connection as seen by senders.
#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) protocol: TransportProtocol,
    pub(crate) peer: SocketAddr,
    pub(crate) queue: mpsc::Sender<Bytes>,
}

#[derive(Debug, Default)]
struct Inner {
    next_id: u64,
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
    connections: HashMap<ConnectionId, Entry>,
    by_peer: HashMap<(TransportProtocol, SocketAddr), ConnectionId>,
}

/// All connections of one [`Transports`](super::Transports).
#[derive(Debug)]
pub(crate) struct Table {
    inner: Mutex<Inner>,
    max_total: usize,
    max_per_ip: usize,
}

impl Table {
    pub(crate) fn new(max_total: usize, max_per_ip: usize) -> Self {
        Self {
            inner: Mutex::default(),
            max_total,
            max_per_ip,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Takes a place for a connection with `ip`, or None over the limits.
    pub(crate) fn reserve(self: &Arc<Self>, ip: IpAddr) -> Option<Slot> {
        let mut inner = self.lock();
        let from_ip = inner.per_ip.get(&ip).copied().unwrap_or(0);
        if inner.total >= self.max_total || from_ip >= self.max_per_ip {
            return None;
        }
        inner.total += 1;
        inner.per_ip.insert(ip, from_ip + 1);
        inner.next_id += 1;
        Some(Slot {
            table: Arc::clone(self),
            id: ConnectionId(inner.next_id),
            ip,
        })
    }

    /// The queue of connection `id` if it is open and speaks `protocol`, else
    /// of the newest open connection to `destination` over `protocol`.
    pub(crate) fn lookup(
        &self,
        id: Option<ConnectionId>,
        protocol: TransportProtocol,
        destination: SocketAddr,
    ) -> Option<(ConnectionId, mpsc::Sender<Bytes>)> {
        let inner = self.lock();
        let by_id = id.and_then(|id| {
            inner
                .connections
                .get(&id)
                .filter(|e| e.protocol == protocol && !e.queue.is_closed())
                .map(|e| (id, e.queue.clone()))
        });
        by_id.or_else(|| {
            let id = *inner.by_peer.get(&(protocol, destination))?;
            let entry = inner
                .connections
                .get(&id)
                .filter(|e| !e.queue.is_closed())?;
            Some((id, entry.queue.clone()))
        })
    }

    /// Connections in the table (open or handshaking).
    pub(crate) fn len(&self) -> usize {
        self.lock().total
    }
}

/// A reserved place in the [`Table`]; dropping it frees the place and
/// removes the connection.
#[derive(Debug)]
pub(crate) struct Slot {
    table: Arc<Table>,
    id: ConnectionId,
    ip: IpAddr,
}

impl Slot {
    pub(crate) fn id(&self) -> ConnectionId {
        self.id
    }

    /// Makes the connection visible to senders.
    pub(crate) fn activate(&self, entry: Entry) {
        let mut inner = self.table.lock();
        inner.by_peer.insert((entry.protocol, entry.peer), self.id);
        inner.connections.insert(self.id, entry);
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut inner = self.table.lock();
        inner.total = inner.total.saturating_sub(1);
        if let Some(n) = inner.per_ip.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                inner.per_ip.remove(&self.ip);
            }
        }
        if let Some(entry) = inner.connections.remove(&self.id) {
            let key = (entry.protocol, entry.peer);
            if inner.by_peer.get(&key) == Some(&self.id) {
                inner.by_peer.remove(&key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_and_release() {
        let table = Arc::new(Table::new(3, 2));
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let s1 = table.reserve(a).unwrap();
        let _s2 = table.reserve(a).unwrap();
        assert!(table.reserve(a).is_none(), "per-ip limit");
        let _s3 = table.reserve(b).unwrap();
        assert!(table.reserve(b).is_none(), "total limit");
        drop(s1);
        assert!(table.reserve(a).is_some());
    }

    #[test]
    fn lookup_by_id_then_peer() {
        let table = Arc::new(Table::new(10, 10));
        let peer: SocketAddr = "10.0.0.1:5060".parse().unwrap();
        let slot = table.reserve(peer.ip()).unwrap();
        let (tx, _rx) = mpsc::channel(1);
        slot.activate(Entry {
            protocol: TransportProtocol::Tcp,
            peer,
            queue: tx,
        });
        let found = table.lookup(None, TransportProtocol::Tcp, peer);
        assert_eq!(found.map(|f| f.0), Some(slot.id()));
        let other = ConnectionId(999);
        let found = table.lookup(Some(other), TransportProtocol::Tcp, peer);
        assert_eq!(found.map(|f| f.0), Some(slot.id()));
        assert!(table.lookup(None, TransportProtocol::Tls, peer).is_none());
        drop(slot);
        assert!(table.lookup(None, TransportProtocol::Tcp, peer).is_none());
        assert_eq!(table.len(), 0);
    }
}
