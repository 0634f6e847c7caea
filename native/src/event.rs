//! Stored log rows (`Recorded`: `[event, recorded_at]`, as reputation/events.py writes them).

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use std::borrow::Cow;
use std::fmt;

use crate::time::parse_time;

/// Text of the row, borrowed unless it had escapes.
pub type S<'a> = Cow<'a, str>;

pub enum Kind<'a> {
    Opened { freelancer: S<'a>, client: S<'a>, pricing: S<'a>, continues: Option<S<'a>> },
    ScopeChanged,
    Payment(i64),
    Refund(i64),
    Closed { by: S<'a>, reason: S<'a> },
    Public { by: S<'a>, stars: f64 },
    Revised { by: S<'a>, stars: f64 },
    Private { by: S<'a>, recommend: i64, end_reason: Option<S<'a>> },
    EditAllowed { by: S<'a> },
    Removed { of: S<'a>, basis: S<'a>, scope: S<'a> },
    Flagged,
    Unflagged,
    Clock { to: i64 },
}

pub struct Event<'a> {
    pub kind: Kind<'a>,
    pub type_name: &'static str,
    pub event_id: S<'a>,
    pub at: i64,
    pub contract_id: Option<S<'a>>,
    pub client_id: Option<S<'a>>,
}

pub struct Recorded<'a> {
    pub event: Event<'a>,
    pub recorded_at: S<'a>,
}

/// A string of the row: borrowed (no copy) unless it holds escapes. serde's own `Cow<str>`
/// inside an `Option` always copies.
struct Text<'a>(S<'a>);

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

/// Money as stored (a decimal string), or a JSON number: in cents.
struct Amount(Result<i64, String>);

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Amount;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an amount")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Amount, E> {
                Ok(Amount(cents(v)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Amount, E> {
                Ok(Amount(cents(&v.to_string())))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Amount, E> {
                Ok(Amount(cents(&v.to_string())))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Deserialize)]
struct Raw<'a> {
    #[serde(rename = "type", borrow)]
    kind: Text<'a>,
    #[serde(borrow)]
    event_id: Text<'a>,
    #[serde(borrow)]
    occurred_at: Text<'a>,
    #[serde(borrow)]
    contract_id: Option<Text<'a>>,
    #[serde(borrow)]
    freelancer_id: Option<Text<'a>>,
    #[serde(borrow)]
    client_id: Option<Text<'a>>,
    #[serde(borrow)]
    pricing: Option<Text<'a>>,
    #[serde(borrow)]
    continues: Option<Text<'a>>,
    amount: Option<Amount>,
    #[serde(borrow)]
    closed_by: Option<Text<'a>>,
    #[serde(borrow)]
    reason: Option<Text<'a>>,
    #[serde(borrow)]
    by: Option<Text<'a>>,
    stars: Option<f64>,
    recommend: Option<i64>,
    #[serde(borrow)]
    end_reason: Option<Text<'a>>,
    #[serde(borrow)]
    of: Option<Text<'a>>,
    #[serde(borrow)]
    basis: Option<Text<'a>>,
    #[serde(borrow)]
    scope: Option<Text<'a>>,
    #[serde(borrow)]
    to: Option<Text<'a>>,
}

/// "12.5" / "12.50" / 12 -> cents (the log holds at most 2 decimals).
fn cents(text: &str) -> Result<i64, String> {
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    let frac = frac.trim_end_matches('0');
    if frac.len() > 2 || whole.is_empty() || !whole.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return Err(format!("amount {text:?} is not money with at most 2 decimals"));
    }
    let f: i64 = format!("{frac:0<2}").parse().map_err(|_| format!("bad amount {text:?}"))?;
    let w: i64 = whole.parse().map_err(|_| format!("bad amount {text:?}"))?;
    Ok(w * 100 + f)
}

fn need<'a>(v: &Option<Text<'a>>, name: &str, t: &str) -> Result<S<'a>, String> {
    v.as_ref().map(|x| x.0.clone()).ok_or_else(|| format!("{t} event without `{name}`"))
}

fn opt<'a>(v: &Option<Text<'a>>) -> Option<S<'a>> {
    v.as_ref().map(|x| x.0.clone())
}

