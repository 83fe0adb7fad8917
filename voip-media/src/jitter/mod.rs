//! Adaptive jitter buffer, packet-loss concealment hooks and comfort noise (RFC 3389).
