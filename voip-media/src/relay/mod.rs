//! Media relay (rtpengine's role): anchoring RTP between two legs with latching, optional transcoding and one-sided SRTP; a sans-IO core and a batched tokio UDP driver.