pub fn decode_recorded(data: &[u8]) -> Result<Recorded<'_>, String> {
    let (raw, recorded_at): (Raw, Text) = serde_json::from_slice(data).map_err(|e| format!("not a stored event row: {e}"))?;
    let t = raw.kind.0.as_ref();
    let amount = || -> Result<i64, String> {
        match &raw.amount {
            Some(Amount(cents)) => cents.clone(),
            None => Err(format!("{t} event without `amount`")),
        }
    };
    let stars = || raw.stars.ok_or_else(|| format!("{t} event without `stars`"));
    let (kind, type_name) = match t {
        "ContractOpened" => (
            Kind::Opened {
                freelancer: need(&raw.freelancer_id, "freelancer_id", t)?,
                client: need(&raw.client_id, "client_id", t)?,
                pricing: need(&raw.pricing, "pricing", t)?,
                continues: opt(&raw.continues),
            },
            "ContractOpened",
        ),
        "ScopeChanged" => (Kind::ScopeChanged, "ScopeChanged"),
        "PaymentMade" => (Kind::Payment(amount()?), "PaymentMade"),
        "PaymentRefunded" => (Kind::Refund(amount()?), "PaymentRefunded"),
        "ContractClosed" => {
            (Kind::Closed { by: need(&raw.closed_by, "closed_by", t)?, reason: need(&raw.reason, "reason", t)? }, "ContractClosed")
        }
        "PublicFeedbackSubmitted" => (Kind::Public { by: need(&raw.by, "by", t)?, stars: stars()? }, "PublicFeedbackSubmitted"),
        "PublicFeedbackRevised" => (Kind::Revised { by: need(&raw.by, "by", t)?, stars: stars()? }, "PublicFeedbackRevised"),
        "PrivateFeedbackSubmitted" => (
            Kind::Private {
                by: need(&raw.by, "by", t)?,
                recommend: raw.recommend.ok_or_else(|| format!("{t} event without `recommend`"))?,
                end_reason: opt(&raw.end_reason),
            },
            "PrivateFeedbackSubmitted",
        ),
        "FeedbackEditAllowed" => (Kind::EditAllowed { by: need(&raw.by, "by", t)? }, "FeedbackEditAllowed"),
        "FeedbackRemoved" => (
            Kind::Removed {
                of: need(&raw.of, "of", t)?,
                basis: need(&raw.basis, "basis", t)?,
                scope: opt(&raw.scope).unwrap_or(Cow::Borrowed("jss_and_profile")),
            },
            "FeedbackRemoved",
        ),
        "ClientFlagged" => (Kind::Flagged, "ClientFlagged"),
        "ClientUnflagged" => (Kind::Unflagged, "ClientUnflagged"),
        "ClockAdvanced" => (Kind::Clock { to: parse_time(&need(&raw.to, "to", t)?)? }, "ClockAdvanced"),
        other => return Err(format!("unknown event type {other:?} in the log")),
    };
    let contract_id = opt(&raw.contract_id);
    if contract_id.is_none() && !matches!(kind, Kind::Flagged | Kind::Unflagged | Kind::Clock { .. }) {
        return Err(format!("{t} event without `contract_id`"));
    }
    if raw.client_id.is_none() && matches!(kind, Kind::Flagged | Kind::Unflagged) {
        return Err(format!("{t} event without `client_id`"));
    }
    Ok(Recorded {
        event: Event {
            at: parse_time(&raw.occurred_at.0)?,
            kind,
            type_name,
            event_id: raw.event_id.0.clone(),
            contract_id,
            client_id: opt(&raw.client_id),
        },
        recorded_at: recorded_at.0,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn cents_are_exact() {
        assert_eq!(super::cents("250.01").unwrap(), 25001);
        assert_eq!(super::cents("1.5").unwrap(), 150);
        assert_eq!(super::cents("1000").unwrap(), 100000);
        assert!(super::cents("1.001").is_err());
    }

    #[test]
    fn rows_decode_with_defaults_escapes_and_numbers() {
        let row = br#"[{"type":"FeedbackRemoved","event_id":"e\u0031","occurred_at":"2024-01-02T03:04:05.5Z","contract_id":"c1","of":"client","basis":"dispute_upheld","comment":"x\"y"},"2026-01-01T00:00:00Z"]"#;
        let r = super::decode_recorded(row).unwrap();
        assert_eq!(r.event.event_id, "e1");
        assert_eq!(r.event.at, crate::time::parse_time("2024-01-02T03:04:05.500Z").unwrap());
        assert!(matches!(&r.event.kind, super::Kind::Removed { scope, .. } if scope == "jss_and_profile"));
        let pay = br#"[{"type":"PaymentMade","event_id":"p","occurred_at":"2024-01-02T00:00:00Z","contract_id":"c1","amount":12.5},"t"]"#;
        assert!(matches!(super::decode_recorded(pay).unwrap().event.kind, super::Kind::Payment(1250)));
        let bad = br#"[{"type":"PaymentMade","event_id":"p","occurred_at":"2024-01-02T00:00:00Z"},"t"]"#;
        assert!(super::decode_recorded(bad).err().is_some_and(|e| e.contains("amount")));
    }
}
