//! `reputation._core.CoreIngest`: the Python side (reputation/native_ingest.py) feeds it
//! lines, loads the states and digests it asks for, and takes the batch to append.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};
use pyo3::PyAny;

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
    namespace: Vec<u8>,
    topic_prefix: String,
}

fn blank(b: &[u8]) -> bool {
    b.iter().all(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c))
}

#[pymethods]
impl CoreIngest {
    /// `keep_states`: how many stream states to keep (and write later) from one `batch` to the
    /// next; `namespace` (16 bytes) and `topic_prefix`: the rows `batch` makes for a recorder.
    #[new]
    #[pyo3(signature = (recorded_at, keep_states=0, namespace=vec![], topic_prefix=String::new()))]
    fn new(recorded_at: String, keep_states: usize, namespace: Vec<u8>, topic_prefix: String) -> Self {
        CoreIngest { recorded_at, pending: VecDeque::new(), checker: Checker::default(), keep_states, namespace, topic_prefix }
    }

    /// Decode raw file lines numbered from `first` (blank ones are skipped, counted); returns
    /// (non-blank lines, number of the first line not surely valid or None). With `exports`
    /// (ingest_lines), an export line stands for its event. A dead-letter line is no event as
    /// it is (its fields are not an event's): not sure.
    fn feed(&mut self, py: Python<'_>, lines: &Bound<'_, PyList>, first: i64, exports: bool) -> (usize, Option<i64>) {
        // our own references to the bytes: the slices below stay valid without the GIL
        let held: Vec<Bound<'_, PyAny>> = lines.iter().collect();
        let mut raws: Vec<Option<&[u8]>> = Vec::with_capacity(held.len());
        for item in &held {
            raws.push(item.downcast::<PyBytes>().ok().map(|b| b.as_bytes()));
        }
        let pending = &mut self.pending;
        // decoding lets go of the GIL: the caller writes the chunk before while this one decodes
        py.allow_threads(|| {
            let mut count = 0;
            for (i, item) in raws.into_iter().enumerate() {
                let number = first + i as i64;
                let Some(mut raw) = item else { return (count, Some(number)) };
                while let [rest @ .., b'\r' | b'\n'] = raw {
                    raw = rest;
                }
                if blank(raw) {
                    continue;
                }
                count += 1;
                let line = if exports && raw.starts_with(b"{\"position\"") { decode_export(number, raw) } else { decode(number, raw) };
                match line {
                    Some(line) => pending.push_back(line),
                    None => return (count, Some(number)),
                }
            }
            (count, None)
        })
    }

    /// The state keys (and with `ids`, the event ids) the pending lines read that are not loaded.
    fn wanted(&self, py: Python<'_>, ids: bool) -> (Vec<String>, Vec<String>) {
        // without the GIL: the caller may be decoding the next chunk while the last one is written
        py.allow_threads(|| self.wanted_now(ids))
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
    ///
    /// With `originators` ("hex" or "uuid"): the recorder's own rows instead, ready for a
    /// store writer's `insert` ([(originator id, version, topic, stored body)], [(key,
    /// version, state)], [(event id, digest)]): the stream's uuid5 under `namespace` as hex
    /// or as a uuid.UUID, the topic `topic_prefix` + type.
    #[pyo3(signature = (last=false, originators=None))]
    fn batch<'py>(&mut self, py: Python<'py>, last: bool, originators: Option<&str>) -> PyResult<Bound<'py, PyTuple>> {
        let flush = last || self.checker.states.len() > self.keep_states;
        let mut tail = Vec::with_capacity(self.recorded_at.len() + 4);
        tail.push(b',');
        write_str(&mut tail, &self.recorded_at);
        tail.push(b']');
        let events = PyList::empty(py);
        let mut body = Vec::with_capacity(512);
        let uuid_class = match originators {
            None | Some("hex") => None,
            Some("uuid") => Some(py.import("uuid")?.getattr("UUID")?),
            Some(other) => return Err(PyValueError::new_err(format!("unknown originator form {other:?}"))),
        };
        // one object per stream: less memory, and its hash is computed once
        let mut streams: HashMap<String, Bound<'py, PyAny>> = HashMap::new();
        let mut types: HashMap<&'static str, Bound<'py, PyString>> = HashMap::new();
        for s in std::mem::take(&mut self.checker.staged) {
            body.clear();
            body.push(b'[');
            body.extend_from_slice(&s.canonical);
            body.extend_from_slice(&tail);
            let (stream, t) = if originators.is_none() {
                let stream = streams.entry(s.stream).or_insert_with_key(|k| PyString::new(py, k).into_any()).clone();
                (stream, PyString::intern(py, s.type_name))
            } else {
                let stream = match streams.entry(s.stream) {
                    Entry::Occupied(o) => o.get().clone(),
                    Entry::Vacant(v) => {
                        let hex = uuid5_hex(&self.namespace, v.key());
                        let id = match &uuid_class {
                            Some(class) => class.call1((hex,))?,
                            None => PyString::new(py, &hex).into_any(),
                        };
                        v.insert(id).clone()
                    }
                };
                let prefix = &self.topic_prefix;
                let t = types.entry(s.type_name).or_insert_with(|| PyString::intern(py, &format!("{prefix}{}", s.type_name))).clone();
                (stream, t)
            };
            events.append((stream, s.version, t, PyBytes::new(py, &body)))?;
        }
        let dirty = self.checker.states.iter().filter(|(_, slot)| flush && slot.dirty);
        let blob = |slot: &Slot| slot.state.as_ref().map_or_else(|| vec![0xc0], State::encode);
        let new_ids = std::mem::take(&mut self.checker.new_ids);
        let (states, ids) = if originators.is_none() {
            let states = PyDict::new(py);
            for (key, slot) in dirty {
                states.set_item(key, (slot.version, PyBytes::new(py, &blob(slot))))?;
            }
            let ids = PyDict::new(py);
            for (id, d) in new_ids {
                ids.set_item(id, PyBytes::new(py, &d))?;
            }
            (states.into_any(), ids.into_any())
        } else {
            let states = PyList::empty(py);
            for (key, slot) in dirty {
                states.append((key, slot.version, PyBytes::new(py, &blob(slot))))?;
            }
            let ids = PyList::empty(py);
            for (id, d) in new_ids {
                ids.append((id, PyBytes::new(py, &d)))?;
            }
            (states.into_any(), ids.into_any())
        };
        self.checker.forget(flush);
        PyTuple::new(py, [events.into_any(), states, ids])
    }
}

impl CoreIngest {
    fn wanted_now(&self, ids: bool) -> (Vec<String>, Vec<String>) {
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
}

/// uuid.uuid5(namespace, name).hex: SHA-1 of the namespace's bytes and the name's UTF-8,
/// cut to 16 bytes, with the version (5) and variant (RFC 4122) bits set.
fn uuid5_hex(namespace: &[u8], name: &str) -> String {
    use sha1::{Digest, Sha1};
    let mut sha = Sha1::new();
    sha.update(namespace);
    sha.update(name.as_bytes());
    let mut b: [u8; 16] = sha.finalize()[..16].try_into().expect("SHA-1 has 20 bytes");
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<CoreIngest>()
}
