//! DTMF: RFC 4733 telephone-events (send and receive), SIP INFO `application/dtmf-relay` bodies, an in-band Goertzel detector (ITU-T Q.24), and de-duplication across sources.
