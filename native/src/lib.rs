//! The projector's hot path in Rust (see projections/native.py for the Python side).
//! Batches of stored rows in; ledger rows and the dirty state (msgpack, as the projection
//! store keeps it) out. No I/O here: what is not in memory is asked of the Python repo.

// mimalloc instead of glibc's malloc: the fold allocates and frees many small strings and
// vectors, and glibc's consolidation of freed chunks showed as ~15% of a rebuild's profile
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Keep freed pages for reuse instead of handing them back to the OS after 10 ms: a rebuild frees
/// each batch's work and allocates the next one's, and re-faulting the pages (the kernel zeroes
/// them) was 5-15% of its profile; memory is not returned below the peak. Set by a projector
/// only: ingest's peak grew by 15-20 MB with it (1M lines: 302 MB against 281-287 MB).
pub fn keep_freed_memory() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15; // mi_option_purge_delay in mimalloc v3's mimalloc.h
    ONCE.call_once(|| unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, -1) });
}

/// Hand the pages the last batch freed back to the allocator's common pool (kept committed) for
/// blocks of any size: a size class otherwise keeps its empty pages for itself, and the next
/// batch's other sizes commit more (a 1M-event replay's peak: 151.7 MB without, 139.1 MB with,
/// in the same time).
pub fn pool_freed_pages() {
    unsafe { libmimalloc_sys::mi_collect(false) };
}

pub mod away;
pub mod chain;
pub mod client;
pub mod compact;
pub mod eval;
pub mod event;
pub mod fair;
pub mod footprint;
pub mod freelancer;
pub mod hash;
pub mod hold;
pub mod ingest;
pub mod ledger;
pub mod model;
pub mod moves;
pub mod msgpack;
pub mod outcome;
pub mod packed;
pub mod projector;
#[cfg(feature = "python")]
mod pyscore;
pub mod ratio;
pub mod reason;
pub mod reconcile;
pub mod rules;
pub mod score;
pub mod slots;
pub mod tally;
pub mod time;
pub mod timeline;
pub mod toprated;

#[cfg(feature = "python")]
mod python {
    use pyo3::exceptions::PyRuntimeError;
    use pyo3::prelude::*;
    use pyo3::types::{PyBytes, PyList, PyTuple};

    use crate::msgpack::Writer;
    use crate::projector::{Error, Projector, Repo, Res, Table};

    /// The Python repo, called back for what is not in memory.
    struct PyRepo(PyObject);

    impl Repo for PyRepo {
        fn load(&mut self, table: Table, ids: &[String]) -> Res<Vec<(String, Vec<u8>)>> {
            let name = match table {
                Table::Contracts => "contracts",
                Table::Freelancers => "freelancers",
                Table::Clients => "clients",
            };
            Python::with_gil(|py| Ok(self.0.call_method1(py, "load", (name, ids.to_vec()))?.extract(py)?))
        }
        fn due_deadlines(&mut self, after: i64, upto: i64) -> Res<Vec<(i64, String)>> {
            Python::with_gil(|py| Ok(self.0.call_method1(py, "due_deadlines", (after, upto))?.extract(py)?))
        }
        fn freelancer_ids(&mut self) -> Res<Vec<String>> {
            Python::with_gil(|py| Ok(self.0.call_method0(py, "freelancer_ids")?.extract(py)?))
        }
    }

    fn to_py(e: Error) -> PyErr {
        match e.downcast::<PyErr>() {
            Ok(e) => *e,
            Err(e) => PyRuntimeError::new_err(e.to_string()),
        }
    }

    #[pyclass(module = "reputation._core")]
    struct CoreProjector(Projector);

