//! Replays a dump of stored rows through the core and encodes each batch's changes as the
//! Python binding does, without Python (for profiling):
//! `cargo run --release --no-default-features --example replay -- rows.bin [hold]`, where
//! rows.bin holds (position: i64 LE, length: u32 LE, bytes) records. With `hold`, the core
//! holds at most that many contracts and loads the rest back from an in-memory store that
//! each batch's encoded state is committed to; the digest must not change. Then the core's
//! peak heap (mimalloc's committed memory, less what was committed before it started: the
//! dump) per contract, and the state's heap at the end by part (crate::footprint).
//! REPLAY_BATCH: rows per batch (default 20,000; `catch_up`'s full reads are 100,000).

use std::collections::{BTreeSet, HashMap};
use std::hash::Hasher;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use _core::projector::{Repo, Res, Table};

#[derive(Default)]
struct Stored {
    tables: [HashMap<String, Vec<u8>>; 3],
    deadlines: BTreeSet<(i64, String)>,
}

struct Shared(Arc<Mutex<Stored>>);

impl Repo for Shared {
    fn load(&mut self, table: Table, ids: &[String]) -> Res<Vec<(String, Vec<u8>)>> {
        let s = self.0.lock().unwrap();
        Ok(ids.iter().filter_map(|id| s.tables[table as usize].get(id).map(|v| (id.clone(), v.clone()))).collect())
    }
    fn due_deadlines(&mut self, after: i64, upto: i64) -> Res<Vec<(i64, String)>> {
        let s = self.0.lock().unwrap();
        Ok(s.deadlines.iter().filter(|d| after < d.0 && d.0 <= upto).cloned().collect())
    }
    fn freelancer_ids(&mut self) -> Res<Vec<String>> {
        Ok(self.0.lock().unwrap().tables[Table::Freelancers as usize].keys().cloned().collect())
    }
}

fn main() {
    let path = std::env::args().nth(1).expect("a rows dump");
    let hold: usize = std::env::args().nth(2).map_or(0, |h| h.parse().expect("a number of contracts"));
    let data = std::fs::read(path).expect("readable dump");
    let mut rows: Vec<(i64, &[u8])> = vec![];
    let mut at = 0;
    while at < data.len() {
        let pos = i64::from_le_bytes(data[at..at + 8].try_into().unwrap());
        let n = u32::from_le_bytes(data[at + 8..at + 12].try_into().unwrap()) as usize;
        rows.push((pos, &data[at + 12..at + 12 + n]));
        at += 12 + n;
    }
    let store = Arc::new(Mutex::new(Stored::default()));
    let (base, _) = committed();
    let start = Instant::now();
    let repo: Option<Box<dyn Repo + Send + Sync>> = if hold > 0 { Some(Box::new(Shared(store.clone()))) } else { None };
    let mut p = _core::projector::Projector::new(0, -(1 << 62), 0, repo, vec![1, 15], true);
    p.hold = hold;
    let (mut ledger, mut state, mut bytes, mut most) = (0, 0, 0, 0);
    let mut encoding = std::time::Duration::ZERO;
    let mut digest = std::collections::hash_map::DefaultHasher::new(); // to compare two builds' output
    let size: usize = std::env::var("REPLAY_BATCH").map_or(20_000, |s| s.parse().expect("a number of rows"));
    for batch in rows.chunks(size) {
        p.run(batch).expect("a valid log");
        most = most.max(p.contracts.len() - p.vacant_contracts.len());
        // the encoding lib.rs does for each batch (state msgpack, ledger JSON)
        let t = Instant::now();
        let mut s = store.lock().unwrap();
        for &ci in &p.dirty.contracts {
            let mut w = _core::msgpack::Writer(vec![]);
            p.contracts[ci].encode(&mut w);
            bytes += w.0.len();
            digest.write(&w.0);
            if hold > 0 {
                s.tables[Table::Contracts as usize].insert(p.contracts[ci].id.to_string(), w.0);
            }
        }
        for &fi in &p.dirty.freelancers {
            let mut w = _core::msgpack::Writer(vec![]);
            p.freelancers[fi].encode(&mut w, &p.contracts);
            bytes += w.0.len();
            digest.write(&w.0);
            if hold > 0 {
                s.tables[Table::Freelancers as usize].insert(p.freelancers[fi].id.to_string(), w.0);
            }
        }
        if hold > 0 {
            for &ki in &p.dirty.clients {
                let mut w = _core::msgpack::Writer(vec![]);
                p.clients.list[ki].encode(&mut w);
                s.tables[Table::Clients as usize].insert(p.clients.list[ki].id.to_string(), w.0);
            }
            s.deadlines.extend(p.new_deadlines.iter().cloned());
        }
        drop(s);
        for s in &p.ledger {
            let body = s.to_json();
            bytes += body.len();
            digest.write(&body);
        }
        encoding += t.elapsed();
        ledger += p.ledger.len();
        state += p.dirty.contracts.len() + p.dirty.freelancers.len();
        p.ledger.clear();
        p.dirty = Default::default();
        p.new_deadlines.clear();
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{} rows, {} contract slots (at most {most} held), {ledger} ledger entries, {state} state rows, {bytes} bytes encoded (digest {:016x}): {secs:.3} s ({:.0} rows/s; encoding {:.3} s)",
        rows.len(), p.contracts.len(), digest.finish(), rows.len() as f64 / secs, encoding.as_secs_f64()
    );
    let (_, peak) = committed();
    let held = p.contracts.len() - p.vacant_contracts.len();
    let parts = p.footprint();
    let total = parts.total();
    let away: usize = p.freelancers.iter().filter_map(|f| f.away.as_ref()).map(|a| a.ids.len()).sum();
    println!(
        "peak heap {:.1} MB ({} bytes per contract of {most} held at most); state at the end {:.1} MB, {} bytes per contract of {held} held ({} per contract of {}, {away} put away):",
        (peak - base) as f64 / 1e6,
        (peak - base) / most.max(1),
        total as f64 / 1e6,
        total / held.max(1),
        total / (held + away).max(1),
        held + away
    );
    for (name, n) in parts.parts {
        println!("  {name:<45} {:>8.1} MB {:>6} B/contract", n as f64 / 1e6, n / held.max(1));
    }
}

/// mimalloc's committed bytes (now, peak), as lib.rs `memory()` reads them.
fn committed() -> (usize, usize) {
    let (mut now, mut peak) = (0, 0);
    let [mut a, mut b, mut c, mut d, mut e, mut f] = [0usize; 6];
    unsafe { libmimalloc_sys::mi_process_info(&mut a, &mut b, &mut c, &mut d, &mut e, &mut now, &mut peak, &mut f) };
    (now, peak)
}
