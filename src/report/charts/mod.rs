//! Charts of a run or sweep directory, as SVG and PNG, drawn with plotters from the CSVs alone.
//!
//! Task: read whatever of `summary.csv`, `latency.csv`, `timeseries.csv`, `sweep_summary.csv` and
//! `tenants.csv` a directory holds and draw, for a person reading a design review:
//!
//! - `latency_cdf`: the call-latency CDF per policy, on a log time axis (`latency.csv`);
//! - `timeseries`: admitted tokens/s against the provider's limit, 429s/s, goodput and attempts in
//!   flight over time, one panel per quantity, a line per policy (`timeseries.csv`);
//! - `tradeoff`: cost against job and call latency p99, a labelled point per policy
//!   (`summary.csv`);
//! - `sweep_<metric>`: a metric against the one swept parameter, a line per policy with its 95%
//!   confidence band; `heatmap_<metric>`: with two swept parameters, a heatmap per policy on one
//!   shared colour scale (`sweep_summary.csv`);
//! - `tenants`: per-tenant job latency p99 and 429s, a bar per policy (`tenants.csv`);
//! - `frontier` (a tune's directory, drawn by [`plot_tune`] from the tune's results): every
//!   candidate evaluated, the frontier, the recommendation and the policies as written;
//! - `providers`: with several providers, each provider's answered attempts and 429s, a bar per
//!   policy (`providers.csv`); the time-series chart then also has each provider's goodput and
//!   429s over time.
//!
//! Every chart is drawn twice by the same code, once on plotters' SVG backend and once on its
//! bitmap backend (encoded as PNG here), with text laid out by ab_glyph from the DejaVu Sans font
//! embedded in the binary: no system font or library is needed, and the same CSVs give the same
//! bytes. Colours follow the policy order of the files, so a policy has one colour in every chart.
//! Labels and legends sit outside the plotted data (legends in a column on the right, point labels
//! placed where they overlap neither points nor each other).

use super::data::{self, DataError, Latency, Providers, Series, Summary, Sweep, Tenants};
use plotters::coord::Shift;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::{Path, PathBuf};

mod axis;
mod cdf;
mod frame;
mod frontier;
mod heatmap;
mod providers;
mod series;
mod style;
mod sweep_lines;
mod tenants;
mod tradeoff;

pub use axis::metric_label;
use axis::*;
use cdf::*;
use frame::*;
pub use frontier::plot_tune;
use heatmap::*;
use providers::*;
use series::*;
pub use style::palette_rgb;
use style::*;
use sweep_lines::*;
use tenants::*;
use tradeoff::*;

/// The subdirectory of a run directory that charts are written to.
pub const CHARTS_DIR: &str = "charts";

/// Why charts could not be drawn.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// The directory has none of the files charts are drawn from.
    #[error(
        "nothing to plot in {}: it has none of summary.csv, latency.csv, timeseries.csv, sweep_summary.csv, tenants.csv, providers.csv (`stampede run SCENARIO --out DIR` writes them)",
        dir.display()
    )]
    NoData { dir: PathBuf },
    /// The directory holds a tune's results, whose chart and report `stampede tune` writes.
    #[error(
        "{} holds a tune's results: `stampede tune` draws their chart (charts/frontier.svg) and writes report.html and report.md itself; run the tune again to redraw them",
        dir.display()
    )]
    TuneDir { dir: PathBuf },
    /// The path is not a directory.
    #[error("{} is not a directory", .0.display())]
    NotADirectory(PathBuf),
    /// A file exists but is malformed.
    #[error(transparent)]
    Data(#[from] DataError),
    /// The directory's files are not one run's set (see [`crate::io::verify_set`]).
    #[error("{0}")]
    Mixed(String),
    /// Writing a file failed.
    #[error("cannot write {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// plotters failed (a bug, not bad input).
    #[error("cannot draw {chart}: {message}")]
    Draw { chart: String, message: String },
}

impl PlotError {
    /// Whether the problem is the input or an unusable path (exit code 2) rather than a bug.
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            PlotError::Io { .. }
                | PlotError::NoData { .. }
                | PlotError::TuneDir { .. }
                | PlotError::NotADirectory(_)
                | PlotError::Data(_)
                | PlotError::Mixed(_)
        )
    }
}