    #[pymethods]
    impl CoreProjector {
        /// `repo` answers load(table, ids) -> [(id, msgpack)], due_deadlines(after, upto) and
        /// freelancer_ids(); `fresh`: the store is empty now (it is asked only for what the
        /// projector let go). `days`: the publication days (Policy.days) whose published JSS
        /// the Top Rated weeks read. `hold`: the most contracts held in memory (0: no limit;
        /// crate::hold), with a repo to load them back from.
        #[new]
        #[pyo3(signature = (position, clock, seq, repo=None, days=None, fresh=false, hold=0))]
        fn new(position: i64, clock: i64, seq: i64, repo: Option<PyObject>, days: Option<Vec<i64>>, fresh: bool, hold: usize) -> Self {
            let repo = repo.map(|r| Box::new(PyRepo(r)) as Box<dyn Repo + Send + Sync>);
            let mut days = days.unwrap_or_else(|| vec![1, 15]);
            days.sort_unstable();
            days.dedup();
            let mut p = Projector::new(position, clock, seq, repo, days, fresh);
            p.hold = hold;
            CoreProjector(p)
        }

        #[getter]
        fn position(&self) -> i64 {
            self.0.position
        }
        #[getter]
        fn clock(&self) -> i64 {
            self.0.clock
        }
        #[getter]
        fn seq(&self) -> i64 {
            self.0.seq
        }
        /// Contracts held in memory now (crate::hold).
        #[getter]
        fn held(&self) -> usize {
            self.0.held()
        }
        /// The heap its state takes now, counted part by part (crate::footprint): what a
        /// projector keeps, without the batches in flight or the allocator's free pages.
        #[getter]
        fn state_bytes(&self) -> usize {
            self.0.footprint().total()
        }

