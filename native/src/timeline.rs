//! projections/timeline.py: where a freelancer's score can change, and the words of it.

use crate::eval::Score;
use crate::model::{Clients, Contract, Contracts};
use crate::rules::{why_of, Assessment, SWITCHES, WINDOWS};
use crate::time::FEEDBACK_WINDOW;

#[derive(Clone, Copy)]
pub enum Detail<'a> {
    None,
    Text(&'a str),
    Cents(i64),
    Months(i64),
    Removal(&'a str, &'a str, &'a str),
}

/// Something at a valid time: an event (pos > 0) or a deadline (pos = -1).
#[derive(Clone, Copy)]
pub struct Happening<'a> {
    pub at: i64,
    pub pos: i64,
    pub kind: &'static str,
    pub contract: Option<usize>,
    pub contract_id: Option<&'a str>,
    pub client_id: &'a str,
    pub event_id: Option<&'a str>,
    pub detail: Detail<'a>,
}

/// Kinds that can never move a score by themselves (the ledger skips them).
pub fn inert(kind: &str) -> bool {
    matches!(kind, "contract_opened" | "scope_changed" | "edit_allowed" | "contract_closed")
}

/// Every dated fact of a contract (visible at `known`) and its deadlines, in the order of
/// timeline.contract_happenings.
pub fn contract_happenings<'a>(c: &'a Contract, ci: usize, known: i64, mut f: impl FnMut(Happening<'a>)) {
    let h = |at, pos, kind, event_id: &'a str, detail| Happening {
        at,
        pos,
        kind,
        contract: Some(ci),
        contract_id: Some(c.id.as_str()),
        client_id: &c.client,
        event_id: Some(event_id),
        detail,
    };
    if c.opened_pos <= known {
        f(h(c.opened_at, c.opened_pos, "contract_opened", &c.opened_event, Detail::None));
    }
    for (list, kind) in [(&c.payments, "payment"), (&c.refunds, "refund")] {
        for m in list.iter().filter(|m| m.pos <= known) {
            f(h(m.at, m.pos, kind, &m.event_id, Detail::Cents(m.cents)));
        }
    }
    for (side, versions) in [("client", &c.client_public), ("freelancer", &c.freelancer_public)] {
        for (i, s) in versions.iter().enumerate().filter(|(_, s)| s.pos <= known) {
            let kind = if i == 0 { "feedback_submitted" } else { "feedback_revised" };
            f(h(s.at, s.pos, kind, &s.event_id, Detail::Text(side)));
        }
    }
    for (p, side) in [(&c.client_private, "client"), (&c.freelancer_private, "freelancer")] {
        if let Some(p) = p.as_ref().filter(|p| p.pos <= known) {
            f(h(p.at, p.pos, "private_feedback", &p.event_id, Detail::Text(side)));
        }
    }
    for r in c.removals.iter().filter(|r| r.pos <= known) {
        f(h(r.at, r.pos, "feedback_removed", &r.event_id, Detail::Removal(&r.of, &r.basis, &r.scope)));
    }
    for m in c.scope_changes.iter().filter(|m| m.pos <= known) {
        f(h(m.at, m.pos, "scope_changed", &m.event_id, Detail::None));
    }
    for (side, m) in c.edit_allowed.iter().filter(|(_, m)| m.pos <= known) {
        f(h(m.at, m.pos, "edit_allowed", &m.event_id, Detail::Text(side)));
    }
    if let Some(closed) = c.closed.as_ref().filter(|x| x.pos <= known) {
        f(h(closed.at, closed.pos, "contract_closed", &closed.event_id, Detail::Text(&closed.reason)));
        f(Happening { event_id: None, ..h(closed.at + FEEDBACK_WINDOW, -1, "window_end", "", Detail::Text(window_end_side(c, known))) });
        for (m, exit) in WINDOWS.into_iter().zip(closed.exits()) {
            f(Happening { event_id: None, ..h(exit, -1, "window_exit", "", Detail::Months(m)) });
        }
    }
}

