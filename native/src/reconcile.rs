//! projector._reconcile / _reconcile_at / _causes: compare the score at a time with what the
//! ledger says for it; a difference is a score change, with its causes in words.

use crate::eval::{archive_of, evaluate, Score};
use crate::event::{Kind, Recorded};
use crate::ledger::{Cause, ScoreChange};
use crate::model::Entry;
use crate::projector::{Projector, Res, Table, Trigger};
use crate::ratio::{half_up, Ratio};
use crate::rules::Cut;
use crate::time::{format_time, DAY, INF};
use crate::timeline::{change_times, contract_happenings, deadlines_at, describe, flag_happenings, inert, Happening};
use crate::toprated::badge_causes;

const ARCHIVE_AFTER: usize = 12; // contracts; below this a freelancer is evaluated in full
const ARCHIVE_EVERY: i64 = 90 * DAY;

fn fb_hundredths(fb: Option<Ratio>) -> Option<i64> {
    fb.map(|r| half_up(100 * r.n, r.d))
}

fn exact_float(x: Option<Ratio>) -> Option<f64> {
    x.map(Ratio::to_f64)
}

impl Projector {
    pub fn reconcile(&mut self, fid: &str, lo: i64, hi: i64, pos: i64, rec: &Recorded, trigger: Option<&Trigger>) -> Res<()> {
        let fi = self.freelancer(fid)?;
        if lo >= hi {
            return self.reconcile_at(fi, lo, pos, pos, rec, trigger);
        }
        self.cover(fi, lo, pos)?;
        self.load_clients_of(fi)?;
        let f = &self.freelancers[fi];
        let mut times = vec![lo];
        change_times(&self.contracts, &f.contracts, f.away_clients(), &self.clients, pos, lo, hi, &mut times);
        times.extend(f.timeline.iter().filter(|e| lo <= e.at && e.at <= hi).map(|e| e.at));
        times.sort_unstable();
        times.dedup();
        for at in times {
            self.reconcile_at(fi, at, pos, pos, rec, trigger)?;
        }
        Ok(())
    }

    /// The freelancer's archive, rebuilt at most every 90 days of clock; what it holds is put
    /// away once the store has it, if done well before `now` (away.rs).
    fn archive(&mut self, fi: usize, at: i64, known: i64, now: i64) {
        let ids = &self.freelancers[fi].contracts;
        if ids.len() < ARCHIVE_AFTER {
            return;
        }
        if let Some(&built) = self.archive_built.get(&fi) {
            if at < built + ARCHIVE_EVERY {
                return;
            }
        }
        self.archive_built.insert(fi, at);
        let away = self.freelancers[fi].away.as_ref().map(|a| &a.archive);
        let (a, put) = archive_of(&mut self.contracts, ids, at, known, away);
        self.archives.insert(fi, a);
        self.put_away(fi, now, put);
    }

    /// The freelancer's score at `cut`; with `archive`, what its archive (or what stands for
    /// the contracts it put away) holds is not evaluated again.
    fn eval(&mut self, fi: usize, cut: Cut, archive: bool) -> Res<Score> {
        let own = self.archives.get(&fi).and_then(Option::as_ref).filter(|a| archive && a.applies(cut));
        let away = self.freelancers[fi].away.as_ref().map(|a| &a.archive);
        if own.is_none() && away.is_some_and(|a| !a.applies(cut)) {
            self.bring_back(fi)?;
            return self.eval(fi, cut, false);
        }
        let a = own.or(away).filter(|_| self.freelancers[fi].contracts.len() >= ARCHIVE_AFTER);
        Ok(evaluate(&mut self.contracts, &self.freelancers[fi].contracts, &self.clients, cut, a))
    }

    pub fn reconcile_at(&mut self, fi: usize, at: i64, known: i64, pos: i64, rec: &Recorded, trigger: Option<&Trigger>) -> Res<()> {
        self.cover(fi, at, known)?;
        self.load_clients_of(fi)?;
        // put away only what is done well before the event that moved the clock here: a late
        // event's walk to the clock must not put away what the freelancer's next late event reads
        let e = &rec.event;
        let now = if let Kind::Clock { to } = e.kind { e.at.max(to) } else { e.at };
        self.archive(fi, at, known, now.min(at));
        let score = self.eval(fi, Cut::new(at, INF, known), true)?;
        let (jss, fb) = (score.jss, fb_hundredths(score.fb));
        let prev = self.freelancers[fi].lookup(at).copied();
        if (jss, fb) == prev.map_or((None, None), |p| (p.jss(), p.fb())) {
            return Ok(());
        }
        self.seq += 1;
        let top = prev.is_some_and(|p| p.top);
        let mut entry = Entry::new(at, self.seq, jss, fb, exact_float(score.exact), score.rules, top)?;
        let i = self.freelancers[fi].record(entry);
        let badge = self.badge_at(fi, at); // an entry carries the badge of its time
        entry.top = badge.top;
        self.freelancers[fi].timeline[i].top = badge.top;
        self.dirty.mark(Table::Freelancers, fi);
        // the words need the scores just before and after, and the assessments of the
        // contracts they name (assessed alone: an assessment depends on its contract only)
        let named = self.named(fi, at, known, trigger);
        let cut = Cut::new(at, INF, known);
        let after = Score { assessments: self.assess(&named, cut), ..score };
        let before_cut = match trigger {
            Some(t) if t.at == at => Cut::new(at, t.pos - 1, known),
            _ => Cut::new(at - 1, INF, known),
        };
        let before = Score { assessments: self.assess(&named, before_cut), ..self.eval(fi, before_cut, true)? };
        let mut causes = self.causes(fi, at, known, &before, &after, trigger, prev);
        if entry.top != top {
            causes.extend(badge_causes(&badge));
        }
        self.push_change(fi, prev, entry, pos, rec, causes);
        Ok(())
    }