/// One chart, rendered.
#[derive(Clone, Debug)]
pub struct Chart {
    /// The file stem: `latency_cdf`, `timeseries`, ...
    pub name: String,
    /// The title drawn on the chart.
    pub title: String,
    /// One or two sentences on how to read it.
    pub about: String,
    /// Pixel size (the SVG's too).
    pub size: (u32, u32),
    /// The SVG document.
    pub svg: String,
    /// The PNG file.
    pub png: Vec<u8>,
}

/// The charts of a directory, and why some that could have been drawn were not.
#[derive(Clone, Debug, Default)]
pub struct Charts {
    /// In a fixed order: CDF, time series, trade-off, sweep, tenants.
    pub charts: Vec<Chart>,
    /// Human-readable notes on charts skipped (e.g. a sweep of three parameters).
    pub notes: Vec<String>,
}

/// Renders every chart the files in `dir` allow, without writing anything.
pub fn render_dir(dir: &Path) -> Result<Charts, PlotError> {
    if !dir.is_dir() {
        return Err(PlotError::NotADirectory(dir.to_path_buf()));
    }
    crate::io::verify_set(dir).map_err(PlotError::Mixed)?;
    let inputs = Inputs {
        summary: data::read_summary(dir)?,
        latency: data::read_latency(dir)?,
        series: data::read_series(dir)?,
        sweep: data::read_sweep(dir)?,
        tenants: data::read_tenants(dir)?,
        providers: data::read_providers(dir)?,
        scenario: data::read_scenario_info(dir)?.name,
    };
    if inputs.summary.is_none()
        && inputs.latency.is_none()
        && inputs.series.is_none()
        && inputs.sweep.is_none()
        && inputs.tenants.is_none()
        && inputs.providers.is_none()
    {
        if dir.join(crate::tune::export::TUNE_CSV).exists() {
            return Err(PlotError::TuneDir {
                dir: dir.to_path_buf(),
            });
        }
        return Err(PlotError::NoData {
            dir: dir.to_path_buf(),
        });
    }
    inputs.render()
}

/// Renders the charts of `dir` and writes each as `charts/<name>.svg` and `charts/<name>.png`
/// (whole or not at all), removing chart files of an earlier plot that this one no longer draws.
/// Returns the charts and the paths written.
pub fn plot_dir(dir: &Path) -> Result<(Charts, Vec<PathBuf>), PlotError> {
    let charts = render_dir(dir)?;
    let out = dir.join(CHARTS_DIR);
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| PlotError::Io { path, source }
    };
    std::fs::create_dir_all(&out).map_err(io(&out))?;
    crate::io::remove_leftovers(&out);
    let mut written = Vec::new();
    for c in &charts.charts {
        for (ext, bytes) in [("svg", c.svg.as_bytes()), ("png", c.png.as_slice())] {
            let path = out.join(format!("{}.{ext}", c.name));
            crate::io::write_atomic(&path, bytes).map_err(io(&path))?;
            written.push(path);
        }
    }
    if let Ok(entries) = std::fs::read_dir(&out) {
        let mut stale: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                matches!(p.extension().and_then(|e| e.to_str()), Some("svg" | "png"))
                    && !written.contains(p)
            })
            .collect();
        stale.sort();
        for p in stale {
            let _ = std::fs::remove_file(p);
        }
    }
    Ok((charts, written))
}

type Drawn = Result<(), String>;

/// plotters' errors, as text.
trait OrMessage<T> {
    fn msg(self) -> Result<T, String>;
}

impl<T, E: std::fmt::Display> OrMessage<T> for Result<T, E> {
    fn msg(self) -> Result<T, String> {
        self.map_err(|e| e.to_string())
    }
}

/// A chart that can be drawn on any plotters backend.
trait Figure {
    fn size(&self) -> (u32, u32);
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn;
}

/// Draws `figure` as SVG and PNG.
fn render(name: &str, title: &str, about: &str, figure: &impl Figure) -> Result<Chart, PlotError> {
    ensure_font();
    let size = figure.size();
    let failed = |message: String| PlotError::Draw {
        chart: name.to_string(),
        message,
    };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        figure.draw(&root).map_err(failed)?;
        root.present().msg().map_err(failed)?;
    }
    let mut rgb = vec![255u8; size.0 as usize * size.1 as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, size).into_drawing_area();
        figure.draw(&root).map_err(failed)?;
        root.present().msg().map_err(failed)?;
    }
    let png = encode_png(&rgb, size).map_err(|e| failed(e.to_string()))?;
    Ok(Chart {
        name: name.to_string(),
        title: title.to_string(),
        about: about.to_string(),
        size,
        svg,
        png,
    })
}