/// The side whose lone public feedback (given before the window's end) the window end reveals.
fn window_end_side(c: &Contract, known: i64) -> &'static str {
    let end = c.closed.as_ref().map_or(0, |x| x.at + FEEDBACK_WINDOW);
    let given = |v: &[crate::model::Stars]| v.first().is_some_and(|s| s.pos <= known && s.at < end);
    match (given(&c.client_public), given(&c.freelancer_public)) {
        (true, false) => "client",
        (false, true) => "freelancer",
        _ => "",
    }
}

pub fn flag_happenings<'a>(client_id: &'a str, flags: &[(i64, i64, bool)], known: i64, mut f: impl FnMut(Happening<'a>)) {
    for &(at, pos, flagged) in flags.iter().filter(|x| x.1 <= known) {
        let kind = if flagged { "client_flagged" } else { "client_unflagged" };
        f(Happening { at, pos, kind, contract: None, contract_id: None, client_id, event_id: None, detail: Detail::None });
    }
}

pub fn switch(at: i64) -> Happening<'static> {
    Happening { at, pos: -1, kind: "rules_changed", contract: None, contract_id: None, client_id: "", event_id: None, detail: Detail::None }
}

/// Whether any deadline is at exactly `at` (deadlines_at, without building them).
pub fn any_deadline_at(contracts: &Contracts, ids: &[usize], at: i64, known: i64) -> bool {
    SWITCHES.contains(&at)
        || crate::away::held(ids).any(|ci| {
            let c = &contracts[ci];
            c.closed
                .as_ref()
                .filter(|x| x.pos <= known && x.at < at)
                .is_some_and(|x| x.at + FEEDBACK_WINDOW == at || x.exits().contains(&at))
        })
}

/// The deadlines at exactly `at`.
pub fn deadlines_at<'a>(contracts: &'a Contracts, ids: &[usize], at: i64, known: i64) -> Vec<Happening<'a>> {
    let mut out: Vec<Happening> = SWITCHES.iter().filter(|&&s| s == at).map(|&s| switch(s)).collect();
    for ci in crate::away::held(ids) {
        let c = &contracts[ci];
        let Some(closed) = c.closed.as_ref().filter(|x| x.pos <= known && x.at < at) else { continue };
        if closed.at + FEEDBACK_WINDOW == at {
            contract_happenings(c, ci, known, |h| {
                if h.kind == "window_end" {
                    out.push(h)
                }
            });
        }
        for (m, exit) in WINDOWS.into_iter().zip(closed.exits()) {
            if exit == at {
                out.push(Happening {
                    at,
                    pos: -1,
                    kind: "window_exit",
                    contract: Some(ci),
                    contract_id: Some(&c.id),
                    client_id: &c.client,
                    event_id: None,
                    detail: Detail::Months(m),
                });
            }
        }
    }
    out
}

/// The times of the score-moving happenings with lo <= at <= hi.
#[allow(clippy::too_many_arguments)]
pub fn change_times<'a>(
    contracts: &'a Contracts,
    ids: &[usize],
    away_clients: impl Iterator<Item = &'a str>,
    table: &Clients,
    known: i64,
    lo: i64,
    hi: i64,
    out: &mut Vec<i64>,
) {
    let mut keep = |h: Happening| {
        if lo <= h.at && h.at <= hi && !inert(h.kind) {
            out.push(h.at);
        }
    };
    let mut clients: Vec<&str> = vec![];
    for ci in crate::away::held(ids) {
        let c = &contracts[ci];
        contract_happenings(c, ci, known, &mut keep);
        if !clients.contains(&c.client.as_str()) {
            clients.push(&c.client);
        }
    }
    // (what was put away has nothing in [lo, hi] but its clients' flags)
    for k in away_clients {
        if !clients.contains(&k) {
            clients.push(k);
        }
    }
    for k in clients {
        flag_happenings(k, table.flags(k), known, &mut keep);
    }
    for s in SWITCHES {
        keep(switch(s));
    }
}

/// A happening's detail as projections.timeline.Happening.detail has it.
pub fn detail_text(d: Detail) -> String {
    match d {
        Detail::Text(s) => s.to_string(),
        Detail::Months(m) => m.to_string(),
        Detail::Cents(c) => format!("{}.{:02}", c / 100, c % 100),
        Detail::Removal(a, b, c) => format!("{a}:{b}:{c}"),
        Detail::None => String::new(),
    }
}

