//! Helpers shared by integration tests (`mod support;` in a test file).

pub mod cli;
pub mod svg;
