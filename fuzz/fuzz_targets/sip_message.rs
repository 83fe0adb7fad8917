//! The message parser on arbitrary bytes: no panic, every typed header
//! parses or errs, validation runs, and printing then re-parsing gives the
//! same message (the round-trip property). Malformed input gets the
//! RFC 4475 answer without panicking.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use voip_sip::header::{
    Accept, Allow, Authorization, CSeq, CallId, Contact, ContentLength, ContentType, Date, Event,
    Expires, From, MaxForwards, MinExpires, MinSe, PAssertedIdentity, Path, ProxyAuthenticate,
    ProxyAuthorization, ProxyRequire, RAck, RSeq, RecordRoute, ReferTo, ReferredBy, Replaces,
    Require, SessionExpires, SubscriptionState, Supported, To, TypedHeader, Unsupported, Via,
    WwwAuthenticate,
};
use voip_sip::validate::{UasPolicy, check_request};
use voip_sip::{Headers, Message, ParseConfig, parse_message};

/// Parses every value of `H`, prints the ones that parse and parses the
/// print again: it must parse (what we print, we accept).
fn touch<H: TypedHeader>(headers: &Headers) {
    for value in headers.typed_all::<H>() {
        if let Ok(h) = value {
            let printed = h.to_bytes();
            assert!(
                H::parse(&printed).is_ok(),
                "{} prints {printed:?}, which does not parse",
                H::NAME
            );
        }
    }
    // parsed in place in the message buffer as parsed alone
    let in_place = headers.typed::<H>();
    if !H::LIST {
        let alone = headers.get_bytes(&H::NAME).map(|v| H::parse(&v));
        assert_eq!(
            in_place.as_ref().map(Result::is_ok),
            alone.as_ref().map(Result::is_ok),
            "{} parses differently in place",
            H::NAME
        );
    }
}

/// The parameters noted while parsing (Via `branch`, name-addr `tag`) read
/// as a scan of the parameters reads them.
fn noted_params(headers: &Headers) {
    for via in headers.typed_all::<Via>().flatten() {
        assert_eq!(via.branch(), via.params().value("branch"), "{via:?}");
    }
    for from in headers.typed_all::<From>().flatten() {
        assert_eq!(from.tag(), from.params().value("tag"), "{from:?}");
    }
    for to in headers.typed_all::<To>().flatten() {
        assert_eq!(to.tag(), to.params().value("tag"), "{to:?}");
    }
}

fn touch_all(headers: &Headers) {
    noted_params(headers);
    touch::<Accept>(headers);
    touch::<Allow>(headers);
    touch::<Authorization>(headers);
    touch::<CSeq>(headers);
    touch::<CallId>(headers);
    touch::<Contact>(headers);
    touch::<ContentLength>(headers);
    touch::<ContentType>(headers);
    touch::<Date>(headers);
    touch::<Event>(headers);
    touch::<Expires>(headers);
    touch::<From>(headers);
    touch::<MaxForwards>(headers);
    touch::<MinExpires>(headers);
    touch::<MinSe>(headers);
    touch::<PAssertedIdentity>(headers);
    touch::<Path>(headers);
    touch::<ProxyAuthenticate>(headers);
    touch::<ProxyAuthorization>(headers);
    touch::<ProxyRequire>(headers);
    touch::<RAck>(headers);
    touch::<RSeq>(headers);
    touch::<RecordRoute>(headers);
    touch::<ReferTo>(headers);
    touch::<ReferredBy>(headers);
    touch::<Replaces>(headers);
    touch::<Require>(headers);
    touch::<SessionExpires>(headers);
    touch::<SubscriptionState>(headers);
    touch::<Supported>(headers);
    touch::<To>(headers);
    touch::<Unsupported>(headers);
    touch::<Via>(headers);
    touch::<WwwAuthenticate>(headers);
}

fuzz_target!(|data: &[u8]| {
    let config = ParseConfig::default();
    match parse_message(Bytes::copy_from_slice(data), &config) {
        Ok(message) => {
            touch_all(message.headers());
            if let Message::Request(request) = &message {
                if let Err(rejection) = check_request(request) {
                    let _ = rejection.response(request).to_bytes();
                }
                let _ = UasPolicy::default().check(request);
            }
            let printed = message.to_bytes();
            let reparsed = parse_message(printed.clone(), &config);
            match reparsed {
                Ok(again) => assert_eq!(again, message, "print then parse differs: {printed:?}"),
                Err(e) => panic!("printed message does not parse ({e}): {printed:?}"),
            }
        }
        Err(error) => {
            let _ = error.status();
            if let Some(reply) = voip_sip::reply::reply_to_malformed(data, &error, "t") {
                assert!(
                    parse_message(reply.clone(), &config).is_ok(),
                    "reply to malformed does not parse: {reply:?}"
                );
            }
        }
    }
});
