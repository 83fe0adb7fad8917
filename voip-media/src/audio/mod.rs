//! Audio plumbing: WAV playback and recording, resampling between 8, 16 and 48 kHz, and the N-party mixer.
