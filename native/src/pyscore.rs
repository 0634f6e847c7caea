//! `reputation._core.CoreFreelancer`: one freelancer's stored state, evaluated at any cut under
//! any rule set (score.rs); projections/core_score.py turns the tuples into Score objects.

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyTuple};

use crate::model::Contract;
use crate::moves::{glance, Glance};
use crate::ratio::Ratio;
use crate::reason::{Arg, Reason};
use crate::rules::{rule_set_named, Cut, Outcome, Override, RuleSet, WINDOWS};
use crate::score::{evaluate, Facts, Judged};
use crate::timeline::detail_text;

#[pyclass(module = "reputation._core")]
pub struct CoreFreelancer {
    facts: Facts,
    load: Option<PyObject>,
}

fn decode(states: &[Bound<'_, PyBytes>]) -> PyResult<Vec<Contract>> {
    states.iter().map(|b| Contract::decode(b.as_bytes()).map_err(PyValueError::new_err)).collect()
}

fn glance_tuple<'py>(py: Python<'py>, g: &Glance) -> PyResult<Bound<'py, PyTuple>> {
    (g.rules.name, g.jss, ratio(g.exact), ratio(g.fb), g.fb_hundredths).into_pyobject(py)
}

fn ratio(r: Option<Ratio>) -> Option<(i128, i128)> {
    r.map(|r| (r.n, r.d))
}

fn override_named(kind: &str) -> PyResult<Override> {
    Ok(match kind {
        "exclude" => Override::Exclude,
        "neutral" => Override::As(Outcome::Neutral),
        "positive" => Override::As(Outcome::Positive),
        "negative" => Override::As(Outcome::Negative),
        _ => return Err(PyValueError::new_err(format!("unknown what-if {kind:?}: exclude, neutral, positive or negative"))),
    })
}

fn reason<'py>(py: Python<'py>, r: &Reason) -> PyResult<Bound<'py, PyTuple>> {
    let mut args: Vec<Bound<'py, PyAny>> = vec![];
    for a in r.args() {
        args.push(match a {
            Arg::Str(s) => s.into_pyobject(py)?.into_any(),
            Arg::Int(i) => i.into_pyobject(py)?.into_any(),
            Arg::Float(x) => x.into_pyobject(py)?.into_any(),
            Arg::Bool(b) => b.into_pyobject(py)?.to_owned().into_any(),
            Arg::Strs(ids) => PyTuple::new(py, ids)?.into_any(),
        });
    }
    (r.code(), PyTuple::new(py, args)?, r.private()).into_pyobject(py)
}

impl CoreFreelancer {
    /// The rule set named (None: in force at each cut); fair-2026's leniency needs the clients.
    fn rules(&mut self, py: Python<'_>, name: Option<&str>) -> PyResult<Option<&'static RuleSet>> {
        let rules = name.map(rule_set_named).transpose().map_err(PyValueError::new_err)?;
        if rules.is_some_and(|r| r.lenient_raters) {
            self.load_clients(py)?;
        }
        Ok(rules)
    }

    /// fair-2026's leniency reads every contract of the freelancer's clients: load them once.
    fn load_clients(&mut self, py: Python<'_>) -> PyResult<()> {
        let mut wanted: Vec<String> = self.facts.contracts.iter().map(|c| c.client.to_string()).collect();
        wanted.sort();
        wanted.dedup();
        for k in wanted {
            if self.facts.clients.contains_key(&k) {
                continue;
            }
            let Some(load) = &self.load else {
                return Err(PyRuntimeError::new_err("fair-2026 reads each client's other ratings: give CoreFreelancer a load(client_id)"));
            };
            let states: Vec<Bound<'_, PyBytes>> = load.call1(py, (k.as_str(),))?.extract(py)?;
            self.facts.clients.insert(k, decode(&states)?);
        }
        Ok(())
    }
}

#[pymethods]
impl CoreFreelancer {
    /// `contracts`: the freelancer's stored contract states (msgpack, as the projection store
    /// holds them); `flags`: {client_id: [(at, pos, flagged)]}; `load(client_id)`: the stored
    /// states of every contract of a client (asked under fair-2026 only).
    #[new]
    #[pyo3(signature = (contracts, flags, load=None))]
    fn new(
        contracts: Vec<Bound<'_, PyBytes>>,
        flags: std::collections::HashMap<String, Vec<(i64, i64, bool)>>,
        load: Option<PyObject>,
    ) -> PyResult<Self> {
        let facts = Facts { contracts: decode(&contracts)?, flags: flags.into_iter().collect(), clients: Default::default() };
        Ok(CoreFreelancer { facts, load })
    }