    /// The ledger entry for the move from timeline entry `prev` (None: nothing shown yet) to
    /// `entry`, the n-th change caused by log position `pos`.
    pub fn push_change(&mut self, fi: usize, prev: Option<Entry>, entry: Entry, pos: i64, rec: &Recorded, causes: Vec<Cause>) {
        self.ledger.push(ScoreChange {
            seq: entry.seq,
            change_id: format!("{pos}.{}", self.n),
            freelancer_id: self.freelancers[fi].id.to_string(),
            rules: entry.rules(),
            effective_at: format_time(entry.at),
            recorded_at: rec.recorded_at.to_string(),
            position: pos,
            jss_before: prev.and_then(|p| p.jss()),
            jss_after: entry.jss(),
            jss_exact_before: prev.and_then(|p| p.exact()),
            jss_exact_after: entry.exact(),
            feedback_before: prev.and_then(|p| p.fb()).map(|x| x as f64 / 100.0),
            feedback_after: entry.fb().map(|x| x as f64 / 100.0),
            causes,
            top_rated_before: prev.is_some_and(|p| p.top),
            top_rated_after: entry.top,
        });
        self.n += 1;
    }

    /// A late event's cause at a later point it restates; `jss`: the exact JSS before and
    /// after, when the point is a JSS change the late event carries.
    pub fn late_cause(&self, t: &Trigger, jss: Option<(Option<f64>, Option<f64>)>) -> Cause {
        let (b, a) = jss.unwrap_or((None, None));
        Cause {
            at: format_time(t.at),
            kind: "late_event",
            text: format!("late event {} (occurred {}) changed the history", t.event_id, format_time(t.at)),
            private: false,
            contract_id: t.contract.map(|ci| self.contracts[ci].id.to_string()),
            client_id: Some(t.client_id.clone()),
            event_id: Some(t.event_id.clone()),
            jss_before: b,
            jss_after: a,
            jss_delta: jss.map(|_| a.unwrap_or(0.0) - b.unwrap_or(0.0)),
        }
    }

    /// The contracts whose assessments the causes' words may read.
    fn named(&self, fi: usize, at: i64, known: i64, trigger: Option<&Trigger>) -> Vec<usize> {
        let mut out: Vec<usize> = self.happenings(fi, at, known, trigger).iter().filter_map(|h| h.contract).collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    fn assess(&mut self, ids: &[usize], cut: Cut) -> Vec<crate::rules::Assessment> {
        evaluate(&mut self.contracts, ids, &self.clients, cut, None).assessments
    }

    /// What happened at `at` that the causes describe (a late event's own cause aside).
    fn happenings<'a>(&'a self, fi: usize, at: i64, known: i64, trigger: Option<&'a Trigger>) -> Vec<Happening<'a>> {
        let ids = &self.freelancers[fi].contracts;
        match trigger {
            Some(t) if t.at == at => {
                // the event itself
                let mut out = vec![];
                let mut keep = |h: Happening<'a>| {
                    if h.pos == t.pos && !inert(h.kind) {
                        out.push(h)
                    }
                };
                match t.contract {
                    Some(ci) => contract_happenings(&self.contracts[ci], ci, known, &mut keep),
                    None => flag_happenings(&t.client_id, self.clients.flags(&t.client_id), known, &mut keep),
                }
                out
            }
            // the clock passed deadlines, or a late event restates a later point
            _ => deadlines_at(&self.contracts, ids, at, known),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn causes<'a>(
        &'a self,
        fi: usize,
        at: i64,
        known: i64,
        before: &Score,
        after: &Score,
        trigger: Option<&'a Trigger>,
        prev: Option<Entry>,
    ) -> Vec<Cause> {
        let mut causes = vec![];
        if let Some(t) = trigger.filter(|t| t.at != at) {
            // a late event restates a later point: it carries the change
            causes.push(self.late_cause(t, Some((prev.and_then(|p| p.exact()), exact_float(after.exact)))));
        }
        let here = self.happenings(fi, at, known, trigger);
        for h in &here {
            let (kind, text, private) = describe(h, before, after, &self.contracts);
            causes.push(Cause {
                at: format_time(h.at),
                kind,
                text,
                private,
                contract_id: h.contract_id.map(str::to_string),
                client_id: Some(h.client_id).filter(|k| !k.is_empty()).map(str::to_string),
                event_id: h.event_id.map(str::to_string),
                jss_before: None,
                jss_after: None,
                jss_delta: None,
            });
        }
        if causes.first().is_some_and(|c| c.kind != "late_event") {
            let (b, a) = (exact_float(before.exact), exact_float(after.exact));
            let last = causes.last_mut().unwrap();
            last.jss_before = b;
            last.jss_after = a;
            last.jss_delta = Some(a.unwrap_or(0.0) - b.unwrap_or(0.0));
        }
        causes
    }
}
