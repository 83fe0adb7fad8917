//! Header names and the ordered header list of a message.
//!
//! Values are kept raw (zero-copy slices of the received buffer, trimmed,
//! with line folding replaced by a single space). Typed access parses a value
//! on demand through [`TypedHeader`](crate::header::TypedHeader).

use std::fmt;

use bytes::Bytes;

use std::marker::PhantomData;

use crate::header::{HeaderError, ListRanges, TypedHeader, list_ranges};

macro_rules! known_headers {
    ($($variant:ident => $canonical:literal, $canonical_bytes:literal, $lower:literal $(, $compact:literal)?;)*) => {
        /// Header names the stack knows, with their RFC 3261 compact forms.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum Known {
            $(
                #[doc = concat!("`", $canonical, "`")]
                $variant,
            )*
        }

        impl Known {
            /// The canonical spelling, used when printing.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $canonical,)*
                }
            }

            /// The compact form (RFC 3261 §7.3.3), if the header has one.
            pub const fn compact(self) -> Option<u8> {
                match self {
                    $(Self::$variant => known_headers!(@compact $($compact)?),)*
                }
            }

            /// The header spelled exactly as printed (the usual case).
            #[inline]
            pub(crate) fn from_canonical(name: &[u8]) -> Option<Self> {
                match name {
                    $($canonical_bytes => Some(Self::$variant),)*
                    _ => None,
                }
            }

            fn from_lowercase(name: &[u8]) -> Option<Self> {
                match name {
                    $($lower => Some(Self::$variant),)*
                    _ => None,
                }
            }

            /// `HeaderName::Known(self)` in static memory (what iteration
            /// over stored lines points at).
            fn name(self) -> &'static HeaderName {
                static NAMES: &[HeaderName] = &[$(HeaderName::Known(Known::$variant),)*];
                &NAMES[self as usize]
            }

            fn from_compact(c: u8) -> Option<Self> {
                $(
                    $(if c == $compact { return Some(Self::$variant); })?
                )*
                None
            }
        }
    };
    (@compact $c:literal) => { Some($c) };
    (@compact) => { None };
}

