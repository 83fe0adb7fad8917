//! Shared lexical helpers for header values (RFC 3261 §25.1).

use bytes::Bytes;

use super::HeaderError;
use crate::charset::{PARAM_VALUE, TOKEN, run};
use crate::uri::Params;

/// `token` characters.
#[inline(always)]
pub(crate) fn is_token_char(c: u8) -> bool {
    crate::charset::is(c, crate::charset::TOKEN)
}

#[inline(always)]
pub(crate) fn is_ws(c: u8) -> bool {
    c == b' ' || c == b'\t'
}

/// Given `b[start] == b'"'`, returns the index just past the closing quote.
pub(crate) fn skip_quoted(b: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    while i < b.len() {
        match b[i] {
            b'\\' => {
                // quoted-pair: any octet but CR and LF
                match b.get(i + 1) {
                    Some(b'\r' | b'\n') | None => return None,
                    Some(_) => i += 2,
                }
            }
            b'"' => return Some(i + 1),
            b'\r' | b'\n' => return None,
            _ => i += 1,
        }
    }
    None
}

/// Splits a list value at top-level commas (outside quotes and `<>`),
/// trimming each item. An empty value yields nothing; empty items are
/// yielded (and fail to parse).
pub(crate) fn split_list(value: &Bytes) -> ListItems<'_> {
    ListItems {
        value,
        ranges: list_ranges(value, 0, value.len()),
    }
}

/// The items of a comma-separated header value.
#[derive(Debug)]
pub(crate) struct ListItems<'a> {
    value: &'a Bytes,
    ranges: ListRanges<'a>,
}

impl Iterator for ListItems<'_> {
    type Item = Bytes;

    fn next(&mut self) -> Option<Bytes> {
        self.ranges.next().map(|(s, e)| self.value.slice(s..e))
    }
}

/// [`split_list`] over `buf[start..end]`, yielding each item's range in
/// `buf`.
pub(crate) fn list_ranges(buf: &[u8], start: usize, end: usize) -> ListRanges<'_> {
    let b = &buf[..end];
    ListRanges {
        b,
        pos: start,
        done: b[start..].iter().all(|c| is_ws(*c)),
    }
}

/// The item ranges of a comma-separated header value.
#[derive(Debug)]
pub(crate) struct ListRanges<'a> {
    b: &'a [u8],
    pos: usize,
    done: bool,
}

impl Iterator for ListRanges<'_> {
    type Item = (usize, usize);

    fn next(&mut self) -> Option<(usize, usize)> {
        if self.done {
            return None;
        }
        let b = self.b;
        let start = self.pos;
        let mut i = start;
        let mut angle = false;
        while i < b.len() {
            match b[i] {
                b'"' if !angle => match skip_quoted(b, i) {
                    Some(end) => {
                        i = end;
                        continue;
                    }
                    None => {
                        i = b.len();
                        break;
                    }
                },
                b'<' => angle = true,
                b'>' => angle = false,
                b',' if !angle => break,
                _ => {}
            }
            i += 1;
        }
        if i >= b.len() {
            self.done = true;
        }
        self.pos = i + 1;
        Some(trim(b, start, i.min(b.len())))
    }
}

/// Trims whitespace from `b[s..e]`, returning the new bounds.
pub(crate) fn trim(b: &[u8], mut s: usize, mut e: usize) -> (usize, usize) {
    while s < e && is_ws(b[s]) {
        s += 1;
    }
    while e > s && is_ws(b[e - 1]) {
        e -= 1;
    }
    (s, e)
}

/// Parses `*( SEMI generic-param )` from `pos` to the end of `raw`, with
/// optional whitespace around `;` and `=`. Values are tokens, hosts
/// (including IPv6 with or without brackets) or quoted strings, kept raw.
pub(crate) fn parse_params(
    raw: &Bytes,
    pos: usize,
    what: &'static str,
) -> Result<Params, HeaderError> {
    parse_params_until(raw, pos, raw.len(), what)
}

/// [`parse_params`] over `raw[pos..end]`: validated in one pass, kept as
/// the wire text from the first `;` to the end of the last parameter.
pub(crate) fn parse_params_until(
    raw: &Bytes,
    pos: usize,
    end: usize,
    what: &'static str,
) -> Result<Params, HeaderError> {
    let (first, last) = params_range(raw, pos, end, what)?;
    Ok(if last == first {
        Params::new()
    } else {
        Params::from_raw(raw.slice(first..last))
    })
}

/// [`parse_params_until`] without the slicing: the range of `b` the
/// parameters take (empty when there are none).
pub(crate) fn params_range(
    b: &[u8],
    pos: usize,
    end: usize,
    what: &'static str,
) -> Result<(usize, usize), HeaderError> {
    params_range_finding(b, pos, end, what, b"").map(|(range, _)| range)
}

/// What a parser learnt of one parameter while validating the list (so
/// that reading it later, e.g. a Via `branch` or a From `tag`, costs no
/// second scan).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Found {
    /// Not looked for (a value built by setters): scan when asked.
    Unknown,
    /// Not among the parameters.
    Absent,
    /// Present without value (`;lr`).
    Flag,
    /// Present; its value, as received (quotes included), at this offset
    /// from the parameters' start and of this length.
    Value(u16, u16),
}