fn encode_png(rgb: &[u8], (w, h): (u32, u32)) -> Result<Vec<u8>, png::EncodingError> {
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, w, h);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.set_compression(png::Compression::Fast);
        let mut writer = encoder.write_header()?;
        writer.write_image_data(rgb)?;
        writer.finish()?;
    }
    Ok(out)
}

struct Inputs {
    summary: Option<Summary>,
    latency: Option<Latency>,
    series: Option<Series>,
    sweep: Option<Sweep>,
    tenants: Option<Tenants>,
    providers: Option<Providers>,
    scenario: Option<String>,
}

impl Inputs {
    fn render(&self) -> Result<Charts, PlotError> {
        let mut names: Vec<String> = Vec::new();
        let mut add = |n: &str| {
            if !names.iter().any(|m| m == n) {
                names.push(n.to_string());
            }
        };
        for p in self.summary.iter().flat_map(|s| &s.policies) {
            add(&p.name);
        }
        for p in self.latency.iter().flat_map(|l| &l.policies) {
            add(&p.name);
        }
        for p in self.series.iter().flat_map(|s| &s.policies) {
            add(&p.name);
        }
        for p in self.sweep.iter().flat_map(|s| &s.policies) {
            add(p);
        }
        for p in self.tenants.iter().flat_map(|t| &t.policies) {
            add(p);
        }
        for p in self.providers.iter().flat_map(|t| &t.policies) {
            add(p);
        }
        let failed = self
            .summary
            .iter()
            .flat_map(|s| &s.policies)
            .filter(|p| p.get("jobs_failed") > 0.0)
            .map(|p| {
                (
                    p.name.clone(),
                    failed_note(p.get("jobs_failed"), p.get("jobs")),
                )
            })
            .collect();
        let palette = PolicyColors { names, failed };
        let scenario = self
            .scenario
            .clone()
            .or_else(|| self.summary.as_ref().and_then(|s| s.scenario.clone()));
        let titled = |what: &str| match &scenario {
            Some(s) => format!("{s}: {what}"),
            None => what.to_string(),
        };
        let mut out = Charts::default();
        if let Some(latency) = &self.latency {
            let fig = CdfFigure::new(latency, &palette);
            if fig.lines.iter().any(|l| !l.points.is_empty()) {
                let title = titled("call latency CDF (replication 0)");
                out.charts.push(render(
                    "latency_cdf",
                    &title,
                    "The fraction of calls that finished within a given time, per policy (replication 0; \
                     log time axis; a call's latency runs from its first request to its final outcome, \
                     retries and waits included). Further left is faster; a long flat tail is the retry storm.",
                    &fig.with_title(&title),
                )?);
            } else {
                out.notes
                    .push("latency.csv has no positive call latency: no CDF".into());
            }
        }
        if let Some(series) = &self.series {
            let title = titled("over time (replication 0)");
            // Replication 0 was stopped by a guard when every replication was.
            let stopped: Vec<String> = self
                .summary
                .iter()
                .flat_map(|s| &s.policies)
                .filter(|p| p.get("guard_tripped") >= 1.0)
                .map(|p| p.name.clone())
                .collect();
            let fig = SeriesFigure::new(series, &palette, &title, &stopped);
            if fig.panels.is_empty() {
                out.notes
                    .push("timeseries.csv has no rows: no time series chart".into());
            } else {
                let mut about =
                    "Per interval of replication 0: money spent so far (when calls cost \
                     anything), tokens the provider admitted per second against its limit \
                     (dashed), 429s per second, completed calls per second (goodput) and attempts \
                     in flight at the provider. Each line ends where its run ended; a dashed \
                     vertical line marks a run a guard stopped."
                        .to_string();
                if !series.providers.is_empty() {
                    about.push_str(
                        " The last panels take the providers one at a time: the calls each \
                         answered per second and the 429s it returned, so that a provider a \
                         fallback swamps shows its goodput collapse as its 429s soar.",
                    );
                }
                out.charts.push(render("timeseries", &title, &about, &fig)?);
            }
        }
        if let Some(summary) = &self.summary {
            let title = titled("cost against tail latency");
            let replications = summary.replications.unwrap_or(1);
            let about = if replications > 1 {
                format!(
                    "Each policy's mean cost against its job and call latency p99 over {replications} \
                     replications, with 95% confidence intervals. Down and left is better only among \
                     policies that finished their jobs: a policy that failed jobs is drawn as a red \
                     \u{2717} in a ring and labelled FAILED in red, because it stopped early and \
                     looks cheap and fast for that reason alone."
                )
            } else {
                "Each policy's cost against its job and call latency p99. Down and left is better \
                 only among policies that finished their jobs: a policy that failed jobs is drawn as \
                 a red \u{2717} in a ring and labelled FAILED in red, because it stopped early and \
                 looks cheap and fast for that reason alone."
                    .to_string()
            };
            out.charts.push(render(
                "tradeoff",
                &title,
                &about,
                &TradeoffFigure::new(summary, &palette, &title),
            )?);
        }
        if let Some(sweep) = &self.sweep {
            self.sweep_charts(sweep, &palette, &titled, &mut out)?;
        }
        if let Some(tenants) = &self.tenants {
            let title = titled("per tenant");
            let fig = TenantFigure::new(tenants, &palette, &title);
            if fig.metrics.is_empty() || tenants.rows.is_empty() {
                out.notes
                    .push("tenants.csv has no metric columns or rows: no tenant chart".into());
            } else {
                out.charts.push(render(
                    "tenants",
                    &title,
                    "Each tenant's metrics under each policy: who pays for whose burst. A panel \
                     whose values span more than 1.5 decades is on a log scale, where a 0 on the \
                     axis floor marks a policy with none.",
                    &fig,
                )?);
            }
        }
        if let Some(providers) = &self.providers {
            let title = titled("per provider");
            let fig = provider_figure(providers, &palette, &title);
            if fig.metrics.is_empty() || providers.rows.is_empty() {
                out.notes.push(
                    "providers.csv has no answered or rate_limited column, or no rows: no provider chart"
                        .into(),
                );
            } else {
                out.charts.push(render(
                    "providers",
                    &title,
                    "Each provider's answered attempts and 429s under each policy (means per run), \
                     both panels on one scale: a provider that a fallback swamps shows few answers \
                     and a tall bar of 429s. When the values span more than 1.5 decades the scale \
                     is logarithmic, where a 0 on the axis floor marks a policy with none.",
                    &fig,
                )?);
            }
        }
        Ok(out)
    }

