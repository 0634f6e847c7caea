//! Contract, freelancer and client state as reputation/contract.py and projections/projector.py
//! keep it, the fold of one event, and the msgpack form the projection store holds.

use crate::eval::CacheEntry;
use crate::event::{Event, Kind};
use crate::msgpack::{Reader, Writer, R};
use crate::rules::{RuleSet, RULE_SETS};

pub use crate::compact::{push, Id, List, Scaled, Word};

#[derive(Clone)]
pub struct Stars {
    pub at: i64,
    pub pos: i64,
    pub stars: f64,
    pub event_id: Id,
    pub scaled: Scaled,
}
#[derive(Clone)]
pub struct Private {
    pub at: i64,
    pub pos: i64,
    pub recommend: i64,
    pub end_reason: Option<Word>,
    pub event_id: Id,
}
#[derive(Clone)]
pub struct Money {
    pub at: i64,
    pub pos: i64,
    pub cents: i64,
    pub event_id: Id,
}
#[derive(Clone)]
pub struct Mark {
    pub at: i64,
    pub pos: i64,
    pub event_id: Id,
}
#[derive(Clone)]
pub struct Closed {
    pub at: i64,
    pub pos: i64,
    pub by: Word,
    pub reason: Word,
    pub event_id: Id,
    pub exits: [i64; 3],
}

impl Closed {
    pub fn new(at: i64, pos: i64, by: Word, reason: Word, event_id: Id) -> Closed {
        Closed { at, pos, by, reason, event_id, exits: crate::rules::WINDOWS.map(|m| crate::time::window_exit(at, m)) }
    }
}
#[derive(Clone)]
pub struct Removal {
    pub at: i64,
    pub pos: i64,
    pub of: Word,
    pub basis: Word,
    pub scope: Word,
    pub event_id: Id,
}

/// The projector's contracts by slot (crate::slots: growing them copies nothing).
pub type Contracts = crate::slots::Chunked<Contract>;

/// (Default: an empty slot, its state let go: crate::hold.)
#[derive(Default)]
pub struct Contract {
    pub id: Id,
    pub freelancer: Id,
    pub client: Id,
    pub pricing: Word,
    pub continues: Option<Box<str>>, // rare: no room for an inline id
    pub opened_at: i64,
    pub opened_pos: i64,
    pub opened_event: Id,
    pub last_at: i64,
    pub closed: Option<Closed>,
    pub payments: List<Money>,
    pub refunds: List<Money>,
    pub client_public: List<Stars>,
    pub freelancer_public: List<Stars>,
    pub client_private: Option<Box<Private>>, // boxed: 8 bytes where there is none
    pub freelancer_private: Option<Box<Private>>,
    pub edit_allowed: List<(Word, Mark)>, // a dict in Python: insertion order, one per side
    pub removals: List<Removal>,
    pub scope_changes: List<Mark>,
    /// the full view and its assessments while the contract does not change (rules.Cache)
    pub cache: Option<Box<CacheEntry>>,
}

/// A score of a freelancer's timeline: its options' presence in bits and its rule set as a
/// number (48 bytes; 88 as options and a name).
#[derive(Clone, Copy, PartialEq)]
pub struct Entry {
    pub at: i64,
    pub seq: i64,
    jss: i64,
    fb: i64,
    exact: f64,
    rules: u8, // index into rules::RULE_SETS
    has: u8,
    pub top: bool,
}

const JSS: u8 = 1;
const FB: u8 = 2;
const EXACT: u8 = 4;

impl Entry {
    pub fn new(at: i64, seq: i64, jss: Option<i64>, fb: Option<i64>, exact: Option<f64>, rules: &'static RuleSet, top: bool) -> Entry {
        let rules = crate::rules::rule_set_number(rules);
        let has = (u8::from(jss.is_some()) * JSS) | (u8::from(fb.is_some()) * FB) | (u8::from(exact.is_some()) * EXACT);
        Entry { at, seq, jss: jss.unwrap_or(0), fb: fb.unwrap_or(0), exact: exact.unwrap_or(0.0), rules, has, top }
    }
    pub fn jss(&self) -> Option<i64> {
        (self.has & JSS != 0).then_some(self.jss)
    }
    pub fn fb(&self) -> Option<i64> {
        (self.has & FB != 0).then_some(self.fb)
    }
    pub fn exact(&self) -> Option<f64> {
        (self.has & EXACT != 0).then_some(self.exact)
    }
    pub fn rules(&self) -> &'static str {
        RULE_SETS[usize::from(self.rules)].name
    }
}

