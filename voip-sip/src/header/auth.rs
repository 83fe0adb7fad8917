//! Authentication headers (RFC 3261 §20.7, §20.27, §20.28, §20.44; digest
//! per RFC 2617 and RFC 8760): WWW-Authenticate, Proxy-Authenticate,
//! Authorization, Proxy-Authorization.

use std::ops::{Deref, DerefMut};

use bytes::{BufMut, Bytes, BytesMut};

use super::scan::{is_token_char, is_ws, skip_quoted};
use super::{HeaderError, TypedHeader};
use crate::message::{HeaderName, Known};
use crate::uri::unquote;

/// A challenge or credentials: a scheme (`Digest`) and comma-separated
/// `name=value` parameters, values kept as received (quoted if they were).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AuthParams {
    /// The scheme, e.g. `Digest`.
    pub scheme: Bytes,
    /// The parameters in order.
    pub params: Vec<(Bytes, Bytes)>,
}

impl AuthParams {
    /// A `Digest` value with no parameters yet.
    pub fn digest() -> Self {
        Self {
            scheme: Bytes::from_static(b"Digest"),
            params: Vec::new(),
        }
    }

    /// The value of `name` with quotes removed (names are case-insensitive).
    pub fn param(&self, name: &str) -> Option<&[u8]> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| unquote(v))
    }

    /// Appends `name="value"` (quoted).
    pub fn push_quoted(&mut self, name: &'static str, value: &[u8]) {
        let mut v = BytesMut::with_capacity(value.len() + 2);
        v.put_u8(b'"');
        v.extend_from_slice(value);
        v.put_u8(b'"');
        self.params
            .push((Bytes::from_static(name.as_bytes()), v.freeze()));
    }

    /// Appends `name=value` (a token, unquoted).
    pub fn push_token(&mut self, name: &'static str, value: &[u8]) {
        self.params.push((
            Bytes::from_static(name.as_bytes()),
            Bytes::copy_from_slice(value),
        ));
    }

    /// Whether the scheme is Digest.
    pub fn is_digest(&self) -> bool {
        self.scheme.eq_ignore_ascii_case(b"Digest")
    }

    fn parse(raw: &Bytes, what: &'static str) -> Result<Self, HeaderError> {
        let bad = HeaderError::Invalid(what);
        let b = &raw[..];
        let mut pos = 0;
        while pos < b.len() && is_ws(b[pos]) {
            pos += 1;
        }
        let ss = pos;
        while pos < b.len() && is_token_char(b[pos]) {
            pos += 1;
        }
        if ss == pos {
            return Err(bad);
        }
        let scheme = raw.slice(ss..pos);
        let mut params = Vec::new();
        loop {
            while pos < b.len() && is_ws(b[pos]) {
                pos += 1;
            }
            if pos >= b.len() {
                break;
            }
            if !params.is_empty() {
                if b[pos] != b',' {
                    return Err(bad);
                }
                pos += 1;
                while pos < b.len() && is_ws(b[pos]) {
                    pos += 1;
                }
            }
            let ns = pos;
            while pos < b.len() && is_token_char(b[pos]) {
                pos += 1;
            }
            let ne = pos;
            while pos < b.len() && is_ws(b[pos]) {
                pos += 1;
            }
            if ns == ne || b.get(pos) != Some(&b'=') {
                return Err(bad);
            }
            pos += 1;
            while pos < b.len() && is_ws(b[pos]) {
                pos += 1;
            }
            let vs = pos;
            if b.get(pos) == Some(&b'"') {
                pos = skip_quoted(b, pos).ok_or(bad)?;
            } else {
                while pos < b.len()
                    && (is_token_char(b[pos]) || matches!(b[pos], b'/' | b':' | b'='))
                {
                    pos += 1;
                }
                if vs == pos {
                    return Err(bad);
                }
            }
            params.push((raw.slice(ns..ne), raw.slice(vs..pos)));
        }
        Ok(Self { scheme, params })
    }

    fn write(&self, out: &mut BytesMut) {
        out.extend_from_slice(&self.scheme);
        for (i, (n, v)) in self.params.iter().enumerate() {
            out.extend_from_slice(if i == 0 { b" " } else { b", " });
            out.extend_from_slice(n);
            out.put_u8(b'=');
            out.extend_from_slice(v);
        }
    }
}

macro_rules! auth_header {
    ($(#[$doc:meta])* $ty:ident, $known:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub struct $ty(pub AuthParams);

        impl TypedHeader for $ty {
            const NAME: HeaderName = HeaderName::Known(Known::$known);

            fn parse(raw: &Bytes) -> Result<Self, HeaderError> {
                AuthParams::parse(raw, Known::$known.as_str()).map(Self)
            }

            fn write_to(&self, out: &mut BytesMut) {
                self.0.write(out)
            }
        }

        impl Deref for $ty {
            type Target = AuthParams;

            fn deref(&self) -> &AuthParams {
                &self.0
            }
        }

        impl DerefMut for $ty {
            fn deref_mut(&mut self) -> &mut AuthParams {
                &mut self.0
            }
        }
    };
}

auth_header!(
    /// `WWW-Authenticate`: a challenge from a UAS or registrar (401).
    WwwAuthenticate, WwwAuthenticate
);
auth_header!(
    /// `Proxy-Authenticate`: a challenge from a proxy (407).
    ProxyAuthenticate, ProxyAuthenticate
);
auth_header!(
    /// `Authorization`: credentials for a UAS or registrar.
    Authorization, Authorization
);
auth_header!(
    /// `Proxy-Authorization`: credentials for a proxy.
    ProxyAuthorization, ProxyAuthorization
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_round_trip() {
        let raw = Bytes::from_static(
            b"Digest username=\"user\", realm=\"example.com\", nonce=\"ea9c8e88df84f1cec4341ae6cbe5a359\", opaque=\"\", uri=\"sips:ss2.biloxi.example.com\", response=\"dfe56131d1958046689d83306477ecc\", algorithm=SHA-256, qop=auth, nc=00000001, cnonce=\"0a4f113b\"",
        );
        let a = Authorization::parse(&raw).unwrap();
        assert!(a.is_digest());
        assert_eq!(a.param("realm"), Some(&b"example.com"[..]));
        assert_eq!(a.param("ALGORITHM"), Some(&b"SHA-256"[..]));
        assert_eq!(a.param("opaque"), Some(&b""[..]));
        assert_eq!(Authorization::parse(&a.to_bytes()).unwrap(), a);
        assert!(Authorization::parse(&Bytes::from_static(b"Digest realm")).is_err());
        assert!(Authorization::parse(&Bytes::from_static(b"Digest realm=\"x")).is_err());
    }
}
