//! What a run measured.
//!
//! Task: record outcomes while the run goes, in memory that does not grow with the number of
//! events, and turn them into a flat, named set of numbers at the end. The names in [`Metrics`]
//! are a contract: they are the JSON keys, the CSV columns, and what checks refer to.

pub mod latency;
pub mod provider;
pub mod recorder;
pub mod summary;
pub mod timeseries;

pub use latency::LatencyStore;
pub use recorder::Recorder;
pub use summary::{Aggregate, MetricSet, Metrics, ProviderMetrics, TenantMetrics};