    fn sweep_charts(
        &self,
        sweep: &Sweep,
        palette: &PolicyColors,
        titled: &dyn Fn(&str) -> String,
        out: &mut Charts,
    ) -> Result<(), PlotError> {
        let mut metrics: Vec<&str> = ["job_latency_p99_s", "cost_usd"]
            .into_iter()
            .filter(|m| sweep.metrics.iter().any(|n| n == m))
            .collect();
        if metrics.is_empty() {
            metrics.extend(sweep.metrics.first().map(String::as_str));
        }
        // A parameter with one value (a `--set` that fixes it) is not an axis.
        let varying: Vec<usize> = (0..sweep.params.len())
            .filter(|&i| ParamAxis::of(sweep, i).values.len() > 1)
            .collect();
        match varying.as_slice() {
            [] => out.notes.push(
                "sweep_summary.csv has no parameter that takes two values or more: no sweep chart"
                    .into(),
            ),
            &[a] => {
                let param = &sweep.params[a];
                for m in metrics {
                    let title = titled(&format!("{} against {param}", metric_label(m)));
                    out.charts.push(render(
                        &format!("sweep_{m}"),
                        &title,
                        &format!(
                            "{} at each value of {param}, a line per policy; the band is the 95% \
                             confidence interval over replications. A red \u{2717} in a ring marks \
                             a point where some runs failed jobs: its value is that of runs that \
                             stopped early, not a success.",
                            metric_label(m),
                        ),
                        &SweepFigure::new(sweep, a, m, palette, &title),
                    )?);
                }
            }
            &[a, b] => {
                for m in metrics {
                    let title = titled(&format!(
                        "{} by {} and {}",
                        metric_label(m),
                        sweep.params[a],
                        sweep.params[b]
                    ));
                    out.charts.push(render(
                        &format!("heatmap_{m}"),
                        &title,
                        &format!(
                            "{} at each grid point, one panel per policy, on one colour scale: \
                             compare panels cell by cell; every cell carries its value. A red cell \
                             marked ✗ is a point where some runs had failed jobs (✗ 50%: \
                             half of the jobs failed): it is left off the colour scale, since a run \
                             that fails stops early and would look cheap and fast.",
                            metric_label(m)
                        ),
                        &HeatmapFigure::new(sweep, (a, b), m, &title),
                    )?);
                }
            }
            more => out.notes.push(format!(
                "sweep_summary.csv sweeps {} parameters ({}): sweep charts are drawn for one or two",
                more.len(),
                more.iter()
                    .map(|&i| sweep.params[i].as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_ticks_are_round_and_cover_the_range() {
        let a = Axis::linear(0.0, 66_667.0, 4);
        assert_eq!(a.ticks, [0.0, 20_000.0, 40_000.0, 60_000.0, 80_000.0]);
        assert_eq!(a.label(40_000.0), "40k");
        let b = Axis::linear(0.0, 1.0, 5);
        assert_eq!(b.ticks, [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]);
        assert_eq!(b.label(0.4), "0.4");
    }

    /// A label is its tick's value, whatever the step: 2.5-steps get a decimal rather than being
    /// rounded to 2 and 8.
    #[test]
    fn linear_tick_labels_are_their_values() {
        let c = Axis::linear(0.0, 12.0, 5);
        assert_eq!(c.ticks, [0.0, 2.5, 5.0, 7.5, 10.0, 12.5]);
        let labels: Vec<String> = c.ticks.iter().map(|t| c.label(*t)).collect();
        assert_eq!(labels, ["0.0", "2.5", "5.0", "7.5", "10.0", "12.5"]);
        let value = |s: &str| -> f64 {
            if let Some(v) = s.strip_suffix('k') {
                v.parse::<f64>().unwrap() * 1e3
            } else if let Some(v) = s.strip_suffix('M') {
                v.parse::<f64>().unwrap() * 1e6
            } else {
                s.parse().unwrap()
            }
        };
        for hi in [
            0.0013, 0.012, 0.07, 0.3, 1.0, 1.2, 3.3, 7.0, 12.0, 13.0, 27.0, 120.0, 1_234.0,
            12_000.0, 66_667.0, 125_000.0, 1.2e6, 3.3e6, 1.3e7,
        ] {
            for target in [4, 5, 6, 8] {
                for lo in [0.0, hi * 0.3] {
                    let a = Axis::linear(lo, hi, target);
                    for t in &a.ticks {
                        let l = a.label(*t);
                        let v = value(&l);
                        assert!(
                            (v - t).abs() <= 1e-9 * t.abs().max(1e-12),
                            "[{lo}, {hi}] / {target}: tick {t} labelled {l}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn log_ticks_are_the_coarsest_series_with_four_ticks() {
        assert_eq!(log_ticks(0.5, 900.0), [1.0, 3.0, 10.0, 30.0, 100.0, 300.0]);
        assert_eq!(log_ticks(5.0, 40.0), [5.0, 7.0, 10.0, 15.0, 20.0, 30.0]);
        assert_eq!(
            log_ticks(0.01, 1e6),
            [0.01, 0.1, 1.0, 10.0, 100.0, 1e3, 1e4, 1e5, 1e6]
        );
    }

    #[test]
    fn failed_notes_count_jobs_and_say_when_they_are_means() {
        assert_eq!(failed_note(1.0, 1.0), "FAILED 1/1 jobs");
        assert_eq!(failed_note(3.0, 40.0), "FAILED 3/40 jobs");
        assert_eq!(failed_note(0.25, 1.0), "FAILED 0.25/1 jobs (mean)");
        assert_eq!(failed_note(2.0, f64::NAN), "FAILED 2 jobs");
    }

    #[test]
    fn metric_labels_carry_units() {
        assert_eq!(metric_label("job_latency_p99_s"), "job latency p99 (s)");
        assert_eq!(metric_label("cost_usd"), "cost (USD)");
        assert_eq!(metric_label("rate_limited"), "rate limited (429s)");
    }
}
