//! Scenario tests in virtual time over a simulated network.

mod dialog;
pub(crate) mod net;
mod proxy;
mod transaction;
