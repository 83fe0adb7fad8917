//! SRTP for SIP legs: SDES key exchange (RFC 4568 `a=crypto`) and protect/unprotect through `webrtc-srtp`, with replay protection (RFC 3711 §3.3.2).