    /// explain's steps in (t1, t2] that move the score (projections.explain): [(happenings
    /// [(at, pos, kind, contract_id, client_id, event_id, detail)], cut before (at, pos, known),
    /// glance before, cut after, glance after)], a glance as `evaluate(..., full=False)`.
    #[pyo3(signature = (t1, t2, known, rules=None))]
    fn moves<'py>(&mut self, py: Python<'py>, t1: i64, t2: i64, known: i64, rules: Option<&str>) -> PyResult<Bound<'py, PyList>> {
        let rules = self.rules(py, rules)?;
        let found = crate::moves::moves(&self.facts, t1, t2, known, rules).map_err(PyRuntimeError::new_err)?;
        let out = PyList::empty(py);
        for m in found {
            let hs = PyList::empty(py);
            for h in &m.happenings {
                let client = if h.kind == "rules_changed" { None } else { Some(h.client_id) };
                hs.append((h.at, h.pos, h.kind, h.contract_id, client, h.event_id, detail_text(h.detail)))?;
            }
            let cut = |c: Cut| (c.at, c.pos, c.known);
            out.append((hs, cut(m.before.0), glance_tuple(py, &m.before.1)?, cut(m.after.0), glance_tuple(py, &m.after.1)?))?;
        }
        Ok(out)
    }

    /// explain's counterfactuals at the cut: for each contract id, the exact JSS without it,
    /// with it neutral and with it positive [(without, if_neutral, if_positive)].
    #[pyo3(signature = (at, pos, known, ids, rules=None))]
    fn what_ifs<'py>(
        &mut self,
        py: Python<'py>,
        at: i64,
        pos: i64,
        known: i64,
        ids: Vec<String>,
        rules: Option<&str>,
    ) -> PyResult<Bound<'py, PyList>> {
        let rules = self.rules(py, rules)?;
        let cut = Cut::new(at, pos, known);
        let out = PyList::empty(py);
        for id in ids {
            let ci = self.facts.index_of(&id).ok_or_else(|| PyValueError::new_err(format!("contract {id} is not the freelancer's")))?;
            let mut exacts = vec![];
            for o in [Override::Exclude, Override::As(Outcome::Neutral), Override::As(Outcome::Positive)] {
                exacts.push(ratio(glance(&self.facts, cut, rules, Some((ci, o))).map_err(PyRuntimeError::new_err)?.exact));
            }
            out.append(PyTuple::new(py, exacts)?)?;
        }
        Ok(out)
    }

    /// The scores at the cut (at, pos, known) under `rules` (None: in force), with
    /// `what_if` = (contract_id, exclude|neutral|positive|negative). `full`: (rules, jss, exact,
    /// window months, hidden reason, feedback, windows [(months, contracts, num, den)],
    /// assessments [(contract, client, counted, outcome, weight4, [(code, args, private)],
    /// closed_at, settled_at, earnings, exits)], only those of the contracts in `only` when
    /// given); else (rules, jss, exact, feedback, feedback in hundredths rounded half up).
    /// Fractions are (numerator, denominator).
    #[pyo3(signature = (at, pos, known, rules=None, what_if=None, full=true, only=None))]
    fn evaluate<'py>(
        &mut self,
        py: Python<'py>,
        at: i64,
        pos: i64,
        known: i64,
        rules: Option<&str>,
        what_if: Option<(String, String)>,
        full: bool,
        only: Option<Vec<String>>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let rules = self.rules(py, rules)?;
        let w = match what_if {
            Some((id, kind)) => self.facts.index_of(&id).map(|ci| override_named(&kind).map(|o| (ci, o))).transpose()?,
            None => None,
        };
        let cut = Cut::new(at, pos, known);
        let facts = &self.facts;
        if !full {
            return glance_tuple(py, &glance(facts, cut, rules, w).map_err(PyRuntimeError::new_err)?);
        }
        let j: Judged<Vec<Reason>> = evaluate(facts, cut, rules, w).map_err(PyRuntimeError::new_err)?;
        let windows = PyList::empty(py);
        for &i in j.rules.windows {
            let (n, num, den) = j.jss.tallies[i];
            windows.append((WINDOWS[i], n, num, den))?;
        }
        let assessments = PyList::empty(py);
        for x in &j.assessed {
            let c = &facts.contracts[x.a.ci];
            if only.as_ref().is_some_and(|ids| !ids.iter().any(|id| *id == c.id)) {
                continue;
            }
            let why = PyList::empty(py);
            for r in &x.why {
                why.append(reason(py, r)?)?;
            }
            let exits = if x.a.counted { x.a.exits.to_vec() } else { vec![] };
            assessments.append((
                c.id.as_str(),
                c.client.as_str(),
                x.a.counted,
                x.a.outcome.map(Outcome::as_str),
                x.a.weight4,
                why,
                x.closed_at,
                x.settled_at,
                x.earnings,
                PyTuple::new(py, exits)?,
            ))?;
        }
        let hidden = if j.jss.shown.is_none() { Some("insufficient_history") } else { None };
        let window = j.jss.window.map(|i| WINDOWS[i]);
        let head = (j.rules.name, j.jss.shown, ratio(j.jss.exact), window, hidden, ratio(j.fb)).into_pyobject(py)?;
        let mut items: Vec<Bound<'py, PyAny>> = head.iter().collect();
        items.push(windows.into_any());
        items.push(assessments.into_any());
        PyTuple::new(py, items)
    }
}
