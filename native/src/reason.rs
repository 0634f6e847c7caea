//! reputation.outcome.Reason: one fact behind an assessment, as data (code, values, private),
//! and its trust words (projections/audiences.py `_TRUST`, byte for byte).

#[derive(Clone, Debug, PartialEq)]
pub enum Reason {
    ReasonNegative { reason: String, rules: &'static str, private: bool },
    RecommendLow(i64),
    StarsLow(f64),
    RecommendUsual(i64, i64),
    StarsUsual(f64, f64),
    RecommendHigh(i64),
    StarsHighNoPrivate(f64),
    LongTerm,
    RecommendMiddle(i64),
    SignalsNeither,
    NoFeedback,
    ClientFeedbackRemoved(String),
    ClientFlagged(&'static str),
    Open,
    NotSettled,
    WhatIf(&'static str),
    WhatIfLeftOut,
    ExcludedPerk,
    ExcludedNoSignal(&'static str),
    ExcludedZeroNoSignal,
    ExcludedZeroNotNegative(&'static str),
    ReasonNeutralClose { reason: String, rules: &'static str, private: bool },
    Engagement(Vec<String>),
    EngagementPart(String),
}

/// A Reason's values as Python gets them (`Reason(code, args, private)`).
pub enum Arg<'a> {
    Str(&'a str),
    Int(i64),
    Float(f64),
    Bool(bool),
    Strs(&'a [String]),
}

impl Reason {
    pub fn code(&self) -> &'static str {
        use Reason::*;
        match self {
            ReasonNegative { .. } => "reason_negative",
            RecommendLow(_) => "recommend_low",
            StarsLow(_) => "stars_low",
            RecommendUsual(..) => "recommend_usual",
            StarsUsual(..) => "stars_usual",
            RecommendHigh(_) => "recommend_high",
            StarsHighNoPrivate(_) => "stars_high_no_private",
            LongTerm => "long_term",
            RecommendMiddle(_) => "recommend_middle",
            SignalsNeither => "signals_neither",
            NoFeedback => "no_feedback",
            ClientFeedbackRemoved(_) => "client_feedback_removed",
            ClientFlagged(_) => "client_flagged",
            Open => "open",
            NotSettled => "not_settled",
            WhatIf(_) => "what_if",
            WhatIfLeftOut => "what_if_left_out",
            ExcludedPerk => "excluded_perk",
            ExcludedNoSignal(_) => "excluded_no_signal",
            ExcludedZeroNoSignal => "excluded_zero_no_signal",
            ExcludedZeroNotNegative(_) => "excluded_zero_not_negative",
            ReasonNeutralClose { .. } => "reason_neutral_close",
            Engagement(_) => "engagement",
            EngagementPart(_) => "engagement_part",
        }
    }

    /// Whether it rests on a private answer (its value, or its absence).
    pub fn private(&self) -> bool {
        use Reason::*;
        match self {
            ReasonNegative { private, .. } | ReasonNeutralClose { private, .. } => *private,
            RecommendLow(_) | RecommendUsual(..) | RecommendHigh(_) | StarsHighNoPrivate(_) | RecommendMiddle(_) => true,
            _ => false,
        }
    }

    pub fn args(&self) -> Vec<Arg<'_>> {
        use Arg::*;
        use Reason as R;
        match self {
            R::ReasonNegative { reason, rules, private } | R::ReasonNeutralClose { reason, rules, private } => {
                vec![Str(reason), Str(rules), Bool(*private)]
            }
            R::RecommendLow(r) | R::RecommendHigh(r) | R::RecommendMiddle(r) => vec![Int(*r)],
            R::StarsLow(s) | R::StarsHighNoPrivate(s) => vec![Float(*s)],
            R::RecommendUsual(r, u) => vec![Int(*r), Int(*u)],
            R::StarsUsual(s, u) => vec![Float(*s), Float(*u)],
            R::ClientFeedbackRemoved(b) => vec![Str(b)],
            R::ClientFlagged(r) | R::WhatIf(r) | R::ExcludedNoSignal(r) | R::ExcludedZeroNotNegative(r) => vec![Str(r)],
            R::Engagement(ids) => vec![Strs(ids)],
            R::EngagementPart(head) => vec![Str(head)],
            _ => vec![],
        }
    }

    pub fn text(&self) -> String {
        use Reason::*;
        let source = |private: bool| if private { "private end reason" } else { "client reason" };
        match self {
            ReasonNegative { reason, rules, private } => format!("{} {reason} is negative under {rules}", source(*private)),
            RecommendLow(r) => format!("private recommend {r} <= 6"),
            StarsLow(s) => format!("public stars {} < 3.0", fmt_g(*s)),
            RecommendUsual(r, u) => format!("private recommend {r} is not below this client's usual {u}"),
            StarsUsual(s, u) => format!("public stars {} are not below this client's usual {}", fmt_g(*s), fmt_g(*u)),
            RecommendHigh(r) => format!("private recommend {r} >= 9"),
            StarsHighNoPrivate(s) => format!("public stars {} >= 4.5 with no private feedback", fmt_g(*s)),
            LongTerm => "long-term: payments span 90 days or more".into(),
            RecommendMiddle(r) => format!("private recommend {r} is neither <= 6 nor >= 9"),
            SignalsNeither => "client signals are neither negative nor positive".into(),
            NoFeedback => "no client feedback".into(),
            ClientFeedbackRemoved(basis) => format!("client feedback removed ({basis})"),
            ClientFlagged(rules) => format!("client is flagged; its feedback does not count under {rules}"),
            Open => "open".into(),
            NotSettled => "not settled yet (feedback window open)".into(),
            WhatIf(o) => format!("what-if: treated as {o}"),
            WhatIfLeftOut => "what-if: left out".into(),
            ExcludedPerk => "excluded: client feedback removed by the top-rated perk".into(),
            ExcludedNoSignal(rules) => format!("excluded under {rules}: no client signal and not long-term"),
            ExcludedZeroNoSignal => "excluded: $0 and no client signal".into(),
            ExcludedZeroNotNegative(rules) => format!("excluded under {rules}: $0 contracts count only when negative"),
            ReasonNeutralClose { reason, rules, private } => {
                format!("{} {reason} is a neutral close under {rules}: no signal", source(*private))
            }
            Engagement(ids) => format!("one engagement with {} (continues)", ids.join(", ")),
            EngagementPart(head) => format!("part of the engagement judged as {head}"),
        }
    }
}

/// Where an assessment's reasons go: nowhere (the hot path), the ledger's words, or the
/// reasons themselves (score and explain).
pub trait Why {
    fn push(&mut self, f: impl FnOnce() -> Reason);
    fn insert_first(&mut self, r: Reason);
    fn replace(&mut self, r: Reason);
}

#[derive(Default)]
pub struct NoWords;
impl Why for NoWords {
    fn push(&mut self, _: impl FnOnce() -> Reason) {}
    fn insert_first(&mut self, _: Reason) {}
    fn replace(&mut self, _: Reason) {}
}

impl Why for Vec<Reason> {
    fn push(&mut self, f: impl FnOnce() -> Reason) {
        Vec::push(self, f());
    }
    fn insert_first(&mut self, r: Reason) {
        self.insert(0, r);
    }
    fn replace(&mut self, r: Reason) {
        *self = vec![r];
    }
}

/// Python's `format(x, "g")`.
pub fn fmt_g(x: f64) -> String {
    let sci = format!("{x:.5e}");
    let (_, exp) = sci.split_once('e').unwrap();
    let exp: i32 = exp.parse().unwrap();
    let strip = |s: String| if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s };
    if !(-4..6).contains(&exp) {
        let (m, _) = sci.split_once('e').unwrap();
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{}{:02}", strip(m.to_string()), sign, exp.abs())
    } else {
        strip(format!("{:.*}", (5 - exp) as usize, x))
    }
}
