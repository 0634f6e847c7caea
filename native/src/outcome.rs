//! reputation/outcome.py: a contract's client signals and its outcome under a rule set.

use crate::model::Contract;
use crate::reason::{Reason, Why};
use crate::rules::{Outcome, RuleSet, View};

fn reason_is_negative(reason: Option<&str>, rules: &RuleSet) -> bool {
    match reason {
        None => false,
        Some(r) if NEGATIVE_REASONS.contains(&r) => true,
        Some(r) => !rules.neutral_reasons && r != "completed_successfully",
    }
}

pub const NEGATIVE_REASONS: [&str; 3] = ["freelancer_unresponsive", "freelancer_lacked_skills", "completed_unsuccessfully"];
/// fair-2026: closes that say nothing about the work
pub const NEUTRAL_CLOSES: [&str; 4] = ["no_longer_needed", "hired_someone_else", "client_unresponsive", "other"];

#[derive(Clone)]
pub struct Signals<'a> {
    pub reason: Option<&'a str>,
    pub private_reason: bool,
    pub recommend: Option<i64>,
    pub stars: Option<f64>,
    pub stripped: Option<Reason>,
    pub note: Option<Reason>, // fair-2026: the reason was a neutral close, so no signal
}

impl<'a> Signals<'a> {
    pub fn any(&self) -> bool {
        self.reason.is_some() || self.recommend.is_some() || self.stars.is_some()
    }
    pub fn stripped(stripped: Reason) -> Signals<'a> {
        Signals { reason: None, private_reason: false, recommend: None, stars: None, stripped: Some(stripped), note: None }
    }
    /// Under a rule set with neutral closes, a reason of NEUTRAL_CLOSES is no signal.
    pub fn neutral_close(mut self, rules: &RuleSet) -> Signals<'a> {
        if let Some(reason) = self.reason.filter(|r| rules.neutral_closes && NEUTRAL_CLOSES.contains(r)) {
            self.note = Some(Reason::ReasonNeutralClose { reason: reason.to_string(), rules: rules.name, private: self.private_reason });
            self.reason = None;
            self.private_reason = false;
        }
        self
    }
}

/// The client's reason: the private end_reason, else the close reason when the client or the
/// platform closed, else none.
pub fn client_reason<'a>(c: &'a Contract, v: &View) -> Option<&'a str> {
    if v.client_end_reason {
        c.client_private.as_ref().and_then(|p| p.end_reason.as_deref())
    } else if v.closed_by_client_or_platform {
        c.closed.as_ref().map(|x| x.reason.as_str())
    } else {
        None
    }
}

pub fn signals<'a>(c: &'a Contract, v: &View, rules: &RuleSet, flagged: bool) -> Signals<'a> {
    if let Some(i) = v.client_removed {
        return Signals::stripped(Reason::ClientFeedbackRemoved(c.removals[i].basis.to_string()));
    }
    if flagged && rules.ignores_flagged_clients {
        return Signals::stripped(Reason::ClientFlagged(rules.name));
    }
    let s = Signals {
        reason: client_reason(c, v),
        private_reason: v.client_end_reason,
        recommend: v.client_recommend,
        stars: v.client_stars,
        stripped: None,
        note: None,
    };
    s.neutral_close(rules)
}

/// fair-2026: a harsh client's usual answers (None where the client is not harsh).
#[derive(Clone, Copy, Default)]
pub struct Usual {
    pub recommend: Option<i64>,
    pub stars: Option<f64>,
}

pub fn outcome(v: &View, s: &Signals, rules: &RuleSet, usual: Option<Usual>, why: &mut impl Why) -> Outcome {
    let usual = usual.unwrap_or_default();
    let mut negative = false;
    let mut mild: Vec<Reason> = vec![]; // a harsh client's usual low answers: they move nothing
    if reason_is_negative(s.reason, rules) {
        negative = true;
        why.push(|| Reason::ReasonNegative { reason: s.reason.unwrap_or("").to_string(), rules: rules.name, private: s.private_reason });
    }
    if let Some(r) = s.recommend.filter(|&r| r <= 6) {
        match usual.recommend {
            Some(u) if r >= u => mild.push(Reason::RecommendUsual(r, u)),
            _ => {
                negative = true;
                why.push(|| Reason::RecommendLow(r));
            }
        }
    }
    if let Some(x) = s.stars.filter(|&x| x < 3.0) {
        match usual.stars {
            Some(u) if x >= u => mild.push(Reason::StarsUsual(x, u)),
            _ => {
                negative = true;
                why.push(|| Reason::StarsLow(x));
            }
        }
    }
    if negative {
        return Outcome::Negative;
    }
    let mut positive = false;
    if let Some(r) = s.recommend.filter(|&r| r >= 9) {
        positive = true;
        why.push(|| Reason::RecommendHigh(r));
    }
    if let Some(x) = s.stars.filter(|&x| x >= 4.5 && s.recommend.is_none()) {
        positive = true;
        why.push(|| Reason::StarsHighNoPrivate(x)); // the absence of a private answer decides
    }
    if v.long_term() {
        positive = true;
        why.push(|| Reason::LongTerm);
    }
    if positive {
        return Outcome::Positive;
    }
    if !mild.is_empty() {
        for m in mild {
            why.push(|| m);
        }
    } else if let Some(r) = s.recommend {
        why.push(|| Reason::RecommendMiddle(r));
    } else if s.any() {
        why.push(|| Reason::SignalsNeither);
    } else {
        why.push(|| Reason::NoFeedback);
    }
    Outcome::Neutral
}
