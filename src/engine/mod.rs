//! The simulation core: a clock, an event queue, random streams and guards.
//!
//! Task: run any model that reacts to timed events, deterministically.
//! - Time is an integer count of nanoseconds ([`SimTime`]), never an accumulated float.
//! - Events at the same instant pop in the order they were scheduled ([`EventQueue`]).
//! - Every random draw comes from a stream keyed by what it is for ([`rng::stream`]), so two runs
//!   that differ only in how they react still see the same draws (common random numbers).
//! - A run that grows without bound stops at a stated [`Guards`] limit instead of exhausting memory.
//!
//! This module knows nothing about what the events mean.

pub mod queue;
pub mod rng;
pub mod sim;
pub mod time;

pub use queue::EventQueue;
pub use sim::{GuardTripped, Guards, Model, RunStats, run};
pub use time::SimTime;
