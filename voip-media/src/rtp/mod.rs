//! RTP sessions and RTCP (RFC 3550): sequence and timestamp tracking, SSRC changes, SR/RR/SDES/BYE, rtcp-mux, jitter and loss statistics, and per-leg quality (ITU-T G.107 E-model MOS).