fn assessment(score: &Score, ci: Option<usize>) -> Option<&Assessment> {
    let ci = ci?;
    score.assessments.iter().find(|a| a.ci == ci)
}

/// (kind, text, private) of a happening, given the scores just before and after it: private
/// when the words rest on a private answer or the happening is a private answer's arrival.
pub fn describe(h: &Happening, before: &Score, after: &Score, contracts: &Contracts) -> (&'static str, String, bool) {
    let private = std::cell::Cell::new(h.kind == "private_feedback");
    let (kind, text) = words(h, before, after, contracts, &private);
    (kind, text, private.get())
}

fn words(h: &Happening, before: &Score, after: &Score, contracts: &Contracts, private: &std::cell::Cell<bool>) -> (&'static str, String) {
    let a_before = assessment(before, h.contract);
    let a_after = assessment(after, h.contract);
    let who = match h.contract_id {
        Some(cid) => format!("contract {cid} (client {})", h.client_id),
        None => format!("client {}", h.client_id),
    };
    let outcome_words = || match a_after {
        Some(a) if a.counted || a.outcome.is_some() => {
            let (why, secret) = why_of(&contracts[a.ci], a, after.rules);
            private.set(private.get() || secret);
            let why = why.join("; ");
            if a.counted {
                format!("counted as {}: {why}", a.outcome.map_or("None", |o| o.as_str()))
            } else {
                format!("not counted: {why}")
            }
        }
        _ => String::new(),
    };
    let tail = || {
        let w = outcome_words();
        if w.is_empty() {
            w
        } else {
            format!("; {w}")
        }
    };
    let newly_settled = a_after.is_some_and(|a| a.outcome.is_some()) && a_before.is_none_or(|a| a.outcome.is_none());
    let text = detail_text;
    match h.kind {
        "rules_changed" => return ("rules_changed", format!("rule set changed from {} to {}", before.rules.name, after.rules.name)),
        "window_exit" => return ("window_exit", format!("{who} left the {}-month window", text(h.detail))),
        "window_end" => {
            let one_sided = text(h.detail);
            if !one_sided.is_empty() {
                let settled = if newly_settled { " and the contract settled" } else { "" };
                let kind = if newly_settled && before.exact != after.exact { "contract_settled" } else { "feedback_revealed" };
                return (kind, format!("feedback window of {who} ended: the {one_sided}'s public feedback is revealed{settled}{}", tail()));
            }
            if newly_settled {
                return (
                    "contract_settled",
                    format!("feedback window of {who} ended with no public feedback; settled and {}", outcome_words()),
                );
            }
            return ("window_end", format!("feedback window of {who} ended (both sides' feedback was already revealed)"));
        }
        _ => {}
    }
    if newly_settled {
        return ("contract_settled", format!("{who} settled and {}", outcome_words()));
    }
    match h.kind {
        "client_flagged" => (h.kind, format!("client {} is flagged", h.client_id)),
        "client_unflagged" => (h.kind, format!("client {} is no longer flagged", h.client_id)),
        "feedback_submitted" => {
            let kind = if a_after.is_some_and(|a| a.outcome.is_some()) { "feedback_revealed" } else { h.kind };
            (kind, format!("{} public feedback on {who}{}", text(h.detail), tail()))
        }
        "private_feedback" => ("feedback_submitted", format!("{} private feedback on {who}{}", text(h.detail), tail())),
        "feedback_revised" => ("feedback_revised", format!("{} revised public feedback on {who}{}", text(h.detail), tail())),
        "feedback_removed" => {
            let Detail::Removal(of, basis, scope) = h.detail else { unreachable!() };
            ("feedback_removed", format!("{of} feedback on {who} removed ({basis}, {scope}){}", tail()))
        }
        "payment" | "refund" => (h.kind, format!("{} of ${} on {who}{}", h.kind, text(h.detail), tail())),
        _ => (h.kind, format!("{} on {who}", h.kind.replace('_', " "))),
    }
}
