//! One event line: strict decode, canonical form (the bytes reputation/events.py's msgspec
//! encoder writes) and the id digest. Conservative: a line this module is not sure about, valid
//! or not, is `None`, and the caller hands the whole batch to the Python reference (which has
//! the words of every reject).

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

use crate::time::write_time;

use super::values::{digest, money, stars, timestamp, write_str};

pub enum Kind {
    Opened { freelancer: String, client: String, pricing: &'static str, continues: Option<String> },
    Scope,
    Payment(i64),
    Refund(i64),
    Closed { by: &'static str, reason: &'static str },
    Public { by: &'static str, stars: f64 },
    Revised { by: &'static str, stars: f64 },
    Private { by: &'static str, recommend: i64, end_reason: Option<&'static str> },
    EditAllowed { by: &'static str },
    Removed { of: &'static str, basis: &'static str, scope: &'static str },
    Flagged,
    Unflagged,
    Clock { to: i64 },
}

pub struct Line {
    pub number: i64,
    pub kind: Kind,
    pub type_name: &'static str,
    pub event_id: String,
    pub at: i64,
    /// contract id, client id, or "" for the clock
    pub subject: String,
    /// "contract:<id>", "client:<id>" or "engine:clock"
    pub stream: String,
    pub canonical: Vec<u8>,
    pub digest: [u8; 16],
}

/// A string of the line: borrowed unless it held escapes.
struct Text<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(V(std::marker::PhantomData))
    }
}

const FIELDS: [&str; 23] = [
    "type",
    "event_id",
    "occurred_at",
    "schema",
    "contract_id",
    "freelancer_id",
    "client_id",
    "pricing",
    "continues",
    "summary",
    "amount",
    "closed_by",
    "reason",
    "by",
    "stars",
    "attributes",
    "comment",
    "recommend",
    "end_reason",
    "of",
    "basis",
    "scope",
    "note",
];
const TO: u32 = 23; // "to", bit 23

fn field_index(name: &str) -> Option<u32> {
    // the common fields first: most lines have only those
    Some(match name {
        "type" => 0,
        "event_id" => 1,
        "occurred_at" => 2,
        "contract_id" => 4,
        "to" => TO,
        _ => FIELDS.iter().position(|x| *x == name)? as u32,
    })
}

#[derive(Default)]
struct Fields<'a> {
    seen: u32,
    text: [Option<Text<'a>>; 24],
    raw: [Option<&'a RawValue>; 2], // amount, stars
    schema: Option<i64>,
    recommend: Option<i64>,
    attributes: Option<Option<Attributes>>,
}

#[derive(Default)]
struct Attributes([Option<i64>; 6]);
const RATINGS: [&str; 6] = ["skills", "quality", "availability", "deadlines", "communication", "cooperation"];

impl<'de> Deserialize<'de> for Attributes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Attributes;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("attributes")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut m: M) -> Result<Attributes, M::Error> {
                let mut a = Attributes::default();
                let mut seen = 0u8;
                while let Some(k) = m.next_key::<Text>()? {
                    let i = RATINGS.iter().position(|r| *r == k.0).ok_or_else(|| de::Error::custom("field"))?;
                    if seen & (1 << i) != 0 {
                        return Err(de::Error::custom("duplicate"));
                    }
                    seen |= 1 << i;
                    a.0[i] = m.next_value::<Option<i64>>()?;
                    if a.0[i].is_some_and(|r| !(1..=5).contains(&r)) {
                        return Err(de::Error::custom("rating"));
                    }
                }
                Ok(a)
            }
        }
        d.deserialize_map(V)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Fields<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Fields<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an event object")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut m: M) -> Result<Fields<'a>, M::Error> {
                let mut f = Fields::default();
                while let Some(k) = m.next_key::<Text>()? {
                    let i = match field_index(&k.0) {
                        Some(i) => i,
                        None => return Err(de::Error::custom("unknown field")),
                    };
                    if f.seen & (1 << i) != 0 {
                        return Err(de::Error::custom("duplicate field")); // msgspec keeps the last: not sure
                    }
                    f.seen |= 1 << i;
                    match i {
                        3 => f.schema = Some(m.next_value()?),
                        10 => f.raw[0] = Some(m.next_value()?),
                        14 => f.raw[1] = Some(m.next_value()?),
                        15 => f.attributes = Some(m.next_value()?),
                        17 => f.recommend = Some(m.next_value()?),
                        8 | 9 | 16 | 18 | 22 => f.text[i as usize] = m.next_value::<Option<Text>>()?,
                        _ => f.text[i as usize] = Some(m.next_value()?),
                    }
                }
                Ok(f)
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

const fn bits(list: &[u32]) -> u32 {
    let mut b = 0;
    let mut i = 0;
    while i < list.len() {
        b |= 1 << list[i];
        i += 1;
    }
    b
}

const BASE: u32 = bits(&[0, 1, 2, 3]);
const REASONS: [&str; 8] = [
    "completed_successfully",
    "no_longer_needed",
    "freelancer_unresponsive",
    "freelancer_lacked_skills",
    "completed_unsuccessfully",
    "hired_someone_else",
    "client_unresponsive",
    "other",
];
const SIDES: [&str; 2] = ["client", "freelancer"];

/// (type, allowed fields beyond the base, required ones)
fn shape(t: &str) -> Option<(&'static str, u32, u32)> {
    Some(match t {
        "ContractOpened" => ("ContractOpened", bits(&[4, 5, 6, 7, 8]), bits(&[4, 5, 6, 7])),
        "ScopeChanged" => ("ScopeChanged", bits(&[4, 9]), bits(&[4])),
        "PaymentMade" => ("PaymentMade", bits(&[4, 10]), bits(&[4, 10])),
        "PaymentRefunded" => ("PaymentRefunded", bits(&[4, 10]), bits(&[4, 10])),
        "ContractClosed" => ("ContractClosed", bits(&[4, 11, 12]), bits(&[4, 11, 12])),
        "PublicFeedbackSubmitted" => ("PublicFeedbackSubmitted", bits(&[4, 13, 14, 15, 16]), bits(&[4, 13, 14])),
        "PrivateFeedbackSubmitted" => ("PrivateFeedbackSubmitted", bits(&[4, 13, 17, 18]), bits(&[4, 13, 17])),
        "FeedbackEditAllowed" => ("FeedbackEditAllowed", bits(&[4, 13]), bits(&[4, 13])),
        "PublicFeedbackRevised" => ("PublicFeedbackRevised", bits(&[4, 13, 14, 15, 16]), bits(&[4, 13, 14])),
        "FeedbackRemoved" => ("FeedbackRemoved", bits(&[4, 19, 20, 21]), bits(&[4, 19, 20])),
        "ClientFlagged" => ("ClientFlagged", bits(&[6, 22]), bits(&[6])),
        "ClientUnflagged" => ("ClientUnflagged", bits(&[6]), bits(&[6])),
        "ClockAdvanced" => ("ClockAdvanced", bits(&[TO]), bits(&[TO])),
        _ => return None,
    })
}

fn one_of(text: &str, options: &[&'static str]) -> Option<&'static str> {
    options.iter().find(|o| **o == text).copied()
}

fn is_id(s: &str) -> bool {
    (1..=128).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

struct Out(Vec<u8>);

impl Out {
    fn key(&mut self, k: &str) {
        self.0.push(b',');
        write_str(&mut self.0, k);
        self.0.push(b':');
    }
    fn str(&mut self, k: &str, v: &str) {
        self.key(k);
        write_str(&mut self.0, v);
    }
    fn raw(&mut self, k: &str, v: &str) {
        self.key(k);
        self.0.extend_from_slice(v.as_bytes());
    }
}

fn char_count(s: &str) -> usize {
    s.chars().count()
}

/// Decode one line (already without its line break); None when not sure it is valid.
pub fn decode(number: i64, line: &[u8]) -> Option<Line> {
    let f: Fields = serde_json::from_slice(line).ok()?;
    let (type_name, allowed, required) = shape(f.text[0].as_ref()?.0.as_ref())?;
    let base_required = bits(&[0, 1, 2]);
    if f.seen & !(allowed | BASE) != 0 || (f.seen & (required | base_required)) != (required | base_required) {
        return None;
    }
    if f.schema.is_some_and(|s| s != 1) {
        return None;
    }
    let text = |i: usize| f.text[i].as_ref().map(|t| t.0.as_ref());
    let id = |i: usize| text(i).filter(|s| is_id(s));
    let event_id = id(1)?;
    let at = timestamp(text(2)?)?;
    let mut out = Out(Vec::with_capacity(line.len() + 16));
    out.0.extend_from_slice(b"{\"type\":");
    write_str(&mut out.0, type_name);
    let mut subject = "";
    if f.seen & (1 << 4) != 0 {
        subject = id(4)?;
        out.str("contract_id", subject);
    }
    let side = |i: usize| one_of(text(i)?, &SIDES);
    let optional_text = |i: usize, max: usize| -> Option<Option<&str>> {
        match text(i) {
            Some(s) if char_count(s) > max => None,
            v => Some(v),
        }
    };
    let kind = match type_name {
        "ContractOpened" => {
            let (freelancer, client) = (id(5)?, id(6)?);
            let pricing = one_of(text(7)?, &["fixed", "hourly"])?;
            let continues = match text(8) {
                Some(_) => Some(id(8)?),
                None => None,
            };
            out.str("freelancer_id", freelancer);
            out.str("client_id", client);
            out.str("pricing", pricing);
            if let Some(c) = continues {
                out.str("continues", c);
            }
            Kind::Opened { freelancer: freelancer.into(), client: client.into(), pricing, continues: continues.map(Into::into) }
        }
        "ScopeChanged" => {
            if let Some(s) = optional_text(9, 2000)? {
                out.str("summary", s);
            }
            Kind::Scope
        }
        "PaymentMade" | "PaymentRefunded" => {
            let cents = money(f.raw[0]?.get())?;
            out.raw("amount", &format!("\"{}.{:02}\"", cents / 100, cents % 100));
            if type_name == "PaymentMade" {
                Kind::Payment(cents)
            } else {
                Kind::Refund(cents)
            }
        }
        "ContractClosed" => {
            let by = one_of(text(11)?, &["client", "freelancer", "platform"])?;
            let reason = one_of(text(12)?, &REASONS)?;
            out.str("closed_by", by);
            out.str("reason", reason);
            Kind::Closed { by, reason }
        }
        "PublicFeedbackSubmitted" | "PublicFeedbackRevised" => {
            let by = side(13)?;
            let v = stars(f.raw[1]?.get())?;
            out.str("by", by);
            out.raw("stars", ryu::Buffer::new().format_finite(v));
            if let Some(Some(a)) = &f.attributes {
                out.key("attributes");
                out.0.push(b'{');
                let mut first = true;
                for (name, r) in RATINGS.iter().zip(a.0.iter()) {
                    if let Some(r) = r {
                        if !first {
                            out.0.push(b',');
                        }
                        first = false;
                        write_str(&mut out.0, name);
                        out.0.extend_from_slice(format!(":{r}").as_bytes());
                    }
                }
                out.0.push(b'}');
            }
            if let Some(c) = optional_text(16, 5000)? {
                out.str("comment", c);
            }
            if type_name == "PublicFeedbackSubmitted" {
                Kind::Public { by, stars: v }
            } else {
                Kind::Revised { by, stars: v }
            }
        }
        "PrivateFeedbackSubmitted" => {
            let by = side(13)?;
            let recommend = f.recommend.filter(|r| (0..=10).contains(r))?;
            let end_reason = match text(18) {
                Some(r) => Some(one_of(r, &REASONS)?),
                None => None,
            };
            out.str("by", by);
            out.raw("recommend", &recommend.to_string());
            if let Some(r) = end_reason {
                out.str("end_reason", r);
            }
            Kind::Private { by, recommend, end_reason }
        }
        "FeedbackEditAllowed" => {
            let by = side(13)?;
            out.str("by", by);
            Kind::EditAllowed { by }
        }
        "FeedbackRemoved" => {
            let of = side(19)?;
            let basis = one_of(text(20)?, &["policy_violation", "dispute_upheld", "top_rated_perk"])?;
            let scope = match text(21) {
                Some(s) => one_of(s, &["jss_only", "jss_and_profile"])?,
                None if f.seen & (1 << 21) != 0 => return None, // null is no scope
                None => "jss_and_profile",
            };
            out.str("of", of);
            out.str("basis", basis);
            if scope != "jss_and_profile" {
                out.str("scope", scope);
            }
            Kind::Removed { of, basis, scope }
        }
        "ClientFlagged" | "ClientUnflagged" => {
            subject = id(6)?;
            out.str("client_id", subject);
            if type_name == "ClientFlagged" {
                if let Some(n) = optional_text(22, 2000)? {
                    out.str("note", n);
                }
                Kind::Flagged
            } else {
                Kind::Unflagged
            }
        }
        "ClockAdvanced" => {
            let to = timestamp(text(TO as usize)?)?;
            let mut t = String::with_capacity(27);
            write_time(&mut t, to);
            out.str("to", &t);
            Kind::Clock { to }
        }
        _ => return None,
    };
    out.str("event_id", event_id);
    let mut t = String::with_capacity(27);
    write_time(&mut t, at);
    out.str("occurred_at", &t);
    out.0.push(b'}');
    let canonical = out.0;
    let stream = match kind {
        Kind::Flagged | Kind::Unflagged => format!("client:{subject}"),
        Kind::Clock { .. } => "engine:clock".to_string(),
        _ => format!("contract:{subject}"),
    };
    Some(Line {
        stream,
        number,
        digest: digest(&canonical),
        kind,
        type_name,
        event_id: event_id.to_string(),
        at,
        subject: subject.to_string(),
        canonical,
    })
}

/// An export line (`{"position": …, "recorded_at": …, "event": {…}, "chain": …}`, those fields
/// only, `chain` optional), as reputation/export.py's `unwrap` reads it: its event, decoded.
pub fn decode_export(number: i64, line: &[u8]) -> Option<Line> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Exported<'a> {
        position: i64,
        recorded_at: String,
        #[serde(borrow)]
        event: &'a RawValue,
        #[serde(default)]
        chain: Option<String>,
    }
    let exported: Exported = serde_json::from_slice(line).ok()?;
    decode(number, exported.event.get().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(line: &str) -> Option<String> {
        decode(1, line.as_bytes()).map(|l| String::from_utf8(l.canonical).unwrap())
    }

    #[test]
    fn canonical_forms() {
        assert_eq!(
            canon(r#"{"amount":"0012.5","schema":1,"type":"PaymentMade","event_id":"e1","occurred_at":"2024-01-01T00:00:00.5+01:00","contract_id":"c"}"#).unwrap(),
            r#"{"type":"PaymentMade","contract_id":"c","amount":"12.50","event_id":"e1","occurred_at":"2023-12-31T23:00:00.500000Z"}"#
        );
        assert_eq!(
            canon(r#"{"type":"PublicFeedbackSubmitted","event_id":"e\u0031","occurred_at":"2024-01-01T00:00:00Z","contract_id":"c","by":"client","stars":5,"comment":"a\u0001\"\u00e9","attributes":{"quality":3,"skills":null}}"#).unwrap(),
            "{\"type\":\"PublicFeedbackSubmitted\",\"contract_id\":\"c\",\"by\":\"client\",\"stars\":5.0,\"attributes\":{\"quality\":3},\"comment\":\"a\\u0001\\\"\u{e9}\",\"event_id\":\"e1\",\"occurred_at\":\"2024-01-01T00:00:00Z\"}"
        );
    }

    #[test]
    fn unsure_lines_are_none() {
        for bad in [
            r#"{"type":"ScopeChanged","event_id":"e1","event_id":"e2","occurred_at":"2024-01-01T00:00:00Z","contract_id":"c"}"#,
            r#"{"type":"ScopeChanged","event_id":"e1","occurred_at":"2024-02-30T00:00:00Z","contract_id":"c"}"#,
            r#"{"type":"ScopeChanged","event_id":"e1","occurred_at":"9000-01-01T00:00:00Z","contract_id":"c"}"#,
            r#"{"type":"PaymentMade","event_id":"e1","occurred_at":"2024-01-01T00:00:00Z","contract_id":"c","amount":1.001}"#,
            r#"{"type":"PaymentMade","event_id":"e1","occurred_at":"2024-01-01T00:00:00Z","contract_id":"c","amount":1e3}"#,
            r#"{"type":"PublicFeedbackSubmitted","event_id":"e1","occurred_at":"2024-01-01T00:00:00Z","contract_id":"c","by":"client","stars":4.50000000000000001}"#,
            r#"{"type":"FeedbackRemoved","event_id":"e1","occurred_at":"2024-01-01T00:00:00Z","contract_id":"c","of":"client","basis":"dispute_upheld","scope":null}"#,
            r#"{"type":"ScopeChanged","event_id":"e1","occurred_at":"2024-01-01T00:00:00Z","contract_id":"c","extra":1}"#,
        ] {
            assert!(canon(bad).is_none(), "{bad}");
        }
    }
}
