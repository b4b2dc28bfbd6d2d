//! Turning a run's results into what people read: the side-by-side table, charts and the
//! design-review report. (The machine-readable files are [`crate::run::export`]'s.)

pub mod charts;
mod comments;
pub mod data;
pub mod html;
mod provider_section;
mod reading;
mod sweep_reading;
mod sweep_section;
mod table;
mod text;
pub mod tune_report;

pub use table::table;