known_headers! {
    Accept => "Accept", b"Accept", b"accept";
    AcceptEncoding => "Accept-Encoding", b"Accept-Encoding", b"accept-encoding";
    AcceptLanguage => "Accept-Language", b"Accept-Language", b"accept-language";
    AlertInfo => "Alert-Info", b"Alert-Info", b"alert-info";
    Allow => "Allow", b"Allow", b"allow";
    AllowEvents => "Allow-Events", b"Allow-Events", b"allow-events", b'u';
    AuthenticationInfo => "Authentication-Info", b"Authentication-Info", b"authentication-info";
    Authorization => "Authorization", b"Authorization", b"authorization";
    CallId => "Call-ID", b"Call-ID", b"call-id", b'i';
    CallInfo => "Call-Info", b"Call-Info", b"call-info";
    Contact => "Contact", b"Contact", b"contact", b'm';
    ContentDisposition => "Content-Disposition", b"Content-Disposition", b"content-disposition";
    ContentEncoding => "Content-Encoding", b"Content-Encoding", b"content-encoding", b'e';
    ContentLanguage => "Content-Language", b"Content-Language", b"content-language";
    ContentLength => "Content-Length", b"Content-Length", b"content-length", b'l';
    ContentType => "Content-Type", b"Content-Type", b"content-type", b'c';
    CSeq => "CSeq", b"CSeq", b"cseq";
    Date => "Date", b"Date", b"date";
    ErrorInfo => "Error-Info", b"Error-Info", b"error-info";
    Event => "Event", b"Event", b"event", b'o';
    Expires => "Expires", b"Expires", b"expires";
    From => "From", b"From", b"from", b'f';
    Identity => "Identity", b"Identity", b"identity", b'y';
    InReplyTo => "In-Reply-To", b"In-Reply-To", b"in-reply-to";
    MaxForwards => "Max-Forwards", b"Max-Forwards", b"max-forwards";
    MimeVersion => "MIME-Version", b"MIME-Version", b"mime-version";
    MinExpires => "Min-Expires", b"Min-Expires", b"min-expires";
    MinSe => "Min-SE", b"Min-SE", b"min-se";
    Organization => "Organization", b"Organization", b"organization";
    PAssertedIdentity => "P-Asserted-Identity", b"P-Asserted-Identity", b"p-asserted-identity";
    PPreferredIdentity => "P-Preferred-Identity", b"P-Preferred-Identity", b"p-preferred-identity";
    Path => "Path", b"Path", b"path";
    Priority => "Priority", b"Priority", b"priority";
    ProxyAuthenticate => "Proxy-Authenticate", b"Proxy-Authenticate", b"proxy-authenticate";
    ProxyAuthorization => "Proxy-Authorization", b"Proxy-Authorization", b"proxy-authorization";
    ProxyRequire => "Proxy-Require", b"Proxy-Require", b"proxy-require";
    RAck => "RAck", b"RAck", b"rack";
    Reason => "Reason", b"Reason", b"reason";
    RecordRoute => "Record-Route", b"Record-Route", b"record-route";
    ReferTo => "Refer-To", b"Refer-To", b"refer-to", b'r';
    ReferredBy => "Referred-By", b"Referred-By", b"referred-by", b'b';
    Replaces => "Replaces", b"Replaces", b"replaces";
    ReplyTo => "Reply-To", b"Reply-To", b"reply-to";
    Require => "Require", b"Require", b"require";
    RetryAfter => "Retry-After", b"Retry-After", b"retry-after";
    Route => "Route", b"Route", b"route";
    RSeq => "RSeq", b"RSeq", b"rseq";
    Server => "Server", b"Server", b"server";
    SessionExpires => "Session-Expires", b"Session-Expires", b"session-expires", b'x';
    Subject => "Subject", b"Subject", b"subject", b's';
    SubscriptionState => "Subscription-State", b"Subscription-State", b"subscription-state";
    Supported => "Supported", b"Supported", b"supported", b'k';
    Timestamp => "Timestamp", b"Timestamp", b"timestamp";
    To => "To", b"To", b"to", b't';
    Unsupported => "Unsupported", b"Unsupported", b"unsupported";
    UserAgent => "User-Agent", b"User-Agent", b"user-agent";
    Via => "Via", b"Via", b"via", b'v';
    Warning => "Warning", b"Warning", b"warning";
    WwwAuthenticate => "WWW-Authenticate", b"WWW-Authenticate", b"www-authenticate";
}

/// A header name: one the stack knows (matched case-insensitively, compact
/// forms included) or any other token, kept as received.
#[derive(Clone)]
pub enum HeaderName {
    /// A header the stack knows.
    Known(Known),
    /// Any other header; compared case-insensitively.
    Other(Bytes),
}

impl HeaderName {
    /// A name for a header the stack does not know (e.g. `X-Account`).
    pub const fn custom(name: &'static str) -> Self {
        Self::Other(Bytes::from_static(name.as_bytes()))
    }

    /// Classifies a header name token.
    pub fn from_bytes(name: Bytes) -> Self {
        match Self::lookup(&name) {
            Some(k) => Self::Known(k),
            None => Self::Other(name),
        }
    }

    /// The known header spelled `lower` (already lowercase), compact
    /// forms included.
    pub(crate) fn known_lowercase(lower: &[u8]) -> Option<Known> {
        match lower.len() {
            0 => None,
            1 => Known::from_compact(lower[0]),
            _ => Known::from_lowercase(lower),
        }
    }

    fn lookup(name: &[u8]) -> Option<Known> {
        match name.len() {
            0 => None,
            1 => Known::from_compact(name[0].to_ascii_lowercase()),
            n if n <= 32 => {
                let mut buf = [0u8; 32];
                for (d, s) in buf.iter_mut().zip(name) {
                    *d = s.to_ascii_lowercase();
                }
                Known::from_lowercase(&buf[..n])
            }
            _ => None,
        }
    }

