//! Call-progress tones per country, after the ITU-T E.180 supplement
//! ("Various tones used in national networks").
//!
//! Frequencies and cadences are the supplement's; levels are typical
//! sending levels (North America's from Telcordia LSSGR: dial −13 dBm0,
//! ringback −19 dBm0, busy and reorder −24 dBm0 per frequency; elsewhere
//! −10 dBm0 for a single frequency, −13 dBm0 per frequency for pairs).
//! Where a country's tone is a modulated one (Japan's ringback, India's
//! tones) it is a carrier amplitude-modulated at the stated rate.

use super::{Component, Tone};

/// The kind of call-progress tone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ToneKind {
    /// Dial tone: the line is ready for digits.
    Dial,
    /// Ringback (ringing tone): the called party is being alerted.
    Ringback,
    /// Busy: the called party is busy.
    Busy,
    /// Congestion (reorder, "network busy"): the network cannot complete the call.
    Congestion,
}

/// Countries with a tone table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Country {
    /// United States (and Canada: [`Country::from_code`] maps CA here).
    Us,
    /// United Kingdom.
    Gb,
    /// Germany.
    De,
    /// France.
    Fr,
    /// Italy.
    It,
    /// Spain.
    Es,
    /// Netherlands.
    Nl,
    /// Japan.
    Jp,
    /// Australia.
    Au,
    /// China.
    Cn,
    /// India.
    In,
    /// Brazil.
    Br,
    /// Russia.
    Ru,
}

impl Country {
    /// Every country with a table.
    pub const ALL: [Country; 13] = [
        Country::Us,
        Country::Gb,
        Country::De,
        Country::Fr,
        Country::It,
        Country::Es,
        Country::Nl,
        Country::Jp,
        Country::Au,
        Country::Cn,
        Country::In,
        Country::Br,
        Country::Ru,
    ];

    /// The country for an ISO 3166 alpha-2 code (case-insensitive; "UK" is
    /// accepted for GB, "CA" maps to the North American tones).
    pub fn from_code(code: &str) -> Option<Country> {
        Some(match code.to_ascii_uppercase().as_str() {
            "US" | "CA" => Country::Us,
            "GB" | "UK" => Country::Gb,
            "DE" => Country::De,
            "FR" => Country::Fr,
            "IT" => Country::It,
            "ES" => Country::Es,
            "NL" => Country::Nl,
            "JP" => Country::Jp,
            "AU" => Country::Au,
            "CN" => Country::Cn,
            "IN" => Country::In,
            "BR" => Country::Br,
            "RU" => Country::Ru,
            _ => return None,
        })
    }

