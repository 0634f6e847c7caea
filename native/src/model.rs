//! Contract, freelancer and client state as reputation/contract.py and projections/projector.py
//! keep it, the fold of one event, and the msgpack form the projection store holds.

use crate::eval::CacheEntry;
use crate::event::{Event, Kind};
use crate::msgpack::{Reader, Writer, R};

#[derive(Clone)]
pub struct Stars {
    pub at: i64,
    pub pos: i64,
    pub stars: f64,
    pub event_id: String,
    pub scaled: (i128, bool),
}
#[derive(Clone)]
pub struct Private {
    pub at: i64,
    pub pos: i64,
    pub recommend: i64,
    pub end_reason: Option<String>,
    pub event_id: String,
}
#[derive(Clone)]
pub struct Money {
    pub at: i64,
    pub pos: i64,
    pub cents: i64,
    pub event_id: String,
}
#[derive(Clone)]
pub struct Mark {
    pub at: i64,
    pub pos: i64,
    pub event_id: String,
}
#[derive(Clone)]
pub struct Closed {
    pub at: i64,
    pub pos: i64,
    pub by: String,
    pub reason: String,
    pub event_id: String,
    pub exits: [i64; 3],
}

impl Closed {
    pub fn new(at: i64, pos: i64, by: String, reason: String, event_id: String) -> Closed {
        Closed { at, pos, by, reason, event_id, exits: crate::rules::WINDOWS.map(|m| crate::time::window_exit(at, m)) }
    }
}
#[derive(Clone)]
pub struct Removal {
    pub at: i64,
    pub pos: i64,
    pub of: String,
    pub basis: String,
    pub scope: String,
    pub event_id: String,
}

/// (Default: an empty slot, its state let go: crate::hold.)
#[derive(Default)]
pub struct Contract {
    pub id: String,
    pub freelancer: String,
    pub client: String,
    pub pricing: String,
    pub continues: Option<String>,
    pub opened_at: i64,
    pub opened_pos: i64,
    pub opened_event: String,
    pub last_at: i64,
    pub closed: Option<Closed>,
    pub payments: Vec<Money>,
    pub refunds: Vec<Money>,
    pub client_public: Vec<Stars>,
    pub freelancer_public: Vec<Stars>,
    pub client_private: Option<Private>,
    pub freelancer_private: Option<Private>,
    pub edit_allowed: Vec<(String, Mark)>, // a dict in Python: insertion order, one per side
    pub removals: Vec<Removal>,
    pub scope_changes: Vec<Mark>,
    /// the full view and its assessments while the contract does not change (rules.Cache)
    pub cache: Option<Box<CacheEntry>>,
}

#[derive(Clone, Copy, PartialEq)]
pub struct Entry {
    pub at: i64,
    pub seq: i64,
    pub jss: Option<i64>,
    pub fb: Option<i64>,
    pub exact: Option<f64>,
    pub rules: &'static str,
    pub top: bool,
}

#[derive(Default)]
pub struct Freelancer {
    pub id: String,
    pub contracts: Vec<usize>, // indexes into the projector's contracts
    pub timeline: Vec<Entry>,  // sorted by (at, seq)
}

impl Freelancer {
    pub fn lookup(&self, at: i64) -> Option<&Entry> {
        let i = self.timeline.partition_point(|e| e.at <= at);
        if i > 0 {
            Some(&self.timeline[i - 1])
        } else {
            None
        }
    }
    /// -> its index in the timeline
    pub fn record(&mut self, entry: Entry) -> usize {
        let i = self.timeline.partition_point(|e| (e.at, e.seq) <= (entry.at, entry.seq));
        self.timeline.insert(i, entry);
        i
    }
}

pub struct Client {
    pub id: String,
    pub flags: Vec<(i64, i64, bool)>,
    pub last_at: i64,
    pub freelancers: Vec<String>,
    pub members: crate::hash::Set<String>, // the same ids, to look up
}

impl Client {
    pub fn new(id: String, flags: Vec<(i64, i64, bool)>, last_at: i64, freelancers: Vec<String>) -> Client {
        let members = freelancers.iter().cloned().collect::<crate::hash::Set<String>>();
        Client { id, flags, last_at, freelancers, members }
    }
}

/// Push, growing from room for one (then doubling): most contracts keep one or two facts of
/// a kind, and a Vec's first push makes room for four.
pub fn push<T>(v: &mut Vec<T>, x: T) {
    if v.len() == v.capacity() {
        v.reserve_exact(v.len().max(1));
    }
    v.push(x);
}