    /// The spelling used when printing.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Known(k) => k.as_str().as_bytes(),
            Self::Other(b) => b,
        }
    }

    /// The known header, if it is one.
    pub fn known(&self) -> Option<Known> {
        match self {
            Self::Known(k) => Some(*k),
            Self::Other(_) => None,
        }
    }
}

impl From<Known> for HeaderName {
    fn from(k: Known) -> Self {
        Self::Known(k)
    }
}

impl PartialEq for HeaderName {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Known(a), Self::Known(b)) => a == b,
            (Self::Other(a), Self::Other(b)) => a.eq_ignore_ascii_case(b),
            _ => false,
        }
    }
}

impl Eq for HeaderName {}

impl fmt::Debug for HeaderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_bytes()))
    }
}

impl fmt::Display for HeaderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(self.as_bytes()))
    }
}

/// One header line, owned: a name and its raw value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The name.
    pub name: HeaderName,
    /// The raw value, trimmed, folding replaced by a space.
    pub value: Bytes,
}

/// One header line of [`Headers`], borrowed (what iteration yields).
#[derive(Debug, Clone, Copy)]
pub struct HeaderRef<'a> {
    /// The name.
    pub name: &'a HeaderName,
    /// The raw value, trimmed, folding replaced by a space.
    pub value: &'a [u8],
    /// The buffer `value` lies in.
    source: &'a Bytes,
}

impl HeaderRef<'_> {
    /// The value as `Bytes`, sharing the message's buffer (no copy).
    pub fn value_bytes(&self) -> Bytes {
        if self.value.is_empty() {
            Bytes::new()
        } else {
            self.source.slice_ref(self.value)
        }
    }

    /// An owned copy of the line (the value shares the message's buffer).
    pub fn to_header(&self) -> Header {
        Header {
            name: self.name.clone(),
            value: self.value_bytes(),
        }
    }
}

/// A stored line's name: a known one (the usual case), or an index into
/// [`Headers::names`].
#[derive(Clone, Copy, PartialEq, Eq)]
enum NameSlot {
    Known(Known),
    Other(u32),
}

/// Where a stored value lies: a range of the parsed message, or an index
/// into [`Headers::values`] (added and folded values).
#[derive(Clone, Copy)]
enum ValueSlot {
    Span(u32, u32),
    Owned(u32),
}

/// One line: 20 bytes, no destructor (names and values that own a buffer
/// live in the side lists, which a parsed message rarely needs). Small
/// enough to be built in registers and stored once per line.
#[derive(Clone, Copy)]
struct Entry {
    name: NameSlot,
    value: ValueSlot,
}

/// The headers of a message, in order.
///
/// Parsed values stay ranges of the received buffer until asked for:
/// [`get`](Self::get) and iteration borrow them, [`get_bytes`](Self::get_bytes)
/// and typed access slice the buffer.
#[derive(Clone)]
pub struct Headers {
    /// The buffer `ValueSlot::Span`s index (empty for built messages).
    buf: Bytes,
    entries: Vec<Entry>,
    /// Names other than the known ones (`NameSlot::Other` indexes it).
    names: Vec<HeaderName>,
    /// Values that own their buffer (`ValueSlot::Owned` indexes it). Lines
    /// replaced or removed leave theirs here until `compact` runs.
    values: Vec<Bytes>,
}

impl Default for Headers {
    fn default() -> Self {
        Self::over(Bytes::new(), 0)
    }
}

impl Headers {
    /// No headers.
    pub fn new() -> Self {
        Self::default()
    }

    /// No headers, with room for `n`.
    pub fn with_capacity(n: usize) -> Self {
        Self::over(Bytes::new(), n)
    }

    /// No headers yet, values to come as ranges of `buf`.
    pub(crate) fn over(buf: Bytes, n: usize) -> Self {
        Self {
            buf,
            entries: Vec::with_capacity(n),
            names: Vec::new(),
            values: Vec::new(),
        }
    }

