//! The rules of events.md for a batch (reputation/ingest.py's Checker, reputation/contract.py,
//! the perk rule of reputation/outcome.py), against the latest state of each stream. It only
//! says yes or "not this one": the Python reference words every reject.

use crate::hash::Map;
use crate::time::{parse_time, DAY};

use super::line::{Kind, Line};
use super::state::{Client, Closed, Contract, Freelancer, Mark, Money, Private, Removal, Stars, State};

const WINDOW: i64 = 14 * DAY; // feedback, edit and bonus windows

pub struct Slot {
    pub version: i64,
    pub state: Option<State>,
    pub dirty: bool,
}

pub struct Staged {
    pub stream: String,
    pub version: i64,
    pub type_name: &'static str,
    pub canonical: Vec<u8>,
}

pub enum Stop {
    /// the state of these keys is not loaded yet (nothing was changed)
    Need(Vec<String>),
    /// this line breaks a rule (or is an id conflict)
    Reject,
}

#[derive(Default)]
pub struct Checker {
    pub states: Map<String, Slot>,
    pub digests: Map<String, [u8; 16]>, // of stored ids
    pub new_ids: Vec<(String, [u8; 16])>,
    new_index: Map<String, usize>,
    pub staged: Vec<Staged>,
    pub duplicates: i64,
}

fn other(side: &str) -> &'static str {
    if side == "client" {
        "freelancer"
    } else {
        "client"
    }
}

impl Contract {
    fn public(&self, side: &str) -> &Vec<Stars> {
        if side == "client" {
            &self.client_public
        } else {
            &self.freelancer_public
        }
    }
    fn private(&self, side: &str) -> &Option<Private> {
        if side == "client" {
            &self.client_private
        } else {
            &self.freelancer_private
        }
    }
    fn revealed_at(&self, side: &str) -> Option<i64> {
        let mine = self.public(side);
        let closed = self.closed.as_ref()?;
        let first = mine.first()?;
        let end = closed.at + WINDOW;
        Some(match self.public(other(side)).first() {
            Some(theirs) => first.at.max(theirs.at).min(end),
            None => end,
        })
    }
}

impl Checker {
    /// After the staged lines were written into the store's open transaction: forget their
    /// ids (later lines find them there), and with `states` (written too) every state.
    pub fn forget(&mut self, states: bool) {
        if states {
            self.states.clear();
        }
        self.digests.clear();
        self.new_ids.clear();
        self.new_index.clear();
        self.staged.clear();
    }

    pub fn known_digest(&self, id: &str) -> Option<&[u8; 16]> {
        self.new_index.get(id).map(|&i| &self.new_ids[i].1).or_else(|| self.digests.get(id))
    }

    fn contract(&self, key: &str) -> Option<&Contract> {
        match self.states.get(key)?.state.as_ref()? {
            State::Contract(c) => Some(c),
            _ => None,
        }
    }

    /// The keys `e` reads that are not loaded.
    pub fn missing(&self, e: &Line) -> Vec<String> {
        let mut keys = vec![];
        let mut key = String::new();
        let mut want = |prefix: &str, id: &str| {
            key.clear();
            key.push_str(prefix);
            key.push_str(id);
            if !self.states.contains_key(key.as_str()) {
                keys.push(key.clone());
            }
        };
        want("", &e.stream);
        match &e.kind {
            Kind::Opened { freelancer, continues, .. } => {
                want("freelancer:", freelancer);
                if let Some(c) = continues {
                    want("contract:", c);
                }
            }
            Kind::Closed { .. } | Kind::Removed { basis: "top_rated_perk", .. } => {
                if let Some(c) = self.contract(&e.stream) {
                    want("freelancer:", &c.freelancer);
                }
            }
            _ => {}
        }
        keys
    }

    fn put(&mut self, key: String, version: i64, state: State) {
        self.states.insert(key, Slot { version, state: Some(state), dirty: true });
    }

    fn take_freelancer(&mut self, id: &str) -> Freelancer {
        match self.states.get_mut(&format!("freelancer:{id}")).and_then(|s| s.state.take()) {
            Some(State::Freelancer(f)) => f,
            _ => Freelancer { id: id.to_string(), closed_at: vec![], perk_removals: vec![] },
        }
    }