impl Contract {
    pub fn open(e: &Event, pos: i64) -> Contract {
        let Kind::Opened { freelancer, client, pricing, continues } = &e.kind else { unreachable!() };
        Contract {
            id: e.contract_id.as_deref().unwrap_or_default().to_string(),
            freelancer: freelancer.to_string(),
            client: client.to_string(),
            pricing: pricing.to_string(),
            continues: continues.as_deref().map(str::to_string),
            opened_at: e.at,
            opened_pos: pos,
            opened_event: e.event_id.to_string(),
            last_at: e.at,
            ..Contract::default()
        }
    }

    /// reputation.contract.apply: fold one (already checked) contract event.
    pub fn apply(&mut self, e: &Event, at: i64, pos: i64) {
        self.last_at = self.last_at.max(at);
        let id = e.event_id.to_string();
        match &e.kind {
            Kind::Payment(cents) => push(&mut self.payments, Money { at, pos, cents: *cents, event_id: id }),
            Kind::Refund(cents) => push(&mut self.refunds, Money { at, pos, cents: *cents, event_id: id }),
            Kind::Closed { by, reason } => self.closed = Some(Closed::new(at, pos, by.to_string(), reason.to_string(), id)),
            Kind::Public { by, stars } | Kind::Revised { by, stars } => {
                let s = Stars { at, pos, stars: *stars, event_id: id, scaled: crate::tally::scaled_stars(*stars) };
                if by == "client" {
                    push(&mut self.client_public, s)
                } else {
                    push(&mut self.freelancer_public, s)
                }
            }
            Kind::Private { by, recommend, end_reason } => {
                let p =
                    Some(Private { at, pos, recommend: *recommend, end_reason: end_reason.as_deref().map(str::to_string), event_id: id });
                if by == "client" {
                    self.client_private = p
                } else {
                    self.freelancer_private = p
                }
            }
            Kind::EditAllowed { by } => {
                let m = Mark { at, pos, event_id: id };
                match self.edit_allowed.iter_mut().find(|(k, _)| k == by) {
                    Some(slot) => slot.1 = m,
                    None => push(&mut self.edit_allowed, (by.to_string(), m)),
                }
            }
            Kind::Removed { of, basis, scope } => push(
                &mut self.removals,
                Removal { at, pos, of: of.to_string(), basis: basis.to_string(), scope: scope.to_string(), event_id: id },
            ),
            Kind::ScopeChanged => push(&mut self.scope_changes, Mark { at, pos, event_id: id }),
            _ => {}
        }
    }

    pub fn encode(&self, w: &mut Writer) {
        w.array(19);
        w.str(&self.id);
        w.str(&self.freelancer);
        w.str(&self.client);
        w.str(&self.pricing);
        w.opt_str(self.continues.as_deref());
        w.int(self.opened_at);
        w.int(self.opened_pos);
        w.str(&self.opened_event);
        w.int(self.last_at);
        match &self.closed {
            Some(c) => {
                w.array(5);
                w.int(c.at);
                w.int(c.pos);
                w.str(&c.by);
                w.str(&c.reason);
                w.str(&c.event_id);
            }
            None => w.nil(),
        }
        for list in [&self.payments, &self.refunds] {
            w.array(list.len());
            for m in list {
                w.array(4);
                w.int(m.at);
                w.int(m.pos);
                w.int(m.cents);
                w.str(&m.event_id);
            }
        }
        for list in [&self.client_public, &self.freelancer_public] {
            w.array(list.len());
            for s in list {
                w.array(4);
                w.int(s.at);
                w.int(s.pos);
                w.float(s.stars);
                w.str(&s.event_id);
            }
        }
        for p in [&self.client_private, &self.freelancer_private] {
            match p {
                Some(p) => {
                    w.array(5);
                    w.int(p.at);
                    w.int(p.pos);
                    w.int(p.recommend);
                    w.opt_str(p.end_reason.as_deref());
                    w.str(&p.event_id);
                }
                None => w.nil(),
            }
        }
        w.map(self.edit_allowed.len());
        for (side, m) in &self.edit_allowed {
            w.str(side);
            encode_mark(w, m);
        }
        w.array(self.removals.len());
        for r in &self.removals {
            w.array(6);
            w.int(r.at);
            w.int(r.pos);
            w.str(&r.of);
            w.str(&r.basis);
            w.str(&r.scope);
            w.str(&r.event_id);
        }
        w.array(self.scope_changes.len());
        for m in &self.scope_changes {
            encode_mark(w, m);
        }
    }

