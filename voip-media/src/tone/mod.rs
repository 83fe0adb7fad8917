//! Tone generation: DTMF, ringback, busy and congestion with per-country tables.
