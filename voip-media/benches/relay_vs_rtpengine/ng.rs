//! Bencode and rtpengine's ng control protocol, just what the bench needs:
//! a message is `<cookie> <bencoded dictionary>` in one UDP datagram, the
//! reply carries the same cookie. Both sides of the bench speak it: the
//! generator sends `offer`/`answer`/`delete` to rtpengine or to our relay
//! (`serve` mode), so the same client code sets up the calls on both.

use std::collections::BTreeMap;
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

/// A bencoded value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// `i<n>e`
    Int(i64),
    /// `<len>:<bytes>`
    Bytes(Vec<u8>),
    /// `l...e`
    List(Vec<Value>),
    /// `d...e`, keys sorted as bencode requires.
    Dict(BTreeMap<Vec<u8>, Value>),
}

impl Value {
    /// A byte string from text.
    pub fn str(s: &str) -> Self {
        Value::Bytes(s.as_bytes().to_vec())
    }

    /// A dictionary from `(key, value)` pairs.
    pub fn dict<'a>(pairs: impl IntoIterator<Item = (&'a str, Value)>) -> Self {
        Value::Dict(
            pairs
                .into_iter()
                .map(|(k, v)| (k.as_bytes().to_vec(), v))
                .collect(),
        )
    }

    /// The value under `key` of a dictionary.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Dict(d) => d.get(key.as_bytes()),
            _ => None,
        }
    }

    /// A byte string as text.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Bytes(b) => std::str::from_utf8(b).ok(),
            _ => None,
        }
    }

    /// Appends the encoding to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Value::Int(n) => out.extend_from_slice(format!("i{n}e").as_bytes()),
            Value::Bytes(b) => {
                out.extend_from_slice(format!("{}:", b.len()).as_bytes());
                out.extend_from_slice(b);
            }
            Value::List(l) => {
                out.push(b'l');
                l.iter().for_each(|v| v.encode(out));
                out.push(b'e');
            }
            Value::Dict(d) => {
                out.push(b'd');
                for (k, v) in d {
                    Value::Bytes(k.clone()).encode(out);
                    v.encode(out);
                }
                out.push(b'e');
            }
        }
    }

    /// Decodes one value from the start of `input`; returns it and the rest.
    pub fn decode(input: &[u8]) -> Option<(Value, &[u8])> {
        match *input.first()? {
            b'i' => {
                let end = input.iter().position(|&c| c == b'e')?;
                let n = std::str::from_utf8(&input[1..end]).ok()?.parse().ok()?;
                Some((Value::Int(n), &input[end + 1..]))
            }
            b'l' => {
                let mut rest = &input[1..];
                let mut items = Vec::new();
                while *rest.first()? != b'e' {
                    let (v, r) = Value::decode(rest)?;
                    items.push(v);
                    rest = r;
                }
                Some((Value::List(items), &rest[1..]))
            }
            b'd' => {
                let mut rest = &input[1..];
                let mut map = BTreeMap::new();
                while *rest.first()? != b'e' {
                    let (Value::Bytes(k), r) = Value::decode(rest)? else {
                        return None;
                    };
                    let (v, r) = Value::decode(r)?;
                    map.insert(k, v);
                    rest = r;
                }
                Some((Value::Dict(map), &rest[1..]))
            }
            b'0'..=b'9' => {
                let colon = input.iter().position(|&c| c == b':')?;
                let len: usize = std::str::from_utf8(&input[..colon]).ok()?.parse().ok()?;
                let body = input.get(colon + 1..colon + 1 + len)?;
                Some((Value::Bytes(body.to_vec()), &input[colon + 1 + len..]))
            }
            _ => None,
        }
    }
}

/// Splits an ng datagram into its cookie and dictionary.
pub fn parse_message(datagram: &[u8]) -> Option<(&[u8], Value)> {
    let space = datagram.iter().position(|&c| c == b' ')?;
    let (v, _) = Value::decode(&datagram[space + 1..])?;
    Some((&datagram[..space], v))
}

/// An ng datagram: `cookie` and the encoded `body`.
pub fn message(cookie: &[u8], body: &Value) -> Vec<u8> {
    let mut out = cookie.to_vec();
    out.push(b' ');
    body.encode(&mut out);
    out
}

/// A blocking ng client (the generator's control channel).
pub struct Client {
    sock: UdpSocket,
    server: SocketAddr,
    next: u64,
}

impl Client {
    /// A client of the ng server at `server`.
    pub fn new(server: SocketAddr) -> std::io::Result<Self> {
        let sock = UdpSocket::bind("127.0.0.1:0")?;
        sock.set_read_timeout(Some(Duration::from_secs(2)))?;
        Ok(Self {
            sock,
            server,
            next: 1,
        })
    }

    /// Sends `body`, waits for the reply with the same cookie (retrying a
    /// lost request), and returns it if `result` is `ok` or `pong`.
    pub fn call(&mut self, body: &Value) -> Result<Value, String> {
        let cookie = format!("{}_{}", std::process::id(), self.next);
        self.next += 1;
        let msg = message(cookie.as_bytes(), body);
        let mut buf = vec![0u8; 65536];
        for _ in 0..5 {
            self.sock
                .send_to(&msg, self.server)
                .map_err(|e| e.to_string())?;
            // A timeout ends the inner loop: resend.
            while let Ok(n) = self.sock.recv(&mut buf) {
                let Some((c, reply)) = parse_message(&buf[..n]) else {
                    continue;
                };
                if c != cookie.as_bytes() {
                    continue;
                }
                return match reply.get("result").and_then(Value::as_str) {
                    Some("ok" | "pong") => Ok(reply),
                    other => Err(format!(
                        "ng {:?}: {other:?} {:?}",
                        body.get("command").and_then(Value::as_str),
                        reply
                            .get("error-reason")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                    )),
                };
            }
        }
        Err("ng server does not answer".into())
    }
}

/// Checks the codec on a known message (a bench target runs no unit
/// tests, so `main` calls this first).
pub fn self_check() {
    let v = Value::dict([
        ("command", Value::str("offer")),
        ("flags", Value::List(vec![Value::str("trust-address")])),
        ("n", Value::Int(-3)),
    ]);
    let m = message(b"abc", &v);
    assert_eq!(
        m,
        b"abc d7:command5:offer5:flagsl13:trust-addresse1:ni-3ee".to_vec()
    );
    let (c, back) = parse_message(&m).expect("decodes");
    assert_eq!((c, back), (&b"abc"[..], v));
}
