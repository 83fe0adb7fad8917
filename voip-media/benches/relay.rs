//! Relay throughput (filled in below).
fn main() {}
