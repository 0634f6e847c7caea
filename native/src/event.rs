//! Stored log rows (`Recorded`: `[event, recorded_at]`, as reputation/events.py writes them).

use serde::Deserialize;
use std::borrow::Cow;

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

#[derive(Deserialize)]
#[serde(untagged)]
enum Amount<'a> {
    Text(#[serde(borrow)] Cow<'a, str>),
    Number(serde_json::Number),
}

#[derive(Deserialize)]
struct Raw<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow)]
    event_id: Cow<'a, str>,
    #[serde(borrow)]
    occurred_at: Cow<'a, str>,
    #[serde(borrow)]
    contract_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    freelancer_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    client_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pricing: Option<Cow<'a, str>>,
    #[serde(borrow)]
    continues: Option<Cow<'a, str>>,
    #[serde(borrow)]
    amount: Option<Amount<'a>>,
    #[serde(borrow)]
    closed_by: Option<Cow<'a, str>>,
    #[serde(borrow)]
    reason: Option<Cow<'a, str>>,
    #[serde(borrow)]
    by: Option<Cow<'a, str>>,
    stars: Option<f64>,
    recommend: Option<i64>,
    #[serde(borrow)]
    end_reason: Option<Cow<'a, str>>,
    #[serde(borrow)]
    of: Option<Cow<'a, str>>,
    #[serde(borrow)]
    basis: Option<Cow<'a, str>>,
    #[serde(borrow)]
    scope: Option<Cow<'a, str>>,
    #[serde(borrow)]
    to: Option<Cow<'a, str>>,
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

fn need<'a>(v: Option<S<'a>>, name: &str, t: &str) -> Result<S<'a>, String> {
    v.ok_or_else(|| format!("{t} event without `{name}`"))
}

pub fn decode_recorded(data: &[u8]) -> Result<Recorded<'_>, String> {
    let (raw, recorded_at): (Raw, S) =
        serde_json::from_slice(data).map_err(|e| format!("not a stored event row: {e}"))?;
    let t = raw.kind.as_ref();
    let amount = || -> Result<i64, String> {
        match &raw.amount {
            Some(Amount::Text(s)) => cents(s),
            Some(Amount::Number(n)) => cents(&n.to_string()),
            None => Err(format!("{t} event without `amount`")),
        }
    };
    let stars = || raw.stars.ok_or_else(|| format!("{t} event without `stars`"));
    let (kind, type_name) = match t {
        "ContractOpened" => (
            Kind::Opened {
                freelancer: need(raw.freelancer_id.clone(), "freelancer_id", t)?,
                client: need(raw.client_id.clone(), "client_id", t)?,
                pricing: need(raw.pricing.clone(), "pricing", t)?,
                continues: raw.continues.clone(),
            },
            "ContractOpened",
        ),
        "ScopeChanged" => (Kind::ScopeChanged, "ScopeChanged"),
        "PaymentMade" => (Kind::Payment(amount()?), "PaymentMade"),
        "PaymentRefunded" => (Kind::Refund(amount()?), "PaymentRefunded"),
        "ContractClosed" => (
            Kind::Closed { by: need(raw.closed_by.clone(), "closed_by", t)?, reason: need(raw.reason.clone(), "reason", t)? },
            "ContractClosed",
        ),
        "PublicFeedbackSubmitted" => {
            (Kind::Public { by: need(raw.by.clone(), "by", t)?, stars: stars()? }, "PublicFeedbackSubmitted")
        }
        "PublicFeedbackRevised" => {
            (Kind::Revised { by: need(raw.by.clone(), "by", t)?, stars: stars()? }, "PublicFeedbackRevised")
        }
        "PrivateFeedbackSubmitted" => (
            Kind::Private {
                by: need(raw.by.clone(), "by", t)?,
                recommend: raw.recommend.ok_or_else(|| format!("{t} event without `recommend`"))?,
                end_reason: raw.end_reason.clone(),
            },
            "PrivateFeedbackSubmitted",
        ),
        "FeedbackEditAllowed" => (Kind::EditAllowed { by: need(raw.by.clone(), "by", t)? }, "FeedbackEditAllowed"),
        "FeedbackRemoved" => (
            Kind::Removed {
                of: need(raw.of.clone(), "of", t)?,
                basis: need(raw.basis.clone(), "basis", t)?,
                scope: raw.scope.clone().unwrap_or(Cow::Borrowed("jss_and_profile")),
            },
            "FeedbackRemoved",
        ),
        "ClientFlagged" => (Kind::Flagged, "ClientFlagged"),
        "ClientUnflagged" => (Kind::Unflagged, "ClientUnflagged"),
        "ClockAdvanced" => (Kind::Clock { to: parse_time(&need(raw.to.clone(), "to", t)?)? }, "ClockAdvanced"),
        other => return Err(format!("unknown event type {other:?} in the log")),
    };
    let contract_id = raw.contract_id;
    if contract_id.is_none() && !matches!(kind, Kind::Flagged | Kind::Unflagged | Kind::Clock { .. }) {
        return Err(format!("{t} event without `contract_id`"));
    }
    if raw.client_id.is_none() && matches!(kind, Kind::Flagged | Kind::Unflagged) {
        return Err(format!("{t} event without `client_id`"));
    }
    Ok(Recorded {
        event: Event {
            at: parse_time(&raw.occurred_at)?,
            kind,
            type_name,
            event_id: raw.event_id,
            contract_id,
            client_id: raw.client_id,
        },
        recorded_at,
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
}
