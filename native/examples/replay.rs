//! Replays a dump of stored rows through the core and encodes each batch's changes as the
//! Python binding does, without Python (for profiling):
//! `cargo run --release --no-default-features --example replay -- rows.bin`, where rows.bin
//! holds (position: i64 LE, length: u32 LE, bytes) records.

use std::hash::Hasher;
use std::time::Instant;

fn main() {
    let path = std::env::args().nth(1).expect("a rows dump");
    let data = std::fs::read(path).expect("readable dump");
    let mut rows: Vec<(i64, &[u8])> = vec![];
    let mut at = 0;
    while at < data.len() {
        let pos = i64::from_le_bytes(data[at..at + 8].try_into().unwrap());
        let n = u32::from_le_bytes(data[at + 8..at + 12].try_into().unwrap()) as usize;
        rows.push((pos, &data[at + 12..at + 12 + n]));
        at += 12 + n;
    }
    let start = Instant::now();
    let mut p = _core::projector::Projector::new(0, -(1 << 62), 0, None, vec![1, 15]);
    let (mut ledger, mut state, mut bytes) = (0, 0, 0);
    let mut encoding = std::time::Duration::ZERO;
    let mut digest = std::collections::hash_map::DefaultHasher::new(); // to compare two builds' output
    for batch in rows.chunks(20_000) {
        p.run(batch).expect("a valid log");
        // the encoding lib.rs does for each batch (state msgpack, ledger JSON)
        let t = Instant::now();
        for &ci in &p.dirty.contracts {
            let mut w = _core::msgpack::Writer(vec![]);
            p.contracts[ci].encode(&mut w);
            bytes += w.0.len();
            digest.write(&w.0);
        }
        for &fi in &p.dirty.freelancers {
            let mut w = _core::msgpack::Writer(vec![]);
            p.freelancers[fi].encode(&mut w, &p.contracts);
            bytes += w.0.len();
            digest.write(&w.0);
        }
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
    println!("{} rows, {ledger} ledger entries, {state} state rows, {bytes} bytes encoded (digest {:016x}): {secs:.3} s ({:.0} rows/s; encoding {:.3} s)", rows.len(), digest.finish(), rows.len() as f64 / secs, encoding.as_secs_f64());
}
