//! From espeak-ng's IPA clauses to Piper's phoneme ids.
//!
//! `espeak-ng --ipa -q` prints one line per clause and drops the punctuation
//! that ended it; Piper voices were trained with that punctuation kept (the
//! library call Piper uses returns it). We put it back from the text, split
//! into sentences at `.`, `!` and `?` (one inference per sentence, as Piper
//! does), and map each character through the voice's `phoneme_id_map`:
//!
//! ```text
//! ids = [^] [_]  p1 [_]  p2 [_] ... pn [_]  [$]
//! ```
//! (`^` begin, `$` end, `_` pad between every phoneme: Piper's BOS/EOS/pad
//! convention).

use std::collections::HashMap;

/// Clause-ending punctuation espeak-ng splits at.
const CLAUSE_END: [char; 6] = ['.', ',', ';', ':', '!', '?'];

/// The punctuation that ends each clause of `text`, in order: a clause mark
/// followed by white space or the end (so `1,000` and `3.5` do not split).
pub(crate) fn clause_marks(text: &str) -> Vec<char> {
    let chars: Vec<char> = text.chars().collect();
    let mut marks = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if CLAUSE_END.contains(&c) {
            // A run like "?!" or "..." ends one clause; its first mark counts.
            let mut j = i;
            while j + 1 < chars.len() && CLAUSE_END.contains(&chars[j + 1]) {
                j += 1;
            }
            let at_break = chars
                .get(j + 1)
                .is_none_or(|n| n.is_whitespace() || matches!(n, '"' | '\'' | ')'));
            if at_break {
                marks.push(c);
            }
            i = j + 1;
        } else {
            i += 1;
        }
    }
    marks
}

/// Sentences of phonemes, each clause followed by its punctuation.
pub(crate) fn sentences(text: &str, clauses: &[String]) -> Vec<String> {
    let mut marks = clause_marks(text);
    if marks.len() + 1 == clauses.len() {
        // The last clause had no punctuation.
        marks.push('.');
    }
    if marks.len() != clauses.len() {
        // espeak split differently (a long clause, an abbreviation): commas
        // between its clauses and a full stop at the end.
        marks = (0..clauses.len())
            .map(|i| if i + 1 == clauses.len() { '.' } else { ',' })
            .collect();
    }
    let mut out = Vec::new();
    let mut current = String::new();
    for (clause, mark) in clauses.iter().zip(marks) {
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(clause);
        current.push(mark);
        if matches!(mark, '.' | '!' | '?') {
            out.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// The phoneme table of a voice.
#[derive(Debug, Clone)]
pub(crate) struct PhonemeIds {
    map: HashMap<char, Vec<i64>>,
    bos: Vec<i64>,
    eos: Vec<i64>,
    pad: Vec<i64>,
}

impl PhonemeIds {
    /// From the config's `phoneme_id_map` (single-character keys).
    pub(crate) fn new(map: &HashMap<String, Vec<i64>>) -> Result<Self, String> {
        let single: HashMap<char, Vec<i64>> = map
            .iter()
            .filter_map(|(k, v)| {
                let mut chars = k.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) => Some((c, v.clone())),
                    _ => None,
                }
            })
            .collect();
        let get = |c: char| {
            single
                .get(&c)
                .cloned()
                .ok_or_else(|| format!("phoneme_id_map has no `{c}`"))
        };
        Ok(PhonemeIds {
            bos: get('^')?,
            eos: get('$')?,
            pad: get('_')?,
            map: single,
        })
    }

    /// The ids of a sentence and the characters that had none (skipped).
    pub(crate) fn ids(&self, phonemes: &str) -> (Vec<i64>, Vec<char>) {
        let mut ids = self.bos.clone();
        ids.extend(&self.pad);
        let mut missing = Vec::new();
        for c in phonemes.chars() {
            match self.map.get(&c) {
                Some(id) => {
                    ids.extend(id);
                    ids.extend(&self.pad);
                }
                None => missing.push(c),
            }
        }
        ids.extend(&self.eos);
        (ids, missing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_at_clause_ends_only() {
        assert_eq!(
            clause_marks("Welcome to our service. Press 1 for sales, 2 for support, or 0 again."),
            vec!['.', ',', ',', '.']
        );
        assert_eq!(
            clause_marks("It costs 1,000 dollars, or 3.5 euros"),
            vec![',']
        );
        assert_eq!(
            clause_marks("What?! Really... \"yes.\""),
            vec!['?', '.', '.']
        );
        assert!(clause_marks("no punctuation").is_empty());
    }

    #[test]
    fn sentences_put_punctuation_back() {
        let clauses: Vec<String> = ["wˈɛlkʌm", "pɹˈɛs wˈʌn", "tˈuː", "ɔːɹ zˈiəɹoʊ"]
            .map(String::from)
            .to_vec();
        let text = "Welcome. Press one, two, or zero";
        assert_eq!(
            sentences(text, &clauses),
            vec!["wˈɛlkʌm.", "pɹˈɛs wˈʌn, tˈuː, ɔːɹ zˈiəɹoʊ."]
        );
        // Counts that do not match: commas, then a full stop.
        let two: Vec<String> = vec!["a".into(), "b".into()];
        assert_eq!(sentences("x. y. z.", &two), vec!["a, b."]);
        assert!(sentences("", &[]).is_empty());
    }

    #[test]
    fn ids_follow_pipers_convention() {
        let map: HashMap<String, Vec<i64>> =
            [("_", 0), ("^", 1), ("$", 2), (" ", 3), ("a", 14), ("b", 15)]
                .into_iter()
                .map(|(k, v)| (k.to_string(), vec![v]))
                .collect();
        let table = PhonemeIds::new(&map).unwrap();
        let (ids, missing) = table.ids("ab a?");
        assert_eq!(ids, vec![1, 0, 14, 0, 15, 0, 3, 0, 14, 0, 2]);
        assert_eq!(missing, vec!['?']);
        let mut no_pad = map.clone();
        no_pad.remove("_");
        assert!(PhonemeIds::new(&no_pad).unwrap_err().contains('_'));
    }
}
