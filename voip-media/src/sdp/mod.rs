//! SDP offer/answer (RFC 3264) on `sdp-types`: codec negotiation, telephone-event, ptime, direction (hold/resume), rtcp-mux, crypto, re-INVITE updates.
