//! Scenario tests in virtual time over a simulated network.

mod net;
mod proxy;
mod transaction;
