//! `;name=value` parameters of URIs and headers.
//!
//! Parameters are kept as the raw text they arrived in (`;tag=1;lr`), which
//! costs no allocation when parsing; lookups scan it. They are validated
//! when the URI or header is parsed.

use std::fmt;

use bytes::{BufMut, Bytes, BytesMut};

/// One parameter, borrowed from its [`Params`]. Values are kept as received
/// (escaped, quoted if they were).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Param<'a> {
    /// The name (compare case-insensitively).
    pub name: &'a [u8],
    /// The value, if there was an `=`.
    pub value: Option<&'a [u8]>,
}

/// An ordered list of parameters, stored as their wire text.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Params {
    /// `;a=b;c` exactly as received (whitespace around `;` and `=` allowed
    /// in headers), or empty.
    raw: Bytes,
}

impl Params {
    /// No parameters.
    pub const fn new() -> Self {
        Self { raw: Bytes::new() }
    }

    /// Parameters from already validated wire text starting with `;`.
    pub(crate) fn from_raw(raw: Bytes) -> Self {
        Self { raw }
    }

    /// A borrowed view (what typed values hand out).
    pub fn view(&self) -> ParamsRef<'_> {
        ParamsRef { raw: &self.raw }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// Number of parameters.
    pub fn len(&self) -> usize {
        self.view().len()
    }

    /// All parameters in order.
    pub fn iter(&self) -> ParamIter<'_> {
        self.view().iter()
    }

    /// `Some(value)` if `name` is present (`Some(None)` for a flag such as `lr`).
    pub fn get(&self, name: &str) -> Option<Option<&[u8]>> {
        self.view().get(name)
    }

    /// The value of `name` with surrounding quotes removed, if present with a value.
    pub fn value(&self, name: &str) -> Option<&[u8]> {
        self.view().value(name)
    }

    /// Whether `name` is present.
    pub fn contains(&self, name: &str) -> bool {
        self.view().contains(name)
    }

    /// Sets `name` (replacing an existing one in place).
    pub fn set(&mut self, name: &str, value: Option<Bytes>) {
        let mut out = BytesMut::with_capacity(self.raw.len() + name.len() + 16);
        let mut found = false;
        for p in self.iter() {
            if !found && p.name.eq_ignore_ascii_case(name.as_bytes()) {
                found = true;
                write_param(&mut out, p.name, value.as_deref());
            } else {
                write_param(&mut out, p.name, p.value);
            }
        }
        if !found {
            write_param(&mut out, name.as_bytes(), value.as_deref());
        }
        self.raw = out.freeze();
    }

    /// Removes `name`; returns whether it was there.
    pub fn remove(&mut self, name: &str) -> bool {
        if !self.contains(name) {
            return false;
        }
        let mut out = BytesMut::with_capacity(self.raw.len());
        for p in self.iter() {
            if !p.name.eq_ignore_ascii_case(name.as_bytes()) {
                write_param(&mut out, p.name, p.value);
            }
        }
        self.raw = out.freeze();
        true
    }

    /// Writes `;name=value` for each parameter, as stored.
    pub fn write_to(&self, out: &mut BytesMut) {
        out.extend_from_slice(&self.raw);
    }
}

/// Parameters borrowed from a [`Params`] or from a parsed value (a URI, a
/// name-addr, a Via): the read side of [`Params`], without a reference count.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct ParamsRef<'a> {
    raw: &'a [u8],
}

impl<'a> ParamsRef<'a> {
    /// Parameters over validated wire text (`;a=b;c`, or empty).
    pub(crate) fn over(raw: &'a [u8]) -> Self {
        Self { raw }
    }