impl Found {
    /// The value (unquoted) from the parameters' text, or `None` when it is
    /// absent or a flag; `Err(())` when it was not recorded.
    #[inline]
    pub(crate) fn value(self, params: &[u8]) -> Result<Option<&[u8]>, ()> {
        match self {
            Self::Unknown => Err(()),
            Self::Absent | Self::Flag => Ok(None),
            Self::Value(s, l) => {
                let (s, l) = (usize::from(s), usize::from(l));
                Ok(params.get(s..s + l).map(crate::uri::unquote))
            }
        }
    }
}

/// [`params_range`], also noting the first parameter named `want` (any
/// case; nothing is noted for an empty `want`).
#[inline]
pub(crate) fn params_range_finding(
    b: &[u8],
    pos: usize,
    end: usize,
    what: &'static str,
    want: &[u8],
) -> Result<((usize, usize), Found), HeaderError> {
    let b = &b[..end];
    let bad = HeaderError::Invalid(what);
    let mut pos = skip_ws(b, pos);
    let first = pos;
    let mut last = pos;
    let mut found = if want.is_empty() {
        Found::Unknown
    } else {
        Found::Absent
    };
    // here `pos` is at a byte that is not a blank, or at the end
    while pos < b.len() {
        if b[pos] != b';' {
            return Err(bad);
        }
        pos = skip_ws(b, pos + 1);
        let ns = pos;
        pos = run(b, pos, b.len(), TOKEN);
        if pos == ns {
            return Err(bad);
        }
        let wanted = found == Found::Absent
            && pos - ns == want.len()
            && b[ns..pos].eq_ignore_ascii_case(want);
        last = pos;
        pos = skip_ws(b, pos);
        if b.get(pos) == Some(&b'=') {
            pos = skip_ws(b, pos + 1);
            let vs = pos;
            if b.get(pos) == Some(&b'"') {
                pos = skip_quoted(b, pos).ok_or(bad)?;
            } else {
                pos = run(b, pos, b.len(), PARAM_VALUE);
            }
            if pos == vs {
                return Err(bad);
            }
            if wanted {
                found = match (u16::try_from(vs - first), u16::try_from(pos - vs)) {
                    (Ok(s), Ok(l)) => Found::Value(s, l),
                    _ => Found::Unknown,
                };
            }
            last = pos;
            pos = skip_ws(b, pos);
        } else if wanted {
            found = Found::Flag;
        }
    }
    Ok(((first, last), found))
}

#[inline(always)]
fn skip_ws(b: &[u8], mut pos: usize) -> usize {
    while pos < b.len() && is_ws(b[pos]) {
        pos += 1;
    }
    pos
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_noted_parameter_reads_as_a_scan() {
        for raw in [
            ";branch=z9hG4bK1;rport",
            " ; rport ; BRANCH = \"a;b\" ;branch=2",
            ";branchx=1;branch",
            ";x=\"branch=3\";branch=4",
            ";tag=;x",
            ";b=[2001:db8::1];branch=host:5060",
            "",
        ] {
            let b = raw.as_bytes();
            let Ok(((s, e), found)) = params_range_finding(b, 0, b.len(), "t", b"branch") else {
                continue;
            };
            let params = crate::uri::ParamsRef::over(&b[s..e]);
            assert_eq!(
                found.value(params.as_bytes()),
                Ok(params.value("branch")),
                "{raw}"
            );
        }
    }

    fn items(s: &'static str) -> Vec<String> {
        split_list(&Bytes::from_static(s.as_bytes()))
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .collect()
    }

    #[test]
    fn list_splitting() {
        assert_eq!(items("a, b ,c"), ["a", "b", "c"]);
        assert_eq!(
            items("\"x,y\" <sip:a,b@c>;p=1, d"),
            ["\"x,y\" <sip:a,b@c>;p=1", "d"]
        );
        assert_eq!(items("  "), Vec::<String>::new());
        assert_eq!(items("a,,"), ["a", "", ""]);
    }

    #[test]
    fn params_with_spaces_quotes_and_colons() {
        let raw =
            Bytes::from_static(b" ;   tag    = 19n ; received=2001:db8::9:255;rport; x=\"a;b\"");
        let p = parse_params(&raw, 0, "test").unwrap();
        assert_eq!(p.value("tag"), Some(&b"19n"[..]));
        assert_eq!(p.value("received"), Some(&b"2001:db8::9:255"[..]));
        assert_eq!(p.get("rport"), Some(None));
        assert_eq!(p.value("x"), Some(&b"a;b"[..]));
        assert!(parse_params(&Bytes::from_static(b";;"), 0, "t").is_err());
        assert!(parse_params(&Bytes::from_static(b";a="), 0, "t").is_err());
        assert!(parse_params(&Bytes::from_static(b";a=\"open"), 0, "t").is_err());
    }

    #[test]
    fn quoted_pairs() {
        assert_eq!(skip_quoted(b"\"a\\\"b\" x", 0), Some(6));
        assert_eq!(skip_quoted(b"\"open", 0), None);
        assert_eq!(skip_quoted(b"\"\\\x00\"", 0), Some(4));
    }
}
