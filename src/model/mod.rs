//! The system being simulated: a rate-limited provider, a workload of agent jobs, and the client
//! policies under comparison. Built on [`crate::engine`], which knows none of these words.

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
pub mod throttle;
pub mod workload;
pub mod world;

pub use config::{Arrival, Limit, Policy, Provider, Resource, Scenario, Source};
pub use world::simulate;
