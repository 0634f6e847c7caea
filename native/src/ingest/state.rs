//! The write side's latest state per stream (reputation/contract.py: Contract, Client,
//! Freelancer; the clock stream has none), read from and written to the msgpack that msgspec
//! writes for those array-like structs, byte for byte.

use crate::msgpack::{Reader, Writer, R};

pub struct Money {
    pub at: i64,
    pub pos: i64,
    pub cents: i64,
    pub event_id: String,
}

pub struct Stars {
    pub at: i64,
    pub pos: i64,
    pub stars: f64,
    pub event_id: String,
}

pub struct Private {
    pub at: i64,
    pub pos: i64,
    pub recommend: i64,
    pub end_reason: Option<String>,
    pub event_id: String,
}

pub struct Mark {
    pub at: i64,
    pub pos: i64,
    pub event_id: String,
}

pub struct Closed {
    pub at: i64,
    pub pos: i64,
    pub by: String,
    pub reason: String,
    pub event_id: String,
}

pub struct Removal {
    pub at: i64,
    pub pos: i64,
    pub of: String,
    pub basis: String,
    pub scope: String,
    pub event_id: String,
}

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
    pub edit_allowed: Vec<(String, Mark)>, // a dict: insertion order
    pub removals: Vec<Removal>,
    pub scope_changes: Vec<Mark>,
}

pub struct Client {
    pub id: String,
    pub flags: Vec<(i64, i64, bool)>,
    pub last_at: i64,
}

pub struct Freelancer {
    pub id: String,
    pub closed_at: Vec<i64>,
    pub perk_removals: Vec<i64>,
}

pub enum State {
    Contract(Box<Contract>),
    Client(Client),
    Freelancer(Freelancer),
    Clock,
}

fn fixed(r: &mut Reader, n: usize) -> R<()> {
    let got = r.array()?;
    if got != n {
        return Err(format!("state array of {got} fields, expected {n}"));
    }
    Ok(())
}

fn money(r: &mut Reader) -> R<Money> {
    fixed(r, 4)?;
    Ok(Money { at: r.int()?, pos: r.int()?, cents: r.int()?, event_id: r.str()? })
}

fn stars(r: &mut Reader) -> R<Stars> {
    fixed(r, 4)?;
    Ok(Stars { at: r.int()?, pos: r.int()?, stars: r.float()?, event_id: r.str()? })
}

fn mark(r: &mut Reader) -> R<Mark> {
    fixed(r, 3)?;
    Ok(Mark { at: r.int()?, pos: r.int()?, event_id: r.str()? })
}

fn private(r: &mut Reader) -> R<Option<Private>> {
    if r.is_nil()? {
        return Ok(None);
    }
    fixed(r, 5)?;
    Ok(Some(Private { at: r.int()?, pos: r.int()?, recommend: r.int()?, end_reason: r.opt_str()?, event_id: r.str()? }))
}

