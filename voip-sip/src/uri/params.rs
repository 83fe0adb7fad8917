//! `;name=value` parameters of URIs and headers.

use std::fmt;

use bytes::{BufMut, Bytes, BytesMut};

/// One parameter. Values are kept as received (escaped, quoted if they were).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Param {
    /// The name (compared case-insensitively).
    pub name: Bytes,
    /// The value, if there was an `=`.
    pub value: Option<Bytes>,
}

/// An ordered list of parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Params(Vec<Param>);

impl Params {
    /// No parameters.
    pub const fn new() -> Self {
        Self(Vec::new())
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Number of parameters.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// All parameters in order.
    pub fn iter(&self) -> std::slice::Iter<'_, Param> {
        self.0.iter()
    }

    /// `Some(value)` if `name` is present (`Some(None)` for a flag such as `lr`).
    pub fn get(&self, name: &str) -> Option<Option<&Bytes>> {
        self.0
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name.as_bytes()))
            .map(|p| p.value.as_ref())
    }

    /// The value of `name` with surrounding quotes removed, if present with a value.
    pub fn value(&self, name: &str) -> Option<&[u8]> {
        self.get(name).flatten().map(|v| unquote(v))
    }

    /// Whether `name` is present.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Sets `name` (replacing an existing one in place).
    pub fn set(&mut self, name: &str, value: Option<Bytes>) {
        match self
            .0
            .iter_mut()
            .find(|p| p.name.eq_ignore_ascii_case(name.as_bytes()))
        {
            Some(p) => p.value = value,
            None => self.0.push(Param {
                name: Bytes::copy_from_slice(name.as_bytes()),
                value,
            }),
        }
    }

    /// Removes `name`; returns whether it was there.
    pub fn remove(&mut self, name: &str) -> bool {
        let before = self.0.len();
        self.0
            .retain(|p| !p.name.eq_ignore_ascii_case(name.as_bytes()));
        before != self.0.len()
    }

    pub(crate) fn push(&mut self, p: Param) {
        self.0.push(p);
    }

    /// Writes `;name=value` for each parameter.
    pub fn write_to(&self, out: &mut BytesMut) {
        for p in &self.0 {
            out.put_u8(b';');
            out.extend_from_slice(&p.name);
            if let Some(v) = &p.value {
                out.put_u8(b'=');
                out.extend_from_slice(v);
            }
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

impl fmt::Display for Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut b = BytesMut::new();
        self.write_to(&mut b);
        f.write_str(&String::from_utf8_lossy(&b))
    }
}

impl<'a> IntoIterator for &'a Params {
    type Item = &'a Param;
    type IntoIter = std::slice::Iter<'a, Param>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
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
    }
}
