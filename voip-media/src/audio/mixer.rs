//! [`Mixer`]: an N-party conference mix where everyone hears everyone but
//! themselves.
//!
//! Each tick, every participant pushes one frame ([`Mixer::push`]); then
//! [`Mixer::mix`] sums all inputs once into a 32-bit total and gives each
//! participant `total − own input`, saturated to 16 bits: O(N) work per
//! sample rather than O(N²). Buffers are sized when participants join, so a
//! steady-state tick allocates nothing. Participants that pushed nothing
//! this tick (a lost packet, a muted phone) count as silence.

/// A participant's handle in one [`Mixer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ParticipantId(u32);

#[derive(Debug, Clone)]
struct Slot {
    id: ParticipantId,
    input: Vec<i16>,
    output: Vec<i16>,
    /// Samples pushed this tick.
    filled: usize,
    muted: bool,
    gain_q8: i32,
}

/// An N-party "everyone but yourself" mixer for mono frames of a fixed
/// size and rate.
#[derive(Debug, Clone)]
pub struct Mixer {
    sample_rate: u32,
    frame: usize,
    slots: Vec<Slot>,
    total: Vec<i32>,
    /// Everyone together, for a conference recording.
    everyone: Vec<i16>,
    next_id: u32,
}

impl Mixer {
    /// A mixer for `frame_samples`-sample frames at `sample_rate`.
    pub fn new(sample_rate: u32, frame_samples: usize) -> Self {
        Self {
            sample_rate,
            frame: frame_samples,
            slots: Vec::new(),
            total: vec![0; frame_samples],
            everyone: vec![0; frame_samples],
            next_id: 0,
        }
    }

    /// The rate every frame must have.
    pub fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    /// Samples per frame.
    pub fn frame_samples(&self) -> usize {
        self.frame
    }

    /// Adds a participant (allocates its buffers).
    pub fn add(&mut self) -> ParticipantId {
        let id = ParticipantId(self.next_id);
        self.next_id = self.next_id.wrapping_add(1);
        self.slots.push(Slot {
            id,
            input: vec![0; self.frame],
            output: vec![0; self.frame],
            filled: 0,
            muted: false,
            gain_q8: 256,
        });
        id
    }

    /// Removes a participant; false if it was not there.
    pub fn remove(&mut self, id: ParticipantId) -> bool {
        let before = self.slots.len();
        self.slots.retain(|s| s.id != id);
        self.slots.len() != before
    }

    /// How many participants are in the mix.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether nobody is in the mix.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Mutes or unmutes a participant's input (it still hears the others).
    pub fn set_muted(&mut self, id: ParticipantId, muted: bool) {
        if let Some(slot) = self.slot_mut(id) {
            slot.muted = muted;
        }
    }

    /// Scales a participant's input by `gain` (0.0 to 4.0; 1.0 is unchanged).
    pub fn set_gain(&mut self, id: ParticipantId, gain: f32) {
        if let Some(slot) = self.slot_mut(id) {
            slot.gain_q8 = (gain.clamp(0.0, 4.0) * 256.0).round() as i32;
        }
    }

    /// Gives a participant's input for this tick. Samples beyond the frame
    /// size are ignored; a short push is padded with silence. Returns false
    /// for an unknown participant.
    pub fn push(&mut self, id: ParticipantId, samples: &[i16]) -> bool {
        let Some(slot) = self.slot_mut(id) else {
            return false;
        };
        let n = samples.len().min(slot.input.len());
        slot.input[..n].copy_from_slice(&samples[..n]);
        slot.filled = n;
        true
    }

    /// Mixes this tick: afterwards [`Mixer::output`] holds, for each
    /// participant, everyone else's audio. Inputs are cleared for the next tick.
    pub fn mix(&mut self) {
        self.total.fill(0);
        for slot in &mut self.slots {
            slot.input[slot.filled..].fill(0);
            if slot.muted {
                slot.input.fill(0);
            } else if slot.gain_q8 != 256 {
                for s in &mut slot.input {
                    *s = saturate((i32::from(*s) * slot.gain_q8) >> 8);
                }
            }
            for (t, &s) in self.total.iter_mut().zip(&slot.input) {
                *t += i32::from(s);
            }
        }
        for slot in &mut self.slots {
            for ((o, &t), &s) in slot.output.iter_mut().zip(&self.total).zip(&slot.input) {
                *o = saturate(t - i32::from(s));
            }
            slot.filled = 0;
        }
        for (e, &t) in self.everyone.iter_mut().zip(&self.total) {
            *e = saturate(t);
        }
    }

