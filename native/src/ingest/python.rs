//! `reputation._core.CoreIngest`: the Python side (reputation/native_ingest.py) feeds it
//! lines, loads the states and digests it asks for, and takes the batch to append.

use std::collections::{HashMap, VecDeque};

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString};

use super::check::{Checker, Slot, Stop};
use super::line::{decode, decode_export, Line};
use super::state::State;
use super::values::write_str;

#[pyclass(module = "reputation._core")]
pub struct CoreIngest {
    recorded_at: String,
    pending: VecDeque<Line>,
    checker: Checker,
    keep_states: usize,
}

fn blank(b: &[u8]) -> bool {
    b.iter().all(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c))
}

#[pymethods]
impl CoreIngest {
    /// `keep_states`: how many stream states to keep (and write later) from one `batch` to the next.
    #[new]
    #[pyo3(signature = (recorded_at, keep_states=0))]
    fn new(recorded_at: String, keep_states: usize) -> Self {
        CoreIngest { recorded_at, pending: VecDeque::new(), checker: Checker::default(), keep_states }
    }

    /// Decode raw file lines numbered from `first` (blank ones are skipped, counted); returns
    /// (non-blank lines, number of the first line not surely valid or None). With `exports`
    /// (ingest_lines), an export line stands for its event. A dead-letter line is no event as
    /// it is (its fields are not an event's): not sure.
    fn feed(&mut self, lines: &Bound<'_, PyList>, first: i64, exports: bool) -> (usize, Option<i64>) {
        let mut count = 0;
        for (i, item) in lines.iter().enumerate() {
            let number = first + i as i64;
            let Ok(bytes) = item.downcast::<PyBytes>() else { return (count, Some(number)) };
            let mut raw = bytes.as_bytes();
            while let [rest @ .., b'\r' | b'\n'] = raw {
                raw = rest;
            }
            if blank(raw) {
                continue;
            }
            count += 1;
            let line = if exports && raw.starts_with(b"{\"position\"") { decode_export(number, raw) } else { decode(number, raw) };
            match line {
                Some(line) => self.pending.push_back(line),
                None => return (count, Some(number)),
            }
        }
        (count, None)
    }

    /// The state keys (and with `ids`, the event ids) the pending lines read that are not loaded.
    fn wanted(&self, ids: bool) -> (Vec<String>, Vec<String>) {
        let c = &self.checker;
        let mut keys: Vec<String> = self.pending.iter().flat_map(|e| c.missing(e)).collect();
        keys.sort_unstable();
        keys.dedup();
        let mut unknown = vec![];
        if ids {
            unknown = self.pending.iter().filter(|e| c.known_digest(&e.event_id).is_none()).map(|e| e.event_id.clone()).collect();
            unknown.sort_unstable();
            unknown.dedup();
        }
        (keys, unknown)
    }

    /// The stored states of `keys` (absent ones are empty) and stored digests; false when a
    /// state is not in the form this model writes (the caller falls back).
    fn give(&mut self, keys: Vec<String>, mut states: HashMap<String, (i64, Vec<u8>)>, digests: HashMap<String, Vec<u8>>) -> bool {
        for key in keys {
            let slot = match states.remove(&key) {
                Some((version, blob)) => match State::decode(&key, &blob) {
                    Ok(state) => Slot { version, state: Some(state), dirty: false },
                    Err(_) => return false,
                },
                None => Slot { version: 0, state: None, dirty: false },
            };
            self.checker.states.insert(key, slot);
        }
        for (id, d) in digests {
            let Ok(d) = <[u8; 16]>::try_from(d.as_slice()) else { return false };
            self.checker.digests.insert(id, d);
        }
        true
    }

    /// Check the pending lines in order: True when all passed, False at a line that does not
    /// (the Python reference words it), or the keys to load before going on.
    fn check(&mut self, py: Python<'_>) -> PyResult<PyObject> {
        while let Some(mut e) = self.pending.pop_front() {
            match self.checker.accept(&mut e) {
                Ok(_) => {}
                Err(Stop::Need(keys)) => {
                    self.pending.push_front(e);
                    return Ok(keys.into_pyobject(py)?.into_any().unbind());
                }
                Err(Stop::Reject) => return Ok(false.into_pyobject(py)?.to_owned().into_any().unbind()),
            }
        }
        Ok(true.into_pyobject(py)?.to_owned().into_any().unbind())
    }

    #[getter]
    fn duplicates(&self) -> i64 {
        self.checker.duplicates
    }

    /// What to append of the lines checked so far: ([(stream, version, type, stored body)],
    /// {key: (version, state)}, {event id: digest}). The core then forgets the events and ids
    /// (streamed ingest: the caller writes them in its open transaction, where later lines
    /// find them). The changed states stay in the core, unwritten, while it holds no more than
    /// `keep_states` states (a state written once per batch, not once per chunk); beyond that,
    /// or with `last`, they are all returned and forgotten.
    #[pyo3(signature = (last=false))]
    fn batch<'py>(&mut self, py: Python<'py>, last: bool) -> PyResult<(Bound<'py, PyList>, Bound<'py, PyDict>, Bound<'py, PyDict>)> {
        let flush = last || self.checker.states.len() > self.keep_states;
        let mut tail = Vec::with_capacity(self.recorded_at.len() + 4);
        tail.push(b',');
        write_str(&mut tail, &self.recorded_at);
        tail.push(b']');
        let events = PyList::empty(py);
        let mut body = Vec::with_capacity(512);
        // one str per stream: less memory, and its hash is computed once (stream_uuid's cache)
        let mut streams: HashMap<String, Bound<'py, PyString>> = HashMap::new();
        for s in std::mem::take(&mut self.checker.staged) {
            body.clear();
            body.push(b'[');
            body.extend_from_slice(&s.canonical);
            body.extend_from_slice(&tail);
            let t = PyString::intern(py, s.type_name);
            let stream = streams.entry(s.stream).or_insert_with_key(|k| PyString::new(py, k)).clone();
            events.append((stream, s.version, t, PyBytes::new(py, &body)))?;
        }
        let states = PyDict::new(py);
        for (key, slot) in self.checker.states.iter().filter(|_| flush) {
            if slot.dirty {
                let blob = slot.state.as_ref().map_or_else(|| vec![0xc0], State::encode);
                states.set_item(key, (slot.version, PyBytes::new(py, &blob)))?;
            }
        }
        let ids = PyDict::new(py);
        for (id, d) in std::mem::take(&mut self.checker.new_ids) {
            ids.set_item(id, PyBytes::new(py, &d))?;
        }
        self.checker.forget(flush);
        Ok((events, states, ids))
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<CoreIngest>()
}
