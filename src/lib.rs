//! stampede: a deterministic discrete-event simulator of LLM clients, agent workloads and
//! rate-limited providers.
//!
//! Load a scenario with [`scenario::load`], run its policies side by side with [`run::run`], and
//! write or print the [`run::Report`] with [`report`]. Same scenario and seed, same bytes, on any
//! machine and with any number of threads.

pub mod calibrate;
pub mod check;
pub mod engine;
pub mod import;
pub mod init;
pub mod io;
pub mod metrics;
pub mod model;
pub mod report;
pub mod run;
pub mod scenario;
pub mod sweep;
pub mod tune;
