//! A freelancer's state: its contracts and its timeline of scores (projector.Freelancer).

use crate::model::{Contracts, Id};
use crate::msgpack::{Reader, Writer, R};
use crate::rules::{RuleSet, RULE_SETS};

/// A score of a freelancer's timeline: its options' presence in bits, its rule set as a number
/// and the JSS (0 to 100) and feedback score (hundredths of 1 to 5 stars) as i32 (40 bytes; 88
/// as options of i64 and a name).
#[derive(Clone, Copy, PartialEq)]
pub struct Entry {
    pub at: i64,
    pub seq: i64,
    exact: f64,
    jss: i32,
    fb: i32,
    rules: u8, // index into rules::RULE_SETS
    has: u8,
    pub top: bool,
}

const JSS: u8 = 1;
const FB: u8 = 2;
const EXACT: u8 = 4;

impl Entry {
    pub fn new(at: i64, seq: i64, jss: Option<i64>, fb: Option<i64>, exact: Option<f64>, rules: &'static RuleSet, top: bool) -> R<Entry> {
        let rules = crate::rules::rule_set_number(rules);
        let has = (u8::from(jss.is_some()) * JSS) | (u8::from(fb.is_some()) * FB) | (u8::from(exact.is_some()) * EXACT);
        let narrow = |x: Option<i64>, what: &str| {
            i32::try_from(x.unwrap_or(0)).map_err(|_| format!("a {what} of {} at {at} is out of range", x.unwrap_or(0)))
        };
        let (jss, fb) = (narrow(jss, "JSS")?, narrow(fb, "feedback score")?);
        Ok(Entry { at, seq, jss, fb, exact: exact.unwrap_or(0.0), rules, has, top })
    }
    pub fn jss(&self) -> Option<i64> {
        (self.has & JSS != 0).then_some(i64::from(self.jss))
    }
    pub fn fb(&self) -> Option<i64> {
        (self.has & FB != 0).then_some(i64::from(self.fb))
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
    pub contracts: Vec<usize>,                // indexes into the projector's contracts
    pub timeline: Vec<Entry>,                 // sorted by (at, seq)
    pub away: Option<Box<crate::away::Away>>, // its contracts put away (AWAY in `contracts`)
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

impl Freelancer {
    /// `contract_ids` maps the contract indexes back to ids.
    pub fn encode(&self, w: &mut Writer, contract_ids: &Contracts) {
        w.array(3);
        w.str(&self.id);
        w.array(self.contracts.len());
        for (i, &c) in self.contracts.iter().enumerate() {
            match &self.away {
                Some(a) if c == crate::away::AWAY => w.str(a.id_at(i)),
                _ => w.str(&contract_ids[c].id),
            }
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
            Entry::new(at, seq, jss, fb, exact, rules, top).map_err(|e| format!("freelancer {id}: {e}"))
        })?;
        Ok((id, contracts, timeline))
    }
}

#[cfg(test)]
mod tests {
    use super::{Entry, Freelancer};
    use crate::msgpack::Writer;

    fn stored(jss: i64, fb: i64) -> Vec<u8> {
        let mut w = Writer(vec![]);
        w.array(3);
        w.str("f-1");
        w.array(0);
        w.array(1);
        w.array(7);
        w.int(10);
        w.int(1);
        w.int(jss);
        w.int(fb);
        w.float(0.5);
        w.str(crate::rules::RULE_SETS[0].name);
        w.bool(true);
        w.0
    }

    /// A timeline entry keeps its scores (narrowed to i32) as they were stored; one out of an
    /// i32's range is refused with the freelancer's id, not cut short.
    #[test]
    fn timeline_scores_round_trip_or_are_refused() {
        assert_eq!(std::mem::size_of::<Entry>(), 40);
        for (jss, fb) in [(0, 100), (100, 500), (-1, i64::from(i32::MAX)), (i64::from(i32::MIN), 0)] {
            let (_, _, timeline) = Freelancer::decode(&stored(jss, fb)).unwrap();
            assert_eq!((timeline[0].jss(), timeline[0].fb(), timeline[0].top), (Some(jss), Some(fb), true));
        }
        for (jss, fb) in [(i64::from(i32::MAX) + 1, 0), (0, i64::from(i32::MIN) - 1)] {
            let e = Freelancer::decode(&stored(jss, fb)).err().expect("out of range");
            assert!(e.contains("freelancer f-1") && e.contains("out of range"), "{e}");
        }
    }
}