    /// What `id` hears after the last [`Mixer::mix`].
    pub fn output(&self, id: ParticipantId) -> Option<&[i16]> {
        self.slots
            .iter()
            .find(|s| s.id == id)
            .map(|s| s.output.as_slice())
    }

    /// Everyone together after the last [`Mixer::mix`] (for recording).
    pub fn everyone(&self) -> &[i16] {
        &self.everyone
    }

    /// The participants, in the order they joined.
    pub fn participants(&self) -> impl Iterator<Item = ParticipantId> + '_ {
        self.slots.iter().map(|s| s.id)
    }

    fn slot_mut(&mut self, id: ParticipantId) -> Option<&mut Slot> {
        self.slots.iter_mut().find(|s| s.id == id)
    }
}

fn saturate(x: i32) -> i16 {
    x.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everyone_hears_everyone_but_themselves() {
        let mut mixer = Mixer::new(8000, 4);
        let a = mixer.add();
        let b = mixer.add();
        let c = mixer.add();
        mixer.push(a, &[1, 1, 1, 1]);
        mixer.push(b, &[10, 10, 10, 10]);
        mixer.push(c, &[100, 100, 100, 100]);
        mixer.mix();
        assert_eq!(mixer.output(a).unwrap(), &[110; 4]);
        assert_eq!(mixer.output(b).unwrap(), &[101; 4]);
        assert_eq!(mixer.output(c).unwrap(), &[11; 4]);
        assert_eq!(mixer.everyone(), &[111; 4]);
        // Nobody pushed: silence all round.
        mixer.mix();
        assert_eq!(mixer.output(a).unwrap(), &[0; 4]);
    }

    #[test]
    fn sums_saturate() {
        let mut mixer = Mixer::new(8000, 2);
        let ids: Vec<_> = (0..4).map(|_| mixer.add()).collect();
        for &id in &ids {
            mixer.push(id, &[30_000, -30_000]);
        }
        mixer.mix();
        for &id in &ids {
            assert_eq!(mixer.output(id).unwrap(), &[i16::MAX, i16::MIN]);
        }
        // A loud participant does not wrap what the others hear of a quiet one.
        let mut mixer = Mixer::new(8000, 1);
        let loud = mixer.add();
        let quiet = mixer.add();
        let listener = mixer.add();
        mixer.push(loud, &[32_767]);
        mixer.push(quiet, &[100]);
        mixer.mix();
        assert_eq!(mixer.output(listener).unwrap(), &[32_767]);
        assert_eq!(mixer.output(loud).unwrap(), &[100]);
    }

    #[test]
    fn mute_gain_short_pushes_and_leaving() {
        let mut mixer = Mixer::new(8000, 4);
        let a = mixer.add();
        let b = mixer.add();
        let c = mixer.add();
        mixer.set_muted(a, true);
        mixer.set_gain(b, 0.5);
        mixer.push(a, &[1000; 4]);
        mixer.push(b, &[1000; 4]);
        mixer.push(c, &[7, 7]); // short: padded with silence
        mixer.mix();
        assert_eq!(mixer.output(a).unwrap(), &[507, 507, 500, 500]);
        assert_eq!(mixer.output(c).unwrap(), &[500; 4]);
        assert_eq!(mixer.output(b).unwrap(), &[7, 7, 0, 0]);
        assert!(mixer.remove(b));
        assert!(!mixer.remove(b));
        assert!(!mixer.push(b, &[1]));
        assert_eq!(mixer.len(), 2);
        assert_eq!(mixer.participants().collect::<Vec<_>>(), vec![a, c]);
        assert!(mixer.output(b).is_none());
    }

    #[test]
    fn steady_state_keeps_its_buffers() {
        let mut mixer = Mixer::new(48000, 960);
        let ids: Vec<_> = (0..10).map(|_| mixer.add()).collect();
        let frame = vec![123i16; 960];
        mixer.push(ids[0], &frame);
        mixer.mix();
        let pointers: Vec<*const i16> = ids
            .iter()
            .map(|&id| mixer.output(id).unwrap().as_ptr())
            .collect();
        for _ in 0..100 {
            for &id in &ids {
                mixer.push(id, &frame);
            }
            mixer.mix();
        }
        let after: Vec<*const i16> = ids
            .iter()
            .map(|&id| mixer.output(id).unwrap().as_ptr())
            .collect();
        assert_eq!(pointers, after);
        assert_eq!(mixer.output(ids[3]).unwrap()[0], 123 * 9);
    }
}
