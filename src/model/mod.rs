//! The system being simulated: a rate-limited provider, a workload of agent jobs, and the client
//! policies under comparison. Built on [`crate::engine`], which knows none of these words.
//!
//! Layers point one way: engine <- model <- scenario <- run/sweep/check <- report <- main. So
//! nothing here imports `scenario`, `run`, `sweep`, `check` or `report`: the model says what a
//! valid system is (the spec constructors in [`config`] and its neighbours) and runs it; reading
//! files, checking results and writing them belong to the layers above. (`world`'s tests still
//! write their fixtures as scenario TOML through `crate::scenario::parse`.)

pub mod admission;
pub mod arrivals;
pub mod breaker;
pub mod budget;
pub mod client;
pub mod concurrency;
pub mod config;
pub mod conservation;
pub mod dist;
pub mod ids;
pub mod jobs;
pub mod ledger;
pub mod limiter;
pub mod provider;
pub mod retry;
pub mod router;
pub mod throttle;
pub mod workload;
pub mod world;

pub use config::{Arrival, Limit, Policy, Provider, Resource, Scenario, Source};
pub use world::simulate;
