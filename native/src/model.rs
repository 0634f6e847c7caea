//! Contract, freelancer and client state as reputation/contract.py and projections/projector.py
//! keep it, the fold of one event, and the msgpack form the projection store holds.

use crate::eval::CacheEntry;
use crate::event::{Event, Kind};
use crate::msgpack::{Reader, Writer, R};
use crate::time::DAY;

pub use crate::client::{Client, Clients};
pub use crate::compact::{push, Id, List, Scaled, Word};
pub use crate::freelancer::{Entry, Freelancer};

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
    exit_days: [u16; 3], // the window exits as days after `at` (6 bytes; as times: 24)
}

impl Closed {
    pub fn new(at: i64, pos: i64, by: Word, reason: Word, event_id: Id) -> Closed {
        // a window exit is a whole number of days after the close (time::add_months keeps the time of day)
        let exit_days = crate::rules::WINDOWS.map(|m| {
            let days = crate::time::window_exit(at, m) - at;
            assert!(days % DAY == 0, "a window exit is whole days after its close");
            u16::try_from(days / DAY).expect("a window is shorter than 179 years")
        });
        Closed { at, pos, by, reason, event_id, exit_days }
    }
    /// The times the contract leaves each window (rules::WINDOWS).
    pub fn exits(&self) -> [i64; 3] {
        self.exit_days.map(|d| self.at + i64::from(d) * DAY)
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
    pub continues: Option<Box<String>>, // rare: one pointer wide (an id or a Box<str>: two)
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

impl crate::hash::Keyed for Contract {
    fn key(&self) -> &str {
        &self.id
    }
}

impl Contract {
    /// The contract this one continues, if any.
    pub fn continues(&self) -> Option<&str> {
        self.continues.as_deref().map(String::as_str)
    }

    pub fn open(e: &Event, pos: i64) -> Contract {
        let Kind::Opened { freelancer, client, pricing, continues } = &e.kind else { unreachable!() };
        Contract {
            id: Id::from(e.contract_id.as_deref().unwrap_or_default()),
            freelancer: Id::from(freelancer.as_ref()),
            client: Id::from(client.as_ref()),
            pricing: Word::new(pricing),
            continues: continues.as_deref().map(|c| Box::new(c.to_string())),
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
        w.opt_str(self.continues());
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
            continues: if r.is_nil()? { None } else { Some(Box::new(r.text()?.into())) },
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
    pub(crate) fn id(&mut self) -> R<Id> {
        self.text().map(Id::from)
    }
    pub(crate) fn word(&mut self) -> R<Word> {
        self.text().map(Word::new)
    }
}