    /// Number of header lines.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The buffer a value lies in and its range there.
    #[inline]
    fn locate(&self, value: ValueSlot) -> (&Bytes, usize, usize) {
        match value {
            ValueSlot::Span(s, e) => (&self.buf, s as usize, e as usize),
            ValueSlot::Owned(i) => {
                let b = &self.values[i as usize];
                (b, 0, b.len())
            }
        }
    }

    #[inline]
    fn raw(&self, value: ValueSlot) -> &[u8] {
        let (buf, s, e) = self.locate(value);
        &buf[s..e]
    }

    fn name_of(&self, slot: NameSlot) -> &HeaderName {
        match slot {
            NameSlot::Known(k) => k.name(),
            NameSlot::Other(i) => &self.names[i as usize],
        }
    }

    fn view(&self, e: Entry) -> HeaderRef<'_> {
        let (source, s, end) = self.locate(e.value);
        HeaderRef {
            name: self.name_of(e.name),
            value: &source[s..end],
            source,
        }
    }

    /// Whether a stored line carries `name`.
    #[inline]
    fn is(&self, slot: NameSlot, name: &HeaderName) -> bool {
        match (slot, name) {
            (NameSlot::Known(a), HeaderName::Known(b)) => a == *b,
            (NameSlot::Other(i), HeaderName::Other(_)) => &self.names[i as usize] == name,
            _ => false,
        }
    }

    /// All header lines in order.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            headers: self,
            entries: self.entries.iter(),
        }
    }

    #[inline]
    fn first_entry(&self, name: &HeaderName) -> Option<Entry> {
        if let HeaderName::Known(k) = name {
            // the common case: compare the enum tags only
            return self
                .entries
                .iter()
                .find(|h| h.name == NameSlot::Known(*k))
                .copied();
        }
        self.entries.iter().find(|h| self.is(h.name, name)).copied()
    }

    /// The first raw value of `name`.
    pub fn get(&self, name: &HeaderName) -> Option<&[u8]> {
        self.first_entry(name).map(|e| self.raw(e.value))
    }

    /// The first raw value of `name` as `Bytes` (sharing the message's
    /// buffer).
    pub fn get_bytes(&self, name: &HeaderName) -> Option<Bytes> {
        self.first_entry(name).map(|e| self.view(e).value_bytes())
    }

    /// Every raw value of `name`, one per header line.
    pub fn get_all<'a>(&'a self, name: &'a HeaderName) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.entries
            .iter()
            .filter(move |h| self.is(h.name, name))
            .map(|h| self.raw(h.value))
    }

    /// Every raw value of `name` as `Bytes` (sharing the message's buffer).
    pub fn get_all_bytes<'a>(&'a self, name: &'a HeaderName) -> impl Iterator<Item = Bytes> + 'a {
        self.iter()
            .filter(move |h| h.name == name)
            .map(|h| h.value_bytes())
    }

    /// How many header lines carry `name`.
    pub fn count(&self, name: &HeaderName) -> usize {
        self.entries
            .iter()
            .filter(|h| self.is(h.name, name))
            .count()
    }

    /// Whether a header line carries `name`.
    pub fn contains(&self, name: &HeaderName) -> bool {
        self.entries.iter().any(|h| self.is(h.name, name))
    }

    /// The first value of a typed header (the first element of a list
    /// header), or `None` when absent.
    pub fn typed<H: TypedHeader>(&self) -> Option<Result<H, HeaderError>> {
        let e = self.first_entry(&H::NAME)?;
        let (buf, s, end) = self.locate(e.value);
        if H::LIST && has_top_level_comma(&buf[s..end]) {
            list_ranges(buf, s, end)
                .next()
                .map(|(s, e)| H::parse_in(buf, s, e))
        } else {
            Some(H::parse_in(buf, s, end))
        }
    }

    /// Every value of a typed header, list headers split at their commas.
    pub fn typed_all<H: TypedHeader>(&self) -> TypedValues<'_, H> {
        TypedValues {
            headers: self,
            lines: self.entries.iter(),
            items: None,
            _header: PhantomData,
        }
    }

    /// The slot for a name, adding it to the side list if it is not a
    /// known one.
    fn name_slot(&mut self, name: HeaderName) -> NameSlot {
        match name {
            HeaderName::Known(k) => NameSlot::Known(k),
            other => {
                self.names.push(other);
                NameSlot::Other(slot_index(self.names.len() - 1))
            }
        }
    }

    /// The slot for an owned value.
    fn value_slot(&mut self, value: Bytes) -> ValueSlot {
        self.values.push(value);
        ValueSlot::Owned(slot_index(self.values.len() - 1))
    }

    /// Appends a raw header line.
    pub fn push(&mut self, name: impl Into<HeaderName>, value: impl Into<Bytes>) {
        let name = self.name_slot(name.into());
        let value = self.value_slot(value.into());
        self.entries.push(Entry { name, value });
    }

    /// Appends a line whose value is `buf[start..end]` of the buffer given
    /// to [`over`](Self::over).
    #[inline]
    pub(crate) fn push_span(&mut self, name: HeaderName, start: usize, end: usize) {
        let value = match (u32::try_from(start), u32::try_from(end)) {
            (Ok(s), Ok(e)) => ValueSlot::Span(s, e),
            _ => self.value_slot(self.buf.slice(start..end)),
        };
        let name = self.name_slot(name);
        self.entries.push(Entry { name, value });
    }

    /// Appends a typed header.
    pub fn push_typed<H: TypedHeader>(&mut self, header: &H) {
        self.push(H::NAME, header.to_bytes());
    }

    /// Inserts a typed header before every other line (a new top Via).
    pub fn prepend_typed<H: TypedHeader>(&mut self, header: &H) {
        self.prepend_raw(H::NAME, header.to_bytes());
    }

    /// Inserts a raw header line before every other line.
    pub fn prepend_raw(&mut self, name: impl Into<HeaderName>, value: impl Into<Bytes>) {
        let name = self.name_slot(name.into());
        let value = self.value_slot(value.into());
        self.entries.insert(0, Entry { name, value });
    }

    /// Replaces every line of `H` with one line holding `header`, at the
    /// position of the first one (or at the end).
    pub fn set_typed<H: TypedHeader>(&mut self, header: &H) {
        self.set(H::NAME, header.to_bytes());
    }

    /// Replaces every line of `name` with one line holding `value`.
    pub fn set(&mut self, name: HeaderName, value: impl Into<Bytes>) {
        let value = self.value_slot(value.into());
        match self.entries.iter().position(|h| self.is(h.name, &name)) {
            Some(pos) => {
                self.entries[pos].value = value;
                let mut i = 0;
                let entries = std::mem::take(&mut self.entries);
                self.entries = entries
                    .into_iter()
                    .filter(|h| {
                        let keep = i <= pos || !self.is(h.name, &name);
                        i += 1;
                        keep
                    })
                    .collect();
            }
            None => {
                let name = self.name_slot(name);
                self.entries.push(Entry { name, value });
            }
        }
        self.compact();
    }

    /// Replaces the value of the first line of `name`, keeping its place
    /// and the other lines; `false` when there is none.
    pub fn set_first(&mut self, name: &HeaderName, value: impl Into<Bytes>) -> bool {
        match self.entries.iter().position(|h| self.is(h.name, name)) {
            Some(pos) => {
                self.entries[pos].value = self.value_slot(value.into());
                self.compact();
                true
            }
            None => false,
        }
    }

    /// Removes every line of `name`; returns how many were removed.
    pub fn remove(&mut self, name: &HeaderName) -> usize {
        let before = self.entries.len();
        let entries = std::mem::take(&mut self.entries);
        self.entries = entries
            .into_iter()
            .filter(|h| !self.is(h.name, name))
            .collect();
        let removed = before - self.entries.len();
        if removed > 0 {
            self.compact();
        }
        removed
    }

    /// Removes and returns the first line of `name`.
    pub fn remove_first(&mut self, name: &HeaderName) -> Option<Header> {
        let pos = self.entries.iter().position(|h| self.is(h.name, name))?;
        let header = self.view(self.entries[pos]).to_header();
        self.entries.remove(pos);
        self.compact();
        Some(header)
    }

    /// Drops the side-list names and values no line refers to any more,
    /// once they are the majority (a message edited over and over keeps
    /// bounded memory).
    fn compact(&mut self) {
        let lines = self.entries.len();
        if self.values.len() <= 2 * lines + 8 && self.names.len() <= 2 * lines + 8 {
            return;
        }
        let (old_names, old_values) = (
            std::mem::take(&mut self.names),
            std::mem::take(&mut self.values),
        );
        for e in &mut self.entries {
            if let NameSlot::Other(i) = e.name {
                self.names.push(old_names[i as usize].clone());
                e.name = NameSlot::Other(slot_index(self.names.len() - 1));
            }
            if let ValueSlot::Owned(i) = e.value {
                self.values.push(old_values[i as usize].clone());
                e.value = ValueSlot::Owned(slot_index(self.values.len() - 1));
            }
        }
    }
}