#[derive(Default)]
pub struct Freelancer {
    pub id: Id,
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
        crate::compact::insert(&mut self.timeline, i, entry);
        i
    }
}

pub struct Client {
    pub id: Id,
    pub flags: Vec<(i64, i64, bool)>,
    pub last_at: i64,
    pub freelancers: Vec<Id>,
    pub members: crate::hash::Set<Id>, // the same ids, to look up
}

impl Client {
    pub fn new(id: Id, flags: Vec<(i64, i64, bool)>, last_at: i64, freelancers: Vec<Id>) -> Client {
        let members = freelancers.iter().cloned().collect::<crate::hash::Set<Id>>();
        Client { id, flags, last_at, freelancers, members }
    }
}

impl crate::hash::Keyed for Contract {
    fn key(&self) -> &str {
        &self.id
    }
}

impl Contract {
    pub fn open(e: &Event, pos: i64) -> Contract {
        let Kind::Opened { freelancer, client, pricing, continues } = &e.kind else { unreachable!() };
        Contract {
            id: Id::from(e.contract_id.as_deref().unwrap_or_default()),
            freelancer: Id::from(freelancer.as_ref()),
            client: Id::from(client.as_ref()),
            pricing: Word::new(pricing),
            continues: continues.as_deref().map(Box::from),
            opened_at: e.at,
            opened_pos: pos,
            opened_event: Id::from(e.event_id.as_ref()),
            last_at: e.at,
            ..Contract::default()
        }
    }

