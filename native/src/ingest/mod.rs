//! The ingest half of the native core: per line, strict decode, canonical form and id digest
//! (line.rs); per batch, the rules of events.md against the latest state (check.rs, state.rs).
//! reputation/native_ingest.py drives it and hands anything it is not sure about to the
//! Python reference.

pub mod check;
pub mod line;
#[cfg(feature = "python")]
pub mod python;
pub mod state;
pub mod values;