/// A side-list index as stored (a message holds far fewer than 2^32 lines:
/// the parser stops at `max_headers`).
fn slot_index(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}

impl PartialEq for Headers {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len()
            && self
                .iter()
                .zip(other.iter())
                .all(|(a, b)| a.name == b.name && a.value == b.value)
    }
}

impl Eq for Headers {}

impl fmt::Debug for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(
                self.iter()
                    .map(|h| (h.name, String::from_utf8_lossy(h.value).into_owned())),
            )
            .finish()
    }
}

/// The lines of [`Headers`], in order.
#[derive(Debug, Clone)]
pub struct Iter<'a> {
    headers: &'a Headers,
    entries: std::slice::Iter<'a, Entry>,
}

impl fmt::Debug for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name {
            NameSlot::Known(k) => write!(f, "{k:?}"),
            NameSlot::Other(i) => write!(f, "Other({i})"),
        }
    }
}

impl<'a> Iterator for Iter<'a> {
    type Item = HeaderRef<'a>;

    fn next(&mut self) -> Option<HeaderRef<'a>> {
        self.entries.next().map(|e| self.headers.view(*e))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.entries.size_hint()
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.entries.next_back().map(|e| self.headers.view(*e))
    }
}

impl ExactSizeIterator for Iter<'_> {}