    pub fn decode(data: &[u8]) -> R<Contract> {
        let r = &mut Reader::new(data);
        let n = r.array()?;
        if n != 19 {
            return Err(format!("stored contract has {n} fields, expected 19"));
        }
        let mut c = Contract {
            id: r.str()?,
            freelancer: r.str()?,
            client: r.str()?,
            pricing: r.str()?,
            continues: r.opt_str()?,
            opened_at: r.int()?,
            opened_pos: r.int()?,
            opened_event: r.str()?,
            last_at: r.int()?,
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
            cache: None,
        };
        if !r.is_nil()? {
            r.array()?;
            let (at, pos, by, reason, event_id) = (r.int()?, r.int()?, r.str()?, r.str()?, r.str()?);
            c.closed = Some(Closed::new(at, pos, by, reason, event_id));
        }
        let money = |r: &mut Reader| -> R<Money> {
            r.array()?;
            Ok(Money { at: r.int()?, pos: r.int()?, cents: r.int()?, event_id: r.str()? })
        };
        c.payments = r.list(money)?;
        c.refunds = r.list(money)?;
        let stars = |r: &mut Reader| -> R<Stars> {
            r.array()?;
            let (at, pos, stars, event_id) = (r.int()?, r.int()?, r.float()?, r.str()?);
            Ok(Stars { at, pos, stars, event_id, scaled: crate::tally::scaled_stars(stars) })
        };
        c.client_public = r.list(stars)?;
        c.freelancer_public = r.list(stars)?;
        let private = |r: &mut Reader| -> R<Option<Private>> {
            if r.is_nil()? {
                return Ok(None);
            }
            r.array()?;
            Ok(Some(Private { at: r.int()?, pos: r.int()?, recommend: r.int()?, end_reason: r.opt_str()?, event_id: r.str()? }))
        };
        c.client_private = private(r)?;
        c.freelancer_private = private(r)?;
        for _ in 0..r.map()? {
            let side = r.str()?;
            push(&mut c.edit_allowed, (side, decode_mark(r)?));
        }
        c.removals = r.list(|r| {
            r.array()?;
            Ok(Removal { at: r.int()?, pos: r.int()?, of: r.str()?, basis: r.str()?, scope: r.str()?, event_id: r.str()? })
        })?;
        c.scope_changes = r.list(decode_mark)?;
        Ok(c)
    }
}

fn encode_mark(w: &mut Writer, m: &Mark) {
    w.array(3);
    w.int(m.at);
    w.int(m.pos);
    w.str(&m.event_id);
}

fn decode_mark(r: &mut Reader) -> R<Mark> {
    r.array()?;
    Ok(Mark { at: r.int()?, pos: r.int()?, event_id: r.str()? })
}

impl Freelancer {
    /// `contract_ids` maps the contract indexes back to ids.
    pub fn encode(&self, w: &mut Writer, contract_ids: &[Contract]) {
        w.array(3);
        w.str(&self.id);
        w.array(self.contracts.len());
        for &c in &self.contracts {
            w.str(&contract_ids[c].id);
        }
        w.array(self.timeline.len());
        for e in &self.timeline {
            w.array(7);
            w.int(e.at);
            w.int(e.seq);
            w.opt_int(e.jss);
            w.opt_int(e.fb);
            match e.exact {
                Some(x) => w.float(x),
                None => w.nil(),
            }
            w.str(e.rules);
            w.bool(e.top);
        }
    }

    /// -> (id, contract ids, timeline)
    pub fn decode(data: &[u8]) -> R<(String, Vec<String>, Vec<Entry>)> {
        let r = &mut Reader::new(data);
        r.array()?;
        let id = r.str()?;
        let contracts = r.list(|r| r.str())?;
        let timeline = r.list(|r| {
            let n = r.array()?;
            Ok(Entry {
                at: r.int()?,
                seq: r.int()?,
                jss: r.opt_int()?,
                fb: r.opt_int()?,
                exact: r.opt_float()?,
                rules: crate::rules::rule_set_named(&r.str()?)?.name,
                top: n > 6 && r.bool()?, // state written before the badge: none
            })
        })?;
        Ok((id, contracts, timeline))
    }
}

impl Client {
    pub fn encode(&self, w: &mut Writer) {
        w.array(4);
        w.str(&self.id);
        w.array(self.flags.len());
        for &(at, pos, flagged) in &self.flags {
            w.array(3);
            w.int(at);
            w.int(pos);
            w.bool(flagged);
        }
        w.int(self.last_at);
        w.array(self.freelancers.len());
        for f in &self.freelancers {
            w.str(f);
        }
    }

    pub fn decode(data: &[u8]) -> R<Client> {
        let r = &mut Reader::new(data);
        r.array()?;
        let id = r.str()?;
        let flags = r.list(|r| {
            r.array()?;
            Ok((r.int()?, r.int()?, r.bool()?))
        })?;
        let last_at = r.int()?;
        Ok(Client::new(id, flags, last_at, r.list(|r| r.str())?))
    }
}

/// Clients by id (flags are looked up by the contract's client id).
#[derive(Default)]
pub struct Clients {
    pub index: crate::hash::Map<String, usize>,
    pub list: Vec<Client>,
}

impl Clients {
    pub fn flags(&self, id: &str) -> &[(i64, i64, bool)] {
        self.index.get(id).map_or(&[], |&i| &self.list[i].flags)
    }
}
