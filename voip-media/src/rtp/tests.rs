//! Scenario tests: two sessions in virtual time.
