//! Shared harness for the cross-crate and interop tests.
#![forbid(unsafe_code)]