impl State {
    /// The stored state of `key` ("contract:…", "client:…", "freelancer:…", "engine:…").
    pub fn decode(key: &str, data: &[u8]) -> R<State> {
        let r = &mut Reader::new(data);
        let state = match key.split_once(':').map(|k| k.0) {
            Some("contract") => {
                fixed(r, 19)?;
                let (id, freelancer, client, pricing) = (r.str()?, r.str()?, r.str()?, r.str()?);
                let continues = r.opt_str()?;
                let (opened_at, opened_pos, opened_event, last_at) = (r.int()?, r.int()?, r.str()?, r.int()?);
                let closed = if r.is_nil()? {
                    None
                } else {
                    fixed(r, 5)?;
                    Some(Closed { at: r.int()?, pos: r.int()?, by: r.str()?, reason: r.str()?, event_id: r.str()? })
                };
                let payments = r.list(money)?;
                let refunds = r.list(money)?;
                let client_public = r.list(stars)?;
                let freelancer_public = r.list(stars)?;
                let client_private = private(r)?;
                let freelancer_private = private(r)?;
                let n = r.map()?;
                let mut edit_allowed = Vec::with_capacity(n);
                for _ in 0..n {
                    edit_allowed.push((r.str()?, mark(r)?));
                }
                let removals = r.list(|r| {
                    fixed(r, 6)?;
                    Ok(Removal { at: r.int()?, pos: r.int()?, of: r.str()?, basis: r.str()?, scope: r.str()?, event_id: r.str()? })
                })?;
                let scope_changes = r.list(mark)?;
                State::Contract(Box::new(Contract {
                    id,
                    freelancer,
                    client,
                    pricing,
                    continues,
                    opened_at,
                    opened_pos,
                    opened_event,
                    last_at,
                    closed,
                    payments,
                    refunds,
                    client_public,
                    freelancer_public,
                    client_private,
                    freelancer_private,
                    edit_allowed,
                    removals,
                    scope_changes,
                }))
            }
            Some("client") => {
                fixed(r, 3)?;
                let id = r.str()?;
                let flags = r.list(|r| {
                    fixed(r, 3)?;
                    Ok((r.int()?, r.int()?, r.bool()?))
                })?;
                State::Client(Client { id, flags, last_at: r.int()? })
            }
            Some("freelancer") => {
                fixed(r, 3)?;
                State::Freelancer(Freelancer { id: r.str()?, closed_at: r.list(|r| r.int())?, perk_removals: r.list(|r| r.int())? })
            }
            Some("engine") => {
                if !r.is_nil()? {
                    return Err("engine state is not nil".into());
                }
                State::Clock
            }
            _ => return Err(format!("unknown state key {key}")),
        };
        // what this model does not write back byte for byte, it does not understand
        if state.encode() != data {
            return Err(format!("state of {key} is not in the form this model writes"));
        }
        Ok(state)
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer(Vec::with_capacity(128));
        let w_ = &mut w;
        match self {
            State::Clock => w_.nil(),
            State::Freelancer(f) => {
                w_.array(3);
                w_.str(&f.id);
                ints(w_, &f.closed_at);
                ints(w_, &f.perk_removals);
            }
            State::Client(k) => {
                w_.array(3);
                w_.str(&k.id);
                w_.flags(&k.flags);
                w_.int(k.last_at);
            }
            State::Contract(c) => encode_contract(w_, c),
        }
        w.0
    }
}

fn ints(w: &mut Writer, xs: &[i64]) {
    w.array(xs.len());
    for &x in xs {
        w.int(x);
    }
}

fn money_list(w: &mut Writer, xs: &[Money]) {
    w.array(xs.len());
    for m in xs {
        w.array(4);
        w.int(m.at);
        w.int(m.pos);
        w.int(m.cents);
        w.str(&m.event_id);
    }
}

fn stars_list(w: &mut Writer, xs: &[Stars]) {
    w.array(xs.len());
    for s in xs {
        w.array(4);
        w.int(s.at);
        w.int(s.pos);
        w.float(s.stars);
        w.str(&s.event_id);
    }
}

fn write_mark(w: &mut Writer, m: &Mark) {
    w.array(3);
    w.int(m.at);
    w.int(m.pos);
    w.str(&m.event_id);
}

fn write_private(w: &mut Writer, p: &Option<Private>) {
    match p {
        None => w.nil(),
        Some(p) => {
            w.array(5);
            w.int(p.at);
            w.int(p.pos);
            w.int(p.recommend);
            w.opt_str(p.end_reason.as_deref());
            w.str(&p.event_id);
        }
    }
}

fn encode_contract(w: &mut Writer, c: &Contract) {
    w.array(19);
    for s in [&c.id, &c.freelancer, &c.client, &c.pricing] {
        w.str(s);
    }
    w.opt_str(c.continues.as_deref());
    w.int(c.opened_at);
    w.int(c.opened_pos);
    w.str(&c.opened_event);
    w.int(c.last_at);
    match &c.closed {
        None => w.nil(),
        Some(x) => {
            w.array(5);
            w.int(x.at);
            w.int(x.pos);
            w.str(&x.by);
            w.str(&x.reason);
            w.str(&x.event_id);
        }
    }
    money_list(w, &c.payments);
    money_list(w, &c.refunds);
    stars_list(w, &c.client_public);
    stars_list(w, &c.freelancer_public);
    write_private(w, &c.client_private);
    write_private(w, &c.freelancer_private);
    w.map(c.edit_allowed.len());
    for (side, m) in &c.edit_allowed {
        w.str(side);
        write_mark(w, m);
    }
    w.array(c.removals.len());
    for r in &c.removals {
        w.array(6);
        w.int(r.at);
        w.int(r.pos);
        for s in [&r.of, &r.basis, &r.scope, &r.event_id] {
            w.str(s);
        }
    }
    w.array(c.scope_changes.len());
    for m in &c.scope_changes {
        write_mark(w, m);
    }
}