    /// The wire text, as received (`;a=b;c`, or empty).
    pub fn as_bytes(self) -> &'a [u8] {
        self.raw
    }

    /// Whether there are none.
    pub fn is_empty(self) -> bool {
        self.raw.is_empty()
    }

    /// Number of parameters.
    pub fn len(self) -> usize {
        self.iter().count()
    }

    /// All parameters in order.
    pub fn iter(self) -> ParamIter<'a> {
        ParamIter { rest: self.raw }
    }

    /// An owned copy.
    pub fn to_params(self) -> Params {
        Params::from_raw(Bytes::copy_from_slice(self.raw))
    }

    /// An owned copy with `name` set to `value` (what the `set_param`
    /// setters of parsed values write).
    pub(crate) fn with(self, name: &str, value: Option<Bytes>) -> Params {
        let mut p = self.to_params();
        p.set(name, value);
        p
    }

    /// An owned copy without `name`, or `None` when it is not there.
    pub(crate) fn without(self, name: &str) -> Option<Params> {
        let mut p = self.to_params();
        p.remove(name).then_some(p)
    }

    /// `Some(value)` if `name` is present (`Some(None)` for a flag such as `lr`).
    #[inline(always)]
    pub fn get(self, name: &str) -> Option<Option<&'a [u8]>> {
        let name = name.as_bytes();
        // (decided at compile time for a literal name)
        if name.is_empty()
            || name
                .iter()
                .any(|c| matches!(c, b'=' | b';' | b'"') || c.is_ascii_whitespace())
        {
            // never the trimmed name of an item; the general path decides
            return self
                .iter()
                .find(|p| p.name.eq_ignore_ascii_case(name))
                .map(|p| p.value);
        }
        self.get_plain(name)
    }

    /// [`get`](Self::get) of a name without blanks, `=`, `;` or `"`.
    fn get_plain(self, name: &[u8]) -> Option<Option<&'a [u8]>> {
        // One scan: items are compared where they start, the rest of a
        // non-matching item is skipped (the same items as `ParamIter`).
        let b = self.raw;
        let mut i = 0;
        loop {
            let semi = if b.get(i) == Some(&b';') {
                i
            } else {
                i + crate::charset::find(&b[i..], b';')?
            };
            let mut s = semi + 1;
            while s < b.len() && b[s].is_ascii_whitespace() {
                s += 1;
            }
            if b.len() - s >= name.len() && b[s..s + name.len()].eq_ignore_ascii_case(name) {
                let mut k = s + name.len();
                while k < b.len() && b[k].is_ascii_whitespace() {
                    k += 1;
                }
                match b.get(k) {
                    None | Some(b';') => return Some(None),
                    Some(b'=') => {
                        let end = item_end(b, k + 1);
                        return Some(Some(trim(&b[k + 1..end])));
                    }
                    Some(_) => {}
                }
            }
            i = item_end(b, s);
            if i >= b.len() {
                return None;
            }
        }
    }

    /// The value of `name` with surrounding quotes removed, if present with a value.
    #[inline]
    pub fn value(self, name: &str) -> Option<&'a [u8]> {
        self.get(name).flatten().map(unquote)
    }

    /// Whether `name` is present.
    pub fn contains(self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

impl fmt::Debug for ParamsRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Params({:?})", String::from_utf8_lossy(self.raw))
    }
}

impl fmt::Display for ParamsRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(self.raw))
    }
}

impl<'a> IntoIterator for ParamsRef<'a> {
    type Item = Param<'a>;
    type IntoIter = ParamIter<'a>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// `set_param` and `remove_param` for a parsed value that has `params()`
/// and `set_params()` (URIs, name-addrs, Vias), written once.
macro_rules! param_setters {
    () => {
        /// Sets or replaces a parameter (in a fresh buffer).
        pub fn set_param(&mut self, name: &str, value: Option<bytes::Bytes>) {
            let params = self.params().with(name, value);
            self.set_params(&params);
        }

        /// Removes a parameter; returns whether it was there.
        pub fn remove_param(&mut self, name: &str) -> bool {
            let params = self.params().without(name);
            params.map(|p| self.set_params(&p)).is_some()
        }
    };
}
pub(crate) use param_setters;

fn write_param(out: &mut BytesMut, name: &[u8], value: Option<&[u8]>) {
    out.put_u8(b';');
    out.extend_from_slice(name);
    if let Some(v) = value {
        out.put_u8(b'=');
        out.extend_from_slice(v);
    }
}

/// Iterates the parameters of a [`Params`].
#[derive(Debug, Clone)]
pub struct ParamIter<'a> {
    rest: &'a [u8],
}

fn trim(b: &[u8]) -> &[u8] {
    b.trim_ascii()
}