    /// Check and stage `e`: Ok(true) accepted, Ok(false) an idempotent re-send.
    pub fn accept(&mut self, e: &mut Line) -> Result<bool, Stop> {
        if let Some(d) = self.known_digest(&e.event_id) {
            if *d == e.digest {
                self.duplicates += 1;
                return Ok(false);
            }
            return Err(Stop::Reject);
        }
        let missing = self.missing(e);
        if !missing.is_empty() {
            return Err(Stop::Need(missing));
        }
        let stream = std::mem::take(&mut e.stream);
        let at = e.at;
        let slot = &self.states[&stream];
        let (mut version, state) = (slot.version, slot.state.as_ref());
        let state = match &e.kind {
            Kind::Opened { freelancer, client, pricing, continues } => {
                if state.is_some() || freelancer == client {
                    return Err(Stop::Reject);
                }
                if let Some(c) = continues {
                    let ok = *c != e.subject
                        && self
                            .contract(&format!("contract:{c}"))
                            .is_some_and(|k| k.client == *client && k.freelancer == *freelancer && k.opened_at <= at);
                    if !ok {
                        return Err(Stop::Reject);
                    }
                }
                let key = format!("freelancer:{freelancer}");
                if self.states[&key].state.is_none() {
                    let f = Freelancer { id: freelancer.clone(), closed_at: vec![], perk_removals: vec![] };
                    self.put(key, 0, State::Freelancer(f));
                }
                version = 1;
                State::Contract(Box::new(Contract {
                    id: e.subject.clone(),
                    freelancer: freelancer.clone(),
                    client: client.clone(),
                    pricing: pricing.to_string(),
                    continues: continues.clone(),
                    opened_at: at,
                    opened_pos: 0,
                    opened_event: e.event_id.clone(),
                    last_at: at,
                    closed: None,
                    payments: vec![],
                    refunds: vec![],
                    client_public: vec![],
                    freelancer_public: vec![],
                    client_private: None,
                    freelancer_private: None,
                    edit_allowed: vec![],
                    removals: vec![],
                    scope_changes: vec![],
                }))
            }
            Kind::Flagged | Kind::Unflagged => {
                let flagging = matches!(e.kind, Kind::Flagged);
                let mut k = match state {
                    Some(State::Client(k)) => Client { id: k.id.clone(), flags: k.flags.clone(), last_at: k.last_at },
                    None => Client { id: e.subject.clone(), flags: vec![], last_at: 0 },
                    _ => return Err(Stop::Reject),
                };
                let flagged = k.flags.last().is_some_and(|f| f.2);
                if (state.is_some() && at < k.last_at) || flagging == flagged {
                    return Err(Stop::Reject);
                }
                k.flags.push((at, 0, flagging));
                k.last_at = k.last_at.max(at);
                version += 1;
                State::Client(k)
            }
            Kind::Clock { to } => {
                if *to < at {
                    return Err(Stop::Reject);
                }
                version += 1;
                State::Clock
            }
            _ => {
                let Some(State::Contract(c)) = state else { return Err(Stop::Reject) };
                if !allowed(c, e, at) {
                    return Err(Stop::Reject);
                }
                let fkey = format!("freelancer:{}", c.freelancer);
                let fid = c.freelancer.clone();
                if let Kind::Removed { basis: "top_rated_perk", .. } = e.kind {
                    let f = match self.states[&fkey].state.as_ref() {
                        Some(State::Freelancer(f)) => Some(f),
                        _ => None,
                    };
                    if !perk_allowed(f, at) || perk_outcome_positive(c, at) {
                        return Err(Stop::Reject);
                    }
                    let mut f = self.take_freelancer(&fid);
                    f.perk_removals.push(at);
                    self.put(fkey.clone(), 0, State::Freelancer(f));
                }
                if let Kind::Closed { .. } = e.kind {
                    let mut f = self.take_freelancer(&fid);
                    f.closed_at.push(at);
                    self.put(fkey, 0, State::Freelancer(f));
                }
                let slot = self.states.get_mut(&stream).unwrap();
                let Some(State::Contract(c)) = slot.state.as_mut() else { unreachable!() };
                apply(c, e, at);
                version += 1;
                slot.state.take().unwrap()
            }
        };
        let slot = self.states.get_mut(&stream).expect("loaded by missing()");
        (slot.version, slot.state, slot.dirty) = (version, Some(state), true);
        let id = std::mem::take(&mut e.event_id);
        self.new_index.insert(id.clone(), self.new_ids.len());
        self.new_ids.push((id, e.digest));
        self.staged.push(Staged { stream, version, type_name: e.type_name, canonical: std::mem::take(&mut e.canonical) });
        Ok(true)
    }
}

/// contract.check: may `e` be appended to contract `c` (latest state)?
fn allowed(c: &Contract, e: &Line, at: i64) -> bool {
    if at < c.last_at {
        return false;
    }
    let closed = c.closed.as_ref();
    match &e.kind {
        Kind::Scope => closed.is_none(),
        Kind::Payment(_) => closed.is_none_or(|x| at < x.at + WINDOW),
        Kind::Refund(cents) => {
            let paid: i64 = c.payments.iter().map(|m| m.cents).sum();
            let refunded: i64 = c.refunds.iter().map(|m| m.cents).sum();
            refunded + cents <= paid
        }
        Kind::Closed { .. } => closed.is_none(),
        Kind::Public { by, .. } | Kind::Private { by, .. } => {
            let public = matches!(e.kind, Kind::Public { .. });
            closed.is_some_and(|x| at < x.at + WINDOW) && if public { c.public(by).is_empty() } else { c.private(by).is_none() }
        }
        Kind::EditAllowed { by } => {
            c.revealed_at(other(by)).is_some_and(|r| r <= at && at < r + WINDOW) && !c.edit_allowed.iter().any(|(s, _)| s == by)
        }
        Kind::Revised { by, .. } => {
            let allowed = c.edit_allowed.iter().find(|(s, _)| s == other(by));
            allowed.is_some_and(|(_, m)| at < m.at + WINDOW) && !c.public(by).is_empty()
        }
        Kind::Removed { of, basis, .. } => {
            (!c.public(of).is_empty() || c.private(of).is_some())
                && !c.removals.iter().any(|r| r.of == *of)
                && (*basis != "top_rated_perk" || *of == "client")
        }
        _ => false,
    }
}