/// Whether a list value may hold several items (a comma outside quotes and
/// angle brackets); values without one are parsed whole, without a copy.
fn has_top_level_comma(value: &[u8]) -> bool {
    if crate::charset::find(value, b',').is_none() {
        return false;
    }
    let (mut quoted, mut angle, mut escaped) = (false, false, false);
    for c in value {
        match c {
            _ if escaped => escaped = false,
            b'\\' if quoted => escaped = true,
            b'"' if !angle => quoted = !quoted,
            b'<' if !quoted => angle = true,
            b'>' if !quoted => angle = false,
            b',' if !quoted && !angle => return true,
            _ => {}
        }
    }
    false
}

/// The values of one typed header across all its lines, from
/// [`Headers::typed_all`].
#[derive(Debug)]
pub struct TypedValues<'a, H> {
    headers: &'a Headers,
    lines: std::slice::Iter<'a, Entry>,
    items: Option<(&'a Bytes, ListRanges<'a>)>,
    _header: PhantomData<fn() -> H>,
}

impl<H: TypedHeader> Iterator for TypedValues<'_, H> {
    type Item = Result<H, HeaderError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some((buf, items)) = &mut self.items {
                if let Some((s, e)) = items.next() {
                    return Some(H::parse_in(buf, s, e));
                }
                self.items = None;
            }
            let headers = self.headers;
            let line = self.lines.by_ref().find(|h| headers.is(h.name, &H::NAME))?;
            let (buf, s, e) = headers.locate(line.value);
            if H::LIST {
                self.items = Some((buf, list_ranges(buf, s, e)));
            } else {
                return Some(H::parse_in(buf, s, e));
            }
        }
    }
}