        /// Project a batch of (position, stored row) and return what it changes, encoded (a
        /// CoreBatch: its Python rows are built by whoever calls `rows()`, e.g. the thread
        /// that commits it while the core projects the next batch).
        fn run(&mut self, py: Python<'_>, rows: Vec<(i64, Bound<'_, PyBytes>)>) -> PyResult<CoreBatch> {
            let rows: Vec<(i64, &[u8])> = rows.iter().map(|(p, b)| (*p, b.as_bytes())).collect();
            let p = &mut self.0;
            // the fold and the encoding; other Python threads (reading the next batch,
            // committing the last) run meanwhile
            py.allow_threads(|| {
                p.run(&rows)?;
                let out = CoreBatch::of(p);
                p.dirty = Default::default();
                p.ledger.clear();
                p.new_deadlines.clear();
                Ok(out)
            })
            .map_err(to_py)
        }
    }

    /// A batch's changes: the dirty state (msgpack) and ledger bodies (JSON), encoded without
    /// the GIL, with the ids they are stored under.
    #[pyclass(module = "reputation._core")]
    struct CoreBatch {
        contracts: Vec<(String, String, String, Vec<u8>)>,
        freelancers: Vec<(String, Vec<u8>)>,
        clients: Vec<(String, Vec<u8>)>,
        ledger: Vec<(i64, String, String, String, i64, Vec<u8>)>,
        deadlines: Vec<(i64, String)>,
        #[pyo3(get)]
        meta: (i64, i64, i64),
    }

    #[pymethods]
    impl CoreBatch {
        /// (contracts [(id, freelancer, client, state)], freelancers [(id, state)], clients
        /// [(id, state)], ledger [(seq, change_id, freelancer_id, effective_at, position,
        /// json)], deadlines [(at, freelancer_id)] sorted and unique, (position, clock, seq));
        /// once (each encoded row is let go as soon as Python has its copy).
        fn rows<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
            let bytes = |b: Vec<u8>| PyBytes::new(py, &b);
            let contracts = PyList::empty(py);
            for (id, fid, kid, state) in std::mem::take(&mut self.contracts) {
                contracts.append((id, fid, kid, bytes(state)))?;
            }
            let freelancers = PyList::empty(py);
            for (id, state) in std::mem::take(&mut self.freelancers) {
                freelancers.append((id, bytes(state)))?;
            }
            let clients = PyList::empty(py);
            for (id, state) in std::mem::take(&mut self.clients) {
                clients.append((id, bytes(state)))?;
            }
            let ledger = PyList::empty(py);
            for (seq, change_id, fid, at, pos, body) in std::mem::take(&mut self.ledger) {
                ledger.append((seq, change_id, fid, at, pos, bytes(body)))?;
            }
            let deadlines = PyList::new(py, std::mem::take(&mut self.deadlines))?;
            PyTuple::new(
                py,
                [
                    contracts.into_any(),
                    freelancers.into_any(),
                    clients.into_any(),
                    ledger.into_any(),
                    deadlines.into_any(),
                    self.meta.into_pyobject(py)?.into_any(),
                ],
            )
        }
    }

    impl CoreBatch {
        fn of(p: &mut Projector) -> CoreBatch {
            p.new_deadlines.sort_unstable(); // as the store writes them: sorted, each once
            p.new_deadlines.dedup();
            let encode = |cap: usize, f: &dyn Fn(&mut Writer)| {
                let mut w = Writer(Vec::with_capacity(cap));
                f(&mut w);
                w.0
            };
            let contracts = p.dirty.contracts.iter().map(|&ci| {
                let c = &p.contracts[ci];
                (c.id.to_string(), c.freelancer.to_string(), c.client.to_string(), encode(256, &|w| c.encode(w)))
            });
            let freelancers = p
                .dirty
                .freelancers
                .iter()
                .map(|&fi| (p.freelancers[fi].id.to_string(), encode(256, &|w| p.freelancers[fi].encode(w, &p.contracts))));
            let clients =
                p.dirty.clients.iter().map(|&ki| (p.clients.list[ki].id.to_string(), encode(64, &|w| p.clients.list[ki].encode(w))));
            let ledger = std::mem::take(&mut p.ledger).into_iter().map(|s| {
                let body = s.to_json();
                (s.seq, s.change_id, s.freelancer_id, s.effective_at, s.position, body)
            });
            CoreBatch {
                contracts: contracts.collect(),
                freelancers: freelancers.collect(),
                clients: clients.collect(),
                ledger: ledger.collect(),
                deadlines: std::mem::take(&mut p.new_deadlines),
                meta: (p.position, p.clock, p.seq),
            }
        }
    }

    /// The Top Rated thresholds the core applies at `at` (jss, weeks, of, earnings in cents,
    /// months): the tests hold them equal to reputation/rulesets.py's, rule set by rule set.
    #[pyfunction]
    fn top_rated_at(at: i64) -> (i64, usize, i64, i64, i64) {
        let r = crate::toprated::rule_at(at);
        (r.jss, r.weeks, r.of, r.earnings, r.months)
    }

    /// The bytes the core's allocator holds now and at its peak (mimalloc's committed
    /// memory; freed pages are kept, so the two stay close): the core's state and batches,
    /// not the interpreter's objects.
    #[pyfunction]
    fn memory() -> (usize, usize) {
        let (mut now, mut peak) = (0, 0);
        let mut other = [0usize; 6];
        let [a, b, c, d, e, f] = &mut other;
        unsafe { libmimalloc_sys::mi_process_info(a, b, c, d, e, &mut now, &mut peak, f) };
        (now, peak)
    }

    /// The hash chain's links of (positions, stored bytes) following `previous`, as one run
    /// of 32-byte hashes (reputation/store/chain.py `hashes` is the reference); hashed
    /// without the GIL.
    #[pyfunction]
    fn chain_hashes<'py>(
        py: Python<'py>,
        previous: &[u8],
        positions: Vec<i64>,
        states: Vec<Bound<'py, PyBytes>>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let previous: [u8; 32] = previous.try_into().map_err(|_| PyRuntimeError::new_err("a chain hash is 32 bytes"))?;
        if positions.len() != states.len() {
            return Err(PyRuntimeError::new_err("one position per stored event"));
        }
        let rows: Vec<(i64, &[u8])> = positions.into_iter().zip(states.iter().map(|b| b.as_bytes())).collect();
        let out = py.allow_threads(|| crate::chain::hashes(previous, rows.into_iter()));
        Ok(PyBytes::new(py, &out))
    }

    #[pymodule]
    fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
        m.add_class::<CoreProjector>()?;
        m.add_class::<CoreBatch>()?;
        m.add_function(wrap_pyfunction!(top_rated_at, m)?)?;
        m.add_function(wrap_pyfunction!(memory, m)?)?;
        m.add_function(wrap_pyfunction!(chain_hashes, m)?)?;
        m.add_class::<crate::pyscore::CoreFreelancer>()?;
        crate::ingest::python::register(m)?;
        Ok(())
    }
}