    /// reputation.contract.apply: fold one (already checked) contract event.
    pub fn apply(&mut self, e: &Event, at: i64, pos: i64) {
        self.last_at = self.last_at.max(at);
        let id = Id::from(e.event_id.as_ref());
        match &e.kind {
            Kind::Payment(cents) => push(&mut self.payments, Money { at, pos, cents: *cents, event_id: id }),
            Kind::Refund(cents) => push(&mut self.refunds, Money { at, pos, cents: *cents, event_id: id }),
            Kind::Closed { by, reason } => self.closed = Some(Closed::new(at, pos, Word::new(by), Word::new(reason), id)),
            Kind::Public { by, stars } | Kind::Revised { by, stars } => {
                let s = Stars { at, pos, stars: *stars, event_id: id, scaled: Scaled::of(*stars) };
                if by == "client" {
                    push(&mut self.client_public, s)
                } else {
                    push(&mut self.freelancer_public, s)
                }
            }
            Kind::Private { by, recommend, end_reason } => {
                let end_reason = end_reason.as_deref().map(Word::new);
                let p = Some(Box::new(Private { at, pos, recommend: *recommend, end_reason, event_id: id }));
                if by == "client" {
                    self.client_private = p
                } else {
                    self.freelancer_private = p
                }
            }
            Kind::EditAllowed { by } => {
                let m = Mark { at, pos, event_id: id };
                match self.edit_allowed.iter_mut().find(|(k, _)| k.as_str() == by) {
                    Some(slot) => slot.1 = m,
                    None => push(&mut self.edit_allowed, (Word::new(by), m)),
                }
            }
            Kind::Removed { of, basis, scope } => push(
                &mut self.removals,
                Removal { at, pos, of: Word::new(of), basis: Word::new(basis), scope: Word::new(scope), event_id: id },
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
            id: r.id()?,
            freelancer: r.id()?,
            client: r.id()?,
            pricing: r.word()?,
            continues: if r.is_nil()? { None } else { Some(r.text()?.into()) },
            opened_at: r.int()?,
            opened_pos: r.int()?,
            opened_event: r.id()?,
            last_at: r.int()?,
            ..Contract::default()
        };
        if !r.is_nil()? {
            r.array()?;
            let (at, pos, by, reason, event_id) = (r.int()?, r.int()?, r.word()?, r.word()?, r.id()?);
            c.closed = Some(Closed::new(at, pos, by, reason, event_id));
        }
        let money = |r: &mut Reader| -> R<Money> {
            r.array()?;
            Ok(Money { at: r.int()?, pos: r.int()?, cents: r.int()?, event_id: r.id()? })
        };
        c.payments = r.list(money)?.into();
        c.refunds = r.list(money)?.into();
        let stars = |r: &mut Reader| -> R<Stars> {
            r.array()?;
            let (at, pos, stars, event_id) = (r.int()?, r.int()?, r.float()?, r.id()?);
            Ok(Stars { at, pos, stars, event_id, scaled: Scaled::of(stars) })
        };
        c.client_public = r.list(stars)?.into();
        c.freelancer_public = r.list(stars)?.into();
        let private = |r: &mut Reader| -> R<Option<Box<Private>>> {
            if r.is_nil()? {
                return Ok(None);
            }
            r.array()?;
            let (at, pos, recommend) = (r.int()?, r.int()?, r.int()?);
            let end_reason = if r.is_nil()? { None } else { Some(r.word()?) };
            Ok(Some(Box::new(Private { at, pos, recommend, end_reason, event_id: r.id()? })))
        };
        c.client_private = private(r)?;
        c.freelancer_private = private(r)?;
        for _ in 0..r.map()? {
            let side = r.word()?;
            push(&mut c.edit_allowed, (side, decode_mark(r)?));
        }
        c.removals = r
            .list(|r| {
                r.array()?;
                Ok(Removal { at: r.int()?, pos: r.int()?, of: r.word()?, basis: r.word()?, scope: r.word()?, event_id: r.id()? })
            })?
            .into();
        c.scope_changes = r.list(decode_mark)?.into();
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
    Ok(Mark { at: r.int()?, pos: r.int()?, event_id: r.id()? })
}

impl Reader<'_> {
    fn id(&mut self) -> R<Id> {
        self.text().map(Id::from)
    }
    fn word(&mut self) -> R<Word> {
        self.text().map(Word::new)
    }
}

impl Freelancer {
    /// `contract_ids` maps the contract indexes back to ids.
    pub fn encode(&self, w: &mut Writer, contract_ids: &Contracts) {
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
            w.opt_int(e.jss());
            w.opt_int(e.fb());
            match e.exact() {
                Some(x) => w.float(x),
                None => w.nil(),
            }
            w.str(e.rules());
            w.bool(e.top);
        }
    }

    /// -> (id, contract ids, timeline)
    pub fn decode(data: &[u8]) -> R<(Id, Vec<String>, Vec<Entry>)> {
        let r = &mut Reader::new(data);
        r.array()?;
        let id = r.id()?;
        let contracts = r.list(|r| r.str())?;
        let timeline = r.list(|r| {
            let n = r.array()?;
            let (at, seq, jss, fb, exact) = (r.int()?, r.int()?, r.opt_int()?, r.opt_int()?, r.opt_float()?);
            let rules = crate::rules::rule_set_named(r.text()?)?;
            let top = n > 6 && r.bool()?; // state written before the badge: none
            Ok(Entry::new(at, seq, jss, fb, exact, rules, top))
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
        let id = r.id()?;
        let flags = r.list(|r| {
            r.array()?;
            Ok((r.int()?, r.int()?, r.bool()?))
        })?;
        let last_at = r.int()?;
        Ok(Client::new(id, flags, last_at, r.list(|r| r.id())?))
    }
}

/// Clients by id (flags are looked up by the contract's client id).
#[derive(Default)]
pub struct Clients {
    pub index: crate::hash::Map<Id, usize>,
    pub list: Vec<Client>,
}

impl Clients {
    pub fn flags(&self, id: &str) -> &[(i64, i64, bool)] {
        self.index.get(id).map_or(&[], |&i| &self.list[i].flags)
    }
}