impl<'a> IntoIterator for &'a Headers {
    type Item = HeaderRef<'a>;
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_case_insensitively_and_compact() {
        for (raw, known) in [
            ("via", Known::Via),
            ("V", Known::Via),
            ("MaX-fOrWaRdS", Known::MaxForwards),
            ("i", Known::CallId),
            ("call-id", Known::CallId),
            ("l", Known::ContentLength),
            ("WWW-Authenticate", Known::WwwAuthenticate),
            ("p-asserted-identity", Known::PAssertedIdentity),
        ] {
            assert_eq!(
                HeaderName::from_bytes(Bytes::from(raw)),
                HeaderName::Known(known),
                "{raw}"
            );
        }
        assert_eq!(
            HeaderName::from_bytes(Bytes::from_static(b"C%6Fntact")),
            HeaderName::custom("c%6fNTACT")
        );
        assert_ne!(HeaderName::custom("X-A"), HeaderName::Known(Known::Accept));
    }

    /// The first value of `k` by scanning the lines.
    fn scan(h: &Headers, k: Known) -> Option<Vec<u8>> {
        h.iter()
            .find(|l| *l.name == HeaderName::Known(k))
            .map(|l| l.value.to_vec())
    }

    #[test]
    fn get_answers_as_a_scan_through_every_change() {
        let names = [Known::Via, Known::Route, Known::Contact, Known::CSeq];
        let mut h = Headers::new();
        let mut state = 0x2545_f491_u64;
        for step in 0..3000 {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            let r = (state >> 33) as usize;
            let k = names[r % names.len()];
            let value = format!("v{step}");
            match (r / 7) % 7 {
                0 | 1 => h.push(k, value),
                2 => h.prepend_raw(k, value),
                3 => h.set(k.into(), value),
                4 => {
                    h.remove_first(&k.into());
                }
                5 => {
                    h.set_first(&k.into(), value);
                }
                _ if h.len() > 40 => {
                    h.remove(&k.into());
                }
                _ => h.push(HeaderName::custom("X-Other"), value),
            }
            for k in names {
                assert_eq!(
                    h.get(&k.into()).map(<[u8]>::to_vec),
                    scan(&h, k),
                    "step {step}"
                );
            }
        }
    }

    #[test]
    fn a_known_header_after_many_others_is_found() {
        let mut h = Headers::new();
        for i in 0..300 {
            h.push(HeaderName::custom("X-Filler"), format!("{i}"));
        }
        h.push(Known::Via, "SIP/2.0/UDP a");
        assert_eq!(h.get(&Known::Via.into()), Some(&b"SIP/2.0/UDP a"[..]));
        h.prepend_raw(Known::CSeq, "1 INVITE");
        assert_eq!(h.get(&Known::Via.into()), Some(&b"SIP/2.0/UDP a"[..]));
        assert_eq!(h.get(&Known::CSeq.into()), Some(&b"1 INVITE"[..]));
        assert_eq!(h.get(&Known::Route.into()), None);
    }

    #[test]
    fn set_replaces_all_lines() {
        let mut h = Headers::new();
        h.push(Known::Contact, "a");
        h.push(Known::Via, "v");
        h.push(Known::Contact, "b");
        h.set(Known::Contact.into(), "c");
        assert_eq!(h.count(&Known::Contact.into()), 1);
        assert_eq!(h.get(&Known::Contact.into()), Some(&b"c"[..]));
        assert_eq!(
            h.iter().next().map(|h| h.name.clone()),
            Some(Known::Contact.into())
        );
        assert_eq!(h.remove(&Known::Via.into()), 1);
    }
}
