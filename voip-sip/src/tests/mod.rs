//! Scenario tests in virtual time over a simulated network.

mod dialog;
mod net;
mod proxy;
mod transaction;