/// contract.check_perk_frequency, the date and frequency limits of the top-rated perk.
fn perk_allowed(f: Option<&Freelancer>, at: i64) -> bool {
    if at >= parse_time("2024-09-03T00:00:00Z").unwrap() {
        return false;
    }
    let Some(f) = f else { return true };
    let Some(&previous) = f.perk_removals.last() else { return true };
    if at < previous || at < previous + 90 * DAY {
        return false;
    }
    f.closed_at.iter().filter(|&&t| previous < t && t <= at).count() >= 10
}

/// outcome.check_perk_outcome: is the contract's outcome at `at` (latest state, the client not
/// counted as flagged) positive under the rule set in force?
fn perk_outcome_positive(c: &Contract, at: i64) -> bool {
    if c.opened_at > at {
        return false;
    }
    let sees = |t: i64| t <= at;
    let closed = c.closed.as_ref().filter(|x| sees(x.at));
    let paid: Vec<i64> = c.payments.iter().filter(|m| sees(m.at)).map(|m| m.at).collect();
    let stars = c.client_public.iter().rfind(|s| sees(s.at)).map(|s| s.stars);
    let private = c.client_private.as_ref().filter(|p| sees(p.at));
    let removed = c.removals.iter().any(|r| r.of == "client" && sees(r.at));
    let (reason, recommend, stars) = if removed {
        (None, None, None)
    } else {
        let end_reason = private.and_then(|p| p.end_reason.as_deref());
        let close_reason = closed.filter(|x| x.by == "client" || x.by == "platform").map(|x| x.reason.as_str());
        (end_reason.or(close_reason), private.map(|p| p.recommend), stars)
    };
    let neutral_reasons = at >= parse_time("2020-03-01T00:00:00Z").unwrap(); // jss-2020 and later
    let negative_reason = reason.is_some_and(|r| {
        matches!(r, "freelancer_unresponsive" | "freelancer_lacked_skills" | "completed_unsuccessfully")
            || (!neutral_reasons && r != "completed_successfully")
    });
    if negative_reason || recommend.is_some_and(|r| r <= 6) || stars.is_some_and(|s| s < 3.0) {
        return false;
    }
    let long_term = paid.first().zip(paid.last()).is_some_and(|(a, b)| b - a >= 90 * DAY);
    recommend.is_some_and(|r| r >= 9) || (recommend.is_none() && stars.is_some_and(|s| s >= 4.5)) || long_term
}

/// contract.apply: fold one checked event into its contract.
fn apply(c: &mut Contract, e: &Line, at: i64) {
    c.last_at = c.last_at.max(at);
    let id = e.event_id.clone();
    match &e.kind {
        Kind::Payment(cents) => c.payments.push(Money { at, pos: 0, cents: *cents, event_id: id }),
        Kind::Refund(cents) => c.refunds.push(Money { at, pos: 0, cents: *cents, event_id: id }),
        Kind::Closed { by, reason } => c.closed = Some(Closed { at, pos: 0, by: by.to_string(), reason: reason.to_string(), event_id: id }),
        Kind::Public { by, stars } | Kind::Revised { by, stars } => {
            let list = if *by == "client" { &mut c.client_public } else { &mut c.freelancer_public };
            list.push(Stars { at, pos: 0, stars: *stars, event_id: id });
        }
        Kind::Private { by, recommend, end_reason } => {
            let p = Private { at, pos: 0, recommend: *recommend, end_reason: end_reason.map(str::to_string), event_id: id };
            if *by == "client" {
                c.client_private = Some(p);
            } else {
                c.freelancer_private = Some(p);
            }
        }
        Kind::EditAllowed { by } => c.edit_allowed.push((by.to_string(), Mark { at, pos: 0, event_id: id })),
        Kind::Removed { of, basis, scope } => {
            c.removals.push(Removal { at, pos: 0, of: of.to_string(), basis: basis.to_string(), scope: scope.to_string(), event_id: id })
        }
        Kind::Scope => c.scope_changes.push(Mark { at, pos: 0, event_id: id }),
        _ => {}
    }
}