    /// The ISO 3166 alpha-2 code.
    pub fn code(self) -> &'static str {
        match self {
            Country::Us => "US",
            Country::Gb => "GB",
            Country::De => "DE",
            Country::Fr => "FR",
            Country::It => "IT",
            Country::Es => "ES",
            Country::Nl => "NL",
            Country::Jp => "JP",
            Country::Au => "AU",
            Country::Cn => "CN",
            Country::In => "IN",
            Country::Br => "BR",
            Country::Ru => "RU",
        }
    }

    /// This country's `kind` tone.
    pub fn tone(self, kind: ToneKind) -> Tone {
        use Country::*;
        use ToneKind::*;
        let single = |f: f64| vec![Component::sine(f, -10.0)];
        let pair =
            |a: f64, b: f64, dbm0: f64| vec![Component::sine(a, dbm0), Component::sine(b, dbm0)];
        let am = |carrier: f64, modulation: f64| {
            vec![Component::Modulated {
                carrier,
                modulation,
                depth: 0.85,
                dbm0: -10.0,
            }]
        };
        match (self, kind) {
            (Us, Dial) => Tone::continuous(pair(350.0, 440.0, -13.0)),
            (Us, Ringback) => Tone::cadenced(pair(440.0, 480.0, -19.0), &[(2000, 4000)]),
            (Us, Busy) => Tone::cadenced(pair(480.0, 620.0, -24.0), &[(500, 500)]),
            (Us, Congestion) => Tone::cadenced(pair(480.0, 620.0, -24.0), &[(250, 250)]),

            (Gb, Dial) => Tone::continuous(pair(350.0, 440.0, -13.0)),
            (Gb, Ringback) => Tone::cadenced(pair(400.0, 450.0, -13.0), &[(400, 200), (400, 2000)]),
            (Gb, Busy) => Tone::cadenced(single(400.0), &[(375, 375)]),
            (Gb, Congestion) => Tone::cadenced(single(400.0), &[(400, 350), (225, 525)]),

            (De, Dial) => Tone::continuous(single(425.0)),
            (De, Ringback) => Tone::cadenced(single(425.0), &[(1000, 4000)]),
            (De, Busy) => Tone::cadenced(single(425.0), &[(480, 480)]),
            (De, Congestion) => Tone::cadenced(single(425.0), &[(240, 240)]),

            (Fr, Dial) => Tone::continuous(single(440.0)),
            (Fr, Ringback) => Tone::cadenced(single(440.0), &[(1500, 3500)]),
            (Fr, Busy) => Tone::cadenced(single(440.0), &[(500, 500)]),
            (Fr, Congestion) => Tone::cadenced(single(440.0), &[(250, 250)]),

            (It, Dial) => Tone::cadenced(single(425.0), &[(200, 200), (600, 1000)]),
            (It, Ringback) => Tone::cadenced(single(425.0), &[(1000, 4000)]),
            (It, Busy) => Tone::cadenced(single(425.0), &[(500, 500)]),
            (It, Congestion) => Tone::cadenced(single(425.0), &[(200, 200)]),

            (Es, Dial) => Tone::continuous(single(425.0)),
            (Es, Ringback) => Tone::cadenced(single(425.0), &[(1500, 3000)]),
            (Es, Busy) => Tone::cadenced(single(425.0), &[(200, 200)]),
            (Es, Congestion) => {
                Tone::cadenced(single(425.0), &[(200, 200), (200, 200), (200, 600)])
            }

            (Nl, Dial) => Tone::continuous(single(425.0)),
            (Nl, Ringback) => Tone::cadenced(single(425.0), &[(1000, 4000)]),
            (Nl, Busy) => Tone::cadenced(single(425.0), &[(500, 500)]),
            (Nl, Congestion) => Tone::cadenced(single(425.0), &[(250, 250)]),

            (Jp, Dial) => Tone::continuous(single(400.0)),
            (Jp, Ringback) => Tone::cadenced(am(400.0, 16.0), &[(1000, 2000)]),
            (Jp, Busy) => Tone::cadenced(single(400.0), &[(500, 500)]),
            (Jp, Congestion) => Tone::cadenced(single(400.0), &[(500, 500)]),

            (Au, Dial) => Tone::continuous(pair(413.0, 438.0, -13.0)),
            (Au, Ringback) => Tone::cadenced(pair(413.0, 438.0, -13.0), &[(400, 200), (400, 2000)]),
            (Au, Busy) => Tone::cadenced(single(425.0), &[(375, 375)]),
            (Au, Congestion) => Tone::from_segments(
                vec![
                    super::Segment {
                        duration_ms: 375,
                        components: single(425.0),
                    },
                    super::Segment {
                        duration_ms: 375,
                        components: Vec::new(),
                    },
                    super::Segment {
                        duration_ms: 375,
                        components: single(420.0),
                    },
                    super::Segment {
                        duration_ms: 375,
                        components: Vec::new(),
                    },
                ],
                true,
            ),

            (Cn, Dial) => Tone::continuous(single(450.0)),
            (Cn, Ringback) => Tone::cadenced(single(450.0), &[(1000, 4000)]),
            (Cn, Busy) => Tone::cadenced(single(450.0), &[(350, 350)]),
            (Cn, Congestion) => Tone::cadenced(single(450.0), &[(700, 700)]),

            (In, Dial) => Tone::continuous(am(400.0, 25.0)),
            (In, Ringback) => Tone::cadenced(am(400.0, 25.0), &[(400, 200), (400, 2000)]),
            (In, Busy) => Tone::cadenced(single(400.0), &[(750, 750)]),
            (In, Congestion) => Tone::cadenced(single(400.0), &[(250, 250)]),

            (Br, Dial) => Tone::continuous(single(425.0)),
            (Br, Ringback) => Tone::cadenced(single(425.0), &[(1000, 4000)]),
            (Br, Busy) => Tone::cadenced(single(425.0), &[(250, 250)]),
            (Br, Congestion) => Tone::cadenced(single(425.0), &[(250, 250), (750, 250)]),

            (Ru, Dial) => Tone::continuous(single(425.0)),
            (Ru, Ringback) => Tone::cadenced(single(425.0), &[(800, 3200)]),
            (Ru, Busy) => Tone::cadenced(single(425.0), &[(350, 350)]),
            (Ru, Congestion) => Tone::cadenced(single(425.0), &[(175, 175)]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{amplitude, block_on_off};
    use super::*;
    use crate::MediaSource;

    /// (country, kind, frequencies that must sound, on/off cadence of one cycle).
    type Expectation = (Country, ToneKind, Vec<f64>, Vec<(u32, u32)>);

    fn expectations() -> Vec<Expectation> {
        use Country::*;
        use ToneKind::*;
        vec![
            (Us, Dial, vec![350.0, 440.0], vec![]),
            (Us, Ringback, vec![440.0, 480.0], vec![(2000, 4000)]),
            (Us, Busy, vec![480.0, 620.0], vec![(500, 500)]),
            (Us, Congestion, vec![480.0, 620.0], vec![(250, 250)]),
            (Gb, Dial, vec![350.0, 440.0], vec![]),
            (
                Gb,
                Ringback,
                vec![400.0, 450.0],
                vec![(400, 200), (400, 2000)],
            ),
            (Gb, Busy, vec![400.0], vec![(375, 375)]),
            (Gb, Congestion, vec![400.0], vec![(400, 350), (225, 525)]),
            (De, Dial, vec![425.0], vec![]),
            (De, Ringback, vec![425.0], vec![(1000, 4000)]),
            (De, Busy, vec![425.0], vec![(480, 480)]),
            (De, Congestion, vec![425.0], vec![(240, 240)]),
            (Fr, Dial, vec![440.0], vec![]),
            (Fr, Ringback, vec![440.0], vec![(1500, 3500)]),
            (Fr, Busy, vec![440.0], vec![(500, 500)]),
            (It, Dial, vec![425.0], vec![(200, 200), (600, 1000)]),
            (
                Es,
                Congestion,
                vec![425.0],
                vec![(200, 200), (200, 200), (200, 600)],
            ),
            (Jp, Dial, vec![400.0], vec![]),
            (Jp, Ringback, vec![400.0, 384.0, 416.0], vec![(1000, 2000)]),
            (Au, Dial, vec![413.0, 438.0], vec![]),
            (Au, Congestion, vec![425.0], vec![(375, 375), (375, 375)]),
            (Cn, Busy, vec![450.0], vec![(350, 350)]),
            (In, Dial, vec![400.0, 375.0, 425.0], vec![]),
            (Br, Congestion, vec![425.0], vec![(250, 250), (750, 250)]),
            (Ru, Ringback, vec![425.0], vec![(800, 3200)]),
        ]
    }

    #[test]
    fn frequencies_measure_as_specified() {
        for (country, kind, freqs, _) in expectations() {
            let mut g = country.tone(kind).generator();
            let on = g.next_frame(8000, 1600).unwrap().samples; // first 200 ms: sounding
            let strongest = freqs
                .iter()
                .map(|&f| amplitude(&on, 8000, f))
                .fold(0.0, f64::max);
            for &f in &freqs {
                let a = amplitude(&on, 8000, f);
                assert!(
                    a > strongest * 0.1,
                    "{country:?} {kind:?}: {f} Hz at {a:.0}"
                );
            }
            // Nothing at a frequency the tone does not have.
            for off in [300.0, 700.0, 1000.0, 1500.0] {
                let a = amplitude(&on, 8000, off);
                assert!(
                    a < strongest * 0.01,
                    "{country:?} {kind:?}: stray {off} Hz at {a:.0}"
                );
            }
        }
    }

    #[test]
    fn cadences_measure_as_specified() {
        for (country, kind, _, cadence) in expectations() {
            let tone = country.tone(kind);
            let mut g = tone.generator();
            let cycle = tone.cycle_ms() as usize;
            let samples = g.next_frame(8000, 8 * 2 * cycle).unwrap().samples;
            let runs = block_on_off(&samples, 8000);
            if cadence.is_empty() {
                assert_eq!(runs, vec![(true, 2 * cycle as u32)], "{country:?} {kind:?}");
                continue;
            }
            let mut expected = Vec::new();
            for _ in 0..2 {
                for &(on, off) in &cadence {
                    expected.push((true, on));
                    expected.push((false, off));
                }
            }
            assert_eq!(runs, expected, "{country:?} {kind:?}");
        }
    }

    #[test]
    fn every_table_is_complete_and_codes_round_trip() {
        for country in Country::ALL {
            assert_eq!(Country::from_code(country.code()), Some(country));
            for kind in [
                ToneKind::Dial,
                ToneKind::Ringback,
                ToneKind::Busy,
                ToneKind::Congestion,
            ] {
                let tone = country.tone(kind);
                assert!(tone.cycle_ms() > 0);
                let mut g = tone.generator();
                let f = g.next_frame(16000, 320).unwrap();
                assert!(
                    f.samples.iter().any(|&s| s != 0),
                    "{country:?} {kind:?} starts silent"
                );
            }
        }
        assert_eq!(Country::from_code("uk"), Some(Country::Gb));
        assert_eq!(Country::from_code("ca"), Some(Country::Us));
        assert_eq!(Country::from_code("XX"), None);
    }
}