/// The end of the item at `i` (the next `;` outside quotes, or the end),
/// as [`ParamIter`] delimits it.
fn item_end(b: &[u8], mut i: usize) -> usize {
    loop {
        // the common case: plain bytes up to the next ';'
        i = crate::charset::find2(&b[i.min(b.len())..], b';', b'"').map_or(b.len(), |k| i + k);
        if i >= b.len() || b[i] == b';' {
            return i;
        }
        // a quoted string: skip to its closing quote (escapes skipped too)
        i += 1;
        while i < b.len() && b[i] != b'"' {
            if b[i] == b'\\' {
                i += 1;
            }
            i += 1;
        }
        i += 1;
        if i >= b.len() {
            return b.len();
        }
    }
}

impl<'a> Iterator for ParamIter<'a> {
    type Item = Param<'a>;

    fn next(&mut self) -> Option<Param<'a>> {
        loop {
            let b = self.rest;
            let start = b.iter().position(|c| *c == b';')? + 1;
            // the item runs to the next ';' outside quotes
            let mut i = start;
            let mut eq = None;
            while i < b.len() {
                match b[i] {
                    b'"' => {
                        i += 1;
                        while i < b.len() && b[i] != b'"' {
                            if b[i] == b'\\' {
                                i += 1;
                            }
                            i += 1;
                        }
                    }
                    b'=' if eq.is_none() => eq = Some(i),
                    b';' => break,
                    _ => {}
                }
                i += 1;
            }
            let end = i.min(b.len());
            self.rest = &b[end..];
            let (name, value) = match eq {
                Some(e) if e < end => (trim(&b[start..e]), Some(trim(&b[e + 1..end]))),
                _ => (trim(&b[start..end]), None),
            };
            if name.is_empty() {
                continue;
            }
            return Some(Param { name, value });
        }
    }
}

/// Strips one pair of surrounding double quotes.
pub(crate) fn unquote(v: &[u8]) -> &[u8] {
    if v.len() >= 2 && v[0] == b'"' && v[v.len() - 1] == b'"' {
        &v[1..v.len() - 1]
    } else {
        v
    }
}

impl fmt::Debug for Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Params({:?})", String::from_utf8_lossy(&self.raw))
    }
}

impl fmt::Display for Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.raw))
    }
}

impl<'a> IntoIterator for &'a Params {
    type Item = Param<'a>;
    type IntoIter = ParamIter<'a>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_set_remove() {
        let mut p = Params::new();
        p.set("lr", None);
        p.set("Transport", Some(Bytes::from_static(b"tcp")));
        assert_eq!(p.get("LR"), Some(None));
        assert_eq!(p.value("transport"), Some(&b"tcp"[..]));
        p.set("transport", Some(Bytes::from_static(b"\"udp\"")));
        assert_eq!(p.value("transport"), Some(&b"udp"[..]));
        assert_eq!(p.to_string(), ";lr;Transport=\"udp\"");
        assert!(p.remove("lr") && !p.remove("lr"));
        assert_eq!(p.len(), 1);
    }

    #[test]
    fn get_matches_iteration() {
        let raws: [&[u8]; 9] = [
            b";tag=1;lr",
            b" ;   tag    = 19n ; x=\"a;b=c\";rport",
            b";x=\"tag=2;q\";tag=3",
            b";tagx=1;tag",
            b";=1;tag=;tag=4",
            b"junk;TAG = \"q\\\"r\" ;lr",
            b";a\"b;tag=5\";tag=6",
            b";tag\t=\t7\t",
            b"",
        ];
        for raw in raws {
            let p = Params::from_raw(Bytes::from_static(raw));
            for name in ["tag", "TAG", "lr", "x", "a", "rport", "tagx", "q"] {
                let slow = p
                    .iter()
                    .find(|q| q.name.eq_ignore_ascii_case(name.as_bytes()))
                    .map(|q| q.value);
                assert_eq!(
                    p.get(name),
                    slow,
                    "{:?} {name}",
                    String::from_utf8_lossy(raw)
                );
            }
        }
    }

    #[test]
    fn raw_with_spaces_and_quotes() {
        let p = Params::from_raw(Bytes::from_static(b" ;   tag    = 19n ; x=\"a;b=c\";rport"));
        assert_eq!(p.value("tag"), Some(&b"19n"[..]));
        assert_eq!(p.value("x"), Some(&b"a;b=c"[..]));
        assert_eq!(p.get("rport"), Some(None));
        assert_eq!(p.len(), 3);
    }
}
