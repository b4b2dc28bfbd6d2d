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
//! - `tenants`: per-tenant job latency p99 and 429s, a bar per policy (`tenants.csv`).
//!
//! Every chart is drawn twice by the same code, once on plotters' SVG backend and once on its
//! bitmap backend (encoded as PNG here), with text laid out by ab_glyph from the DejaVu Sans font
//! embedded in the binary: no system font or library is needed, and the same CSVs give the same
//! bytes. Colours follow the policy order of the files, so a policy has one colour in every chart.
//! Labels and legends sit outside the plotted data (legends in a column on the right, point labels
//! placed where they overlap neither points nor each other).

use super::data::{self, DataError, Latency, Series, Summary, Sweep, Tenants};
use plotters::coord::Shift;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::{Path, PathBuf};

/// The subdirectory of a run directory that charts are written to.
pub const CHARTS_DIR: &str = "charts";

/// Why charts could not be drawn.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// The directory has none of the files charts are drawn from.
    #[error(
        "nothing to plot in {}: it has none of summary.csv, latency.csv, timeseries.csv, sweep_summary.csv, tenants.csv (`stampede run SCENARIO --out DIR` writes them)",
        dir.display()
    )]
    NoData { dir: PathBuf },
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
        scenario: data::read_scenario_info(dir)?.name,
    };
    if inputs.summary.is_none()
        && inputs.latency.is_none()
        && inputs.series.is_none()
        && inputs.sweep.is_none()
        && inputs.tenants.is_none()
    {
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

/// Registers the embedded font under the name charts use, once per process.
fn ensure_font() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let bytes: &'static [u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
        if plotters::style::register_font(FONT, FontStyle::Normal, bytes).is_err() {
            panic!("the embedded DejaVu Sans font does not parse");
        }
    });
}

const FONT: &str = "sans-serif";
const TITLE_SIZE: f64 = 22.0;
const CAPTION_SIZE: f64 = 17.0;
const DESC_SIZE: f64 = 16.0;
const TICK_SIZE: f64 = 14.0;
const LEGEND_SIZE: f64 = 15.0;

/// Category10 (d3): distinguishable on white, familiar from other tools.
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];
/// The colour of the `i`-th policy, as RGB (for pages that show the same colours).
pub fn palette_rgb(i: usize) -> (u8, u8, u8) {
    let c = PALETTE[i % PALETTE.len()];
    (c.0, c.1, c.2)
}

const GRID: RGBColor = RGBColor(228, 228, 228);
const INK: RGBColor = RGBColor(30, 30, 30);
const MUTED: RGBColor = RGBColor(90, 90, 90);

fn font(size: f64) -> TextStyle<'static> {
    TextStyle::from((FONT, size).into_font()).color(&INK)
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

// ---------------------------------------------------------------------------------------------
// Axes, numbers, legends: the pieces every chart shares.

/// One axis in plot space: a linear range with its ticks. A log axis stores log10 of the data;
/// a categorical axis has categories at 0, 1, 2, ...
#[derive(Clone, Debug)]
struct Axis {
    lo: f64,
    hi: f64,
    ticks: Vec<f64>,
    kind: AxisKind,
    /// Decimals for linear tick labels.
    decimals: usize,
}

#[derive(Clone, Debug)]
enum AxisKind {
    Linear,
    Log,
    Categories(Vec<String>),
}

impl Axis {
    /// A linear axis covering `[lo, hi]` with round ticks at its ends (about `target` of them).
    fn linear(lo: f64, hi: f64, target: usize) -> Axis {
        let (lo, hi) = if hi - lo > 0.0 && (hi - lo).is_finite() {
            (lo, hi)
        } else if lo.is_finite() && lo != 0.0 {
            (lo - lo.abs() * 0.1, lo + lo.abs() * 0.1)
        } else {
            (0.0, 1.0)
        };
        let step = nice_step((hi - lo) / target.max(1) as f64);
        let lo_t = (lo / step + 1e-9).floor() * step;
        let hi_t = (hi / step - 1e-9).ceil() * step;
        let n = ((hi_t - lo_t) / step).round() as i64;
        let ticks = (0..=n).map(|i| clean(lo_t + i as f64 * step)).collect();
        let decimals = if step >= 1.0 {
            0
        } else {
            (-step.log10()).ceil().max(0.0) as usize + usize::from(is_half_step(step))
        };
        Axis {
            lo: lo_t,
            hi: hi_t,
            ticks,
            kind: AxisKind::Linear,
            decimals,
        }
    }

    /// A linear axis from zero to a little above `max`.
    fn from_zero(max: f64, target: usize) -> Axis {
        let max = if max.is_finite() && max > 0.0 {
            max * 1.04
        } else {
            1.0
        };
        Axis::linear(0.0, max, target)
    }

    /// A log axis covering `[lo, hi]` (both > 0), with 1-2-5-style ticks.
    fn log(lo: f64, hi: f64) -> Axis {
        let (lo, hi) = if hi > lo {
            (lo, hi)
        } else {
            (lo / 2.0, lo * 2.0)
        };
        let ticks = log_ticks(lo, hi);
        Axis {
            lo: lo.log10(),
            hi: hi.log10(),
            ticks: ticks.iter().map(|t| t.log10()).collect(),
            kind: AxisKind::Log,
            decimals: 0,
        }
    }

    /// Categories at 0, 1, ..., each labelled.
    fn categories(labels: Vec<String>) -> Axis {
        let n = labels.len().max(1) as f64;
        Axis {
            lo: -0.5,
            hi: n - 0.5,
            ticks: (0..labels.len()).map(|i| i as f64).collect(),
            kind: AxisKind::Categories(labels),
            decimals: 0,
        }
    }

    /// A data value in plot space.
    fn map(&self, v: f64) -> f64 {
        match self.kind {
            AxisKind::Log => v.log10(),
            _ => v,
        }
    }

    /// A tick label.
    fn label(&self, v: f64) -> String {
        match &self.kind {
            AxisKind::Linear => format_tick(v, self.decimals),
            AxisKind::Log => format_plain(clean(10f64.powf(v))),
            AxisKind::Categories(labels) => {
                let i = v.round();
                if (v - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < labels.len() {
                    labels[i as usize].clone()
                } else {
                    String::new()
                }
            }
        }
    }

    fn range(&self) -> Ticked {
        Ticked {
            lo: self.lo,
            hi: self.hi,
            ticks: self.ticks.clone(),
        }
    }
}

/// A linear f64 coordinate whose tick marks are exactly the given values.
struct Ticked {
    lo: f64,
    hi: f64,
    ticks: Vec<f64>,
}

impl Ranged for Ticked {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let span = self.hi - self.lo;
        if span <= 0.0 || !v.is_finite() {
            return (limit.0 + limit.1) / 2;
        }
        let f = (v - self.lo) / span;
        limit.0 + ((limit.1 - limit.0) as f64 * f).round() as i32
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.lo..self.hi
    }
}

fn is_half_step(step: f64) -> bool {
    let m = step / 10f64.powf(step.log10().floor());
    (m - 2.5).abs() < 1e-9
}

/// 1, 2, 2.5 or 5 times a power of ten, the smallest at least `raw`.
fn nice_step(raw: f64) -> f64 {
    if !(raw.is_finite() && raw > 0.0) {
        return 1.0;
    }
    let p = 10f64.powf(raw.log10().floor());
    for m in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if m * p >= raw * (1.0 - 1e-9) {
            return m * p;
        }
    }
    10.0 * p
}

/// Rounds away float noise (0.30000000000000004 to 0.3).
fn clean(v: f64) -> f64 {
    if v == 0.0 || !v.is_finite() {
        return v;
    }
    let digits = 12 - v.abs().log10().floor() as i32;
    let f = 10f64.powi(digits.clamp(-300, 300));
    (v * f).round() / f
}

/// Ticks for a log axis: the coarsest of 1-10, 1-3-10, 1-2-5, 1-1.5-2-3-5-7 per decade that
/// gives at least four ticks inside `[lo, hi]`, or the finest.
fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let sets: [&[f64]; 4] = [
        &[1.0],
        &[1.0, 3.0],
        &[1.0, 2.0, 5.0],
        &[1.0, 1.5, 2.0, 3.0, 5.0, 7.0],
    ];
    let mut last = Vec::new();
    for set in sets {
        let mut ticks = Vec::new();
        let mut decade = 10f64.powf(lo.log10().floor());
        while decade <= hi * 1.000001 {
            for m in set {
                let t = clean(m * decade);
                if t >= lo * 0.999999 && t <= hi * 1.000001 {
                    ticks.push(t);
                }
            }
            decade *= 10.0;
        }
        if ticks.len() >= 4 && ticks.len() <= 12 {
            return ticks;
        }
        if ticks.len() > 12 && !last.is_empty() {
            return last;
        }
        last = ticks;
    }
    last
}

/// `v` with `decimals` decimals, thousands as `k` and millions as `M` when round.
fn format_tick(v: f64, decimals: usize) -> String {
    let a = v.abs();
    if a >= 1e6 && (v / 1e5).fract().abs() < 1e-9 {
        format_plain(clean(v / 1e6)) + "M"
    } else if a >= 1e4 && (v / 100.0).fract().abs() < 1e-9 {
        format_plain(clean(v / 1e3)) + "k"
    } else {
        format!("{v:.decimals$}")
    }
}

/// A number without trailing zeros: 0.5, 2, 150, 1.25.
fn format_plain(v: f64) -> String {
    let s = format!("{v:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.into() }
}

/// A metric's value for a label: seconds, dollars, counts.
fn format_value(metric: &str, v: f64) -> String {
    if !v.is_finite() {
        return "n/a".into();
    }
    if metric.ends_with("_usd") {
        if v.abs() >= 100.0 {
            format!("${v:.0}")
        } else {
            format!("${v:.2}")
        }
    } else if metric.ends_with("_s") {
        if v.abs() >= 100.0 {
            format!("{v:.0} s")
        } else if v.abs() >= 10.0 {
            format!("{v:.1} s")
        } else {
            format!("{v:.2} s")
        }
    } else if v.abs() >= 1e4 {
        format!("{:.0}k", v / 1e3)
    } else if v.fract() == 0.0 || v.abs() >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// A metric's name for people, with its unit: `job_latency_p99_s` is "job latency p99 (s)".
pub fn metric_label(metric: &str) -> String {
    let (base, unit) = if let Some(b) = metric.strip_suffix("_usd") {
        (b, Some("USD"))
    } else if let Some(b) = metric.strip_suffix("_s") {
        (b, Some("s"))
    } else {
        (metric, None)
    };
    let base = match base {
        "cost" => "cost".to_string(),
        "rate_limited" => "rate limited (429s)".to_string(),
        _ => base.replace('_', " "),
    };
    match unit {
        Some(u) => format!("{base} ({u})"),
        None => base,
    }
}

/// How a legend entry is drawn.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Mark {
    Line,
    Dashed,
    Bar,
}

#[derive(Clone, Debug)]
struct LegendEntry {
    label: String,
    color: RGBColor,
    mark: Mark,
}

/// The width a legend column needs.
fn legend_width<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, entries: &[LegendEntry]) -> u32 {
    let style = font(LEGEND_SIZE);
    let widest = entries
        .iter()
        .map(|e| root.estimate_text_size(&e.label, &style).map_or(0, |s| s.0))
        .max()
        .unwrap_or(0);
    (widest + 60).clamp(120, 360)
}

/// Draws a legend column, entries from `top` down.
fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[LegendEntry],
    top: i32,
) -> Drawn {
    let style = font(LEGEND_SIZE).pos(Pos::new(HPos::Left, VPos::Center));
    for (i, e) in entries.iter().enumerate() {
        let y = top + i as i32 * 26;
        let x = 10;
        match e.mark {
            Mark::Line => {
                area.draw(&PathElement::new(
                    vec![(x, y), (x + 30, y)],
                    e.color.stroke_width(3),
                ))
                .msg()?;
            }
            Mark::Dashed => {
                for k in 0..3 {
                    let x0 = x + k * 12;
                    area.draw(&PathElement::new(
                        vec![(x0, y), (x0 + 7, y)],
                        e.color.stroke_width(2),
                    ))
                    .msg()?;
                }
            }
            Mark::Bar => {
                area.draw(&Rectangle::new(
                    [(x + 6, y - 7), (x + 24, y + 7)],
                    e.color.filled(),
                ))
                .msg()?;
            }
        }
        area.draw_text(&e.label, &style, (x + 40, y)).msg()?;
    }
    Ok(())
}

/// A plot area with axes, ticks, grid and axis titles, in plot space.
type Plot<'a, DB> = ChartContext<'a, DB, Cartesian2d<Ticked, Ticked>>;

struct Frame<'s> {
    caption: Option<&'s str>,
    x: &'s Axis,
    y: &'s Axis,
    x_desc: &'s str,
    y_desc: &'s str,
    /// Whether to leave room for and draw the x axis title.
    x_title: bool,
}

fn frame<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    f: &Frame,
) -> Result<Plot<'a, DB>, String> {
    let mut builder = ChartBuilder::on(area);
    builder
        .margin_top(8)
        .margin_right(18)
        .margin_left(6)
        .margin_bottom(4)
        .x_label_area_size(if f.x_title { 52 } else { 28 })
        .y_label_area_size(86);
    if let Some(c) = f.caption {
        builder.caption(c, font(CAPTION_SIZE));
    }
    let mut chart = builder.build_cartesian_2d(f.x.range(), f.y.range()).msg()?;
    let xf = |v: &f64| f.x.label(*v);
    let yf = |v: &f64| f.y.label(*v);
    let mut mesh = chart.configure_mesh();
    mesh.bold_line_style(GRID.stroke_width(1))
        .axis_style(MUTED.stroke_width(1))
        .label_style(font(TICK_SIZE))
        .axis_desc_style(font(DESC_SIZE))
        .x_label_formatter(&xf)
        .y_label_formatter(&yf)
        .y_desc(f.y_desc);
    if f.x_title {
        mesh.x_desc(f.x_desc);
    }
    if matches!(f.x.kind, AxisKind::Categories(_)) {
        mesh.disable_x_mesh();
    }
    mesh.draw().msg()?;
    Ok(chart)
}

/// A line of a line chart, in data space.
#[derive(Clone, Debug)]
struct Line {
    label: String,
    color: RGBColor,
    points: Vec<(f64, f64)>,
    dashed: bool,
    markers: bool,
    /// Per point: drawn as a cross (some runs there had failed jobs) rather than a dot.
    crosses: Vec<bool>,
    /// `(x, low, high)`: a confidence band drawn beneath the line.
    band: Vec<(f64, f64, f64)>,
}

impl Line {
    fn new(label: &str, color: RGBColor, points: Vec<(f64, f64)>) -> Line {
        Line {
            label: label.to_string(),
            color,
            points,
            dashed: false,
            markers: false,
            crosses: Vec::new(),
            band: Vec::new(),
        }
    }

    fn legend(&self) -> LegendEntry {
        LegendEntry {
            label: self.label.clone(),
            color: self.color,
            mark: if self.dashed {
                Mark::Dashed
            } else {
                Mark::Line
            },
        }
    }
}

/// Marks lines identical to an earlier one: "fixed (same as bucket_only)", so that a line hidden
/// under another is still accounted for.
fn mark_duplicates(lines: &mut [Line]) {
    for i in 1..lines.len() {
        if lines[i].points.is_empty() {
            continue;
        }
        if let Some(j) = (0..i).find(|&j| lines[j].points == lines[i].points) {
            let first = lines[j]
                .label
                .split(" (same as")
                .next()
                .unwrap_or("")
                .to_string();
            lines[i].label = format!("{} (same as {first})", lines[i].label);
        }
    }
}

fn draw_lines<DB: DrawingBackend>(
    chart: &mut Plot<'_, DB>,
    x: &Axis,
    y: &Axis,
    lines: &[Line],
) -> Drawn {
    let map = |&(a, b): &(f64, f64)| (x.map(a), y.map(b));
    for l in lines {
        if l.band.len() >= 2 {
            let mut poly: Vec<(f64, f64)> =
                l.band.iter().map(|&(a, _, hi)| map(&(a, hi))).collect();
            poly.extend(l.band.iter().rev().map(|&(a, lo, _)| map(&(a, lo))));
            chart
                .draw_series(std::iter::once(Polygon::new(
                    poly,
                    l.color.mix(0.15).filled(),
                )))
                .msg()?;
        }
    }
    for l in lines {
        let pts: Vec<(f64, f64)> = l.points.iter().map(map).collect();
        if l.dashed {
            chart
                .draw_series(DashedLineSeries::new(
                    pts.clone(),
                    8,
                    6,
                    l.color.stroke_width(2),
                ))
                .msg()?;
        } else {
            chart
                .draw_series(LineSeries::new(pts.clone(), l.color.stroke_width(2)))
                .msg()?;
        }
        if l.markers {
            for (i, &p) in pts.iter().enumerate() {
                if l.crosses.get(i).copied().unwrap_or(false) {
                    chart
                        .draw_series(std::iter::once(Cross::new(p, 6, l.color.stroke_width(3))))
                        .msg()?;
                } else {
                    chart
                        .draw_series(std::iter::once(Circle::new(p, 4, l.color.filled())))
                        .msg()?;
                }
            }
        }
    }
    Ok(())
}

/// Policy colours by first appearance across the files.
struct Palette {
    names: Vec<String>,
}

impl Palette {
    fn color(&self, name: &str) -> RGBColor {
        let i = self.names.iter().position(|n| n == name).unwrap_or(0);
        PALETTE[i % PALETTE.len()]
    }
}

// ---------------------------------------------------------------------------------------------
// The charts.

struct Inputs {
    summary: Option<Summary>,
    latency: Option<Latency>,
    series: Option<Series>,
    sweep: Option<Sweep>,
    tenants: Option<Tenants>,
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
        let palette = Palette { names };
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
            let fig = SeriesFigure::new(series, &palette, &title);
            if fig.panels.is_empty() {
                out.notes
                    .push("timeseries.csv has no rows: no time series chart".into());
            } else {
                out.charts.push(render(
                    "timeseries",
                    &title,
                    "Per interval of replication 0: tokens the provider admitted per second against \
                     its limit (dashed), 429s per second, completed calls per second (goodput) and \
                     attempts in flight at the provider.",
                    &fig,
                )?);
            }
        }
        if let Some(summary) = &self.summary {
            let title = titled("cost against tail latency");
            let replications = summary.replications.unwrap_or(1);
            let about = if replications > 1 {
                format!(
                    "Each policy's mean cost against its job and call latency p99 over {replications} \
                     replications, with 95% confidence intervals. Down and left is better; a cross \
                     marks a policy with failed jobs."
                )
            } else {
                "Each policy's cost against its job and call latency p99. Down and left is better; \
                 a cross marks a policy with failed jobs."
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
                    "Each tenant's metrics under each policy: who pays for whose burst.",
                    &fig,
                )?);
            }
        }
        Ok(out)
    }

    fn sweep_charts(
        &self,
        sweep: &Sweep,
        palette: &Palette,
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
                             confidence interval over replications, a cross a point where some \
                             runs had failed jobs.",
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
                             compare panels cell by cell. A red corner marks a point where some \
                             runs had failed jobs.",
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

/// Room for the title above the panels.
const TITLE_BAND: u32 = 44;

fn draw_title<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
) -> Result<DrawingArea<DB, Shift>, String> {
    root.fill(&WHITE).msg()?;
    let (w, _) = root.dim_in_pixel();
    let style = font(TITLE_SIZE).pos(Pos::new(HPos::Center, VPos::Center));
    root.draw_text(title, &style, (w as i32 / 2, TITLE_BAND as i32 / 2 + 2))
        .msg()?;
    let (_, rest) = root.split_vertically(TITLE_BAND);
    Ok(rest)
}

/// A note in small grey text at the bottom left.
fn draw_footnote<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, text: &str) -> Drawn {
    let (_, h) = root.dim_in_pixel();
    let style = TextStyle::from((FONT, 13.0).into_font())
        .color(&MUTED)
        .pos(Pos::new(HPos::Left, VPos::Bottom));
    root.draw_text(text, &style, (12, h as i32 - 6)).msg()
}

struct CdfFigure {
    title: String,
    lines: Vec<Line>,
    x: Axis,
    y: Axis,
}

impl CdfFigure {
    fn new(latency: &Latency, palette: &Palette) -> CdfFigure {
        let mut lines: Vec<Line> = latency
            .policies
            .iter()
            .map(|p| {
                let mut pts: Vec<(f64, f64)> = p
                    .call_s
                    .iter()
                    .zip(&p.quantile)
                    .filter(|(x, q)| x.is_finite() && **x > 0.0 && q.is_finite())
                    .map(|(x, q)| (*x, *q))
                    .collect();
                pts.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.total_cmp(&b.0)));
                let mut l = Line::new(&p.name, palette.color(&p.name), pts);
                if l.points.is_empty() {
                    l.label = format!("{} (no calls)", p.name);
                }
                l
            })
            .collect();
        mark_duplicates(&mut lines);
        let xs = lines.iter().flat_map(|l| l.points.iter().map(|p| p.0));
        let (lo, hi) = xs.fold((f64::INFINITY, 0.0f64), |(lo, hi), x| {
            (lo.min(x), hi.max(x))
        });
        let x = if lo.is_finite() {
            Axis::log(lo / 1.15, hi * 1.15)
        } else {
            Axis::log(0.1, 10.0)
        };
        CdfFigure {
            title: String::new(),
            lines,
            x,
            y: Axis::linear(0.0, 1.0, 5),
        }
    }

    fn with_title(mut self, title: &str) -> CdfFigure {
        self.title = title.to_string();
        self
    }
}

impl Figure for CdfFigure {
    fn size(&self) -> (u32, u32) {
        (1000, 600)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn {
        let body = draw_title(root, &self.title)?;
        let legend: Vec<LegendEntry> = self.lines.iter().map(Line::legend).collect();
        let lw = legend_width(root, &legend);
        let (w, _) = body.dim_in_pixel();
        let (plot, side) = body.split_horizontally(w - lw);
        let mut chart = frame(
            &plot,
            &Frame {
                caption: None,
                x: &self.x,
                y: &self.y,
                x_desc: "call latency (s, log scale)",
                y_desc: "fraction of calls finished within x",
                x_title: true,
            },
        )?;
        draw_lines(&mut chart, &self.x, &self.y, &self.lines)?;
        draw_legend(&side, &legend, 20)
    }
}

/// One panel of the time-series chart.
struct SeriesPanel {
    caption: String,
    y_desc: String,
    y: Axis,
    lines: Vec<Line>,
}

struct SeriesFigure {
    title: String,
    x: Axis,
    panels: Vec<SeriesPanel>,
    legend: Vec<LegendEntry>,
}

impl SeriesFigure {
    fn new(series: &Series, palette: &Palette, title: &str) -> SeriesFigure {
        let t_max = series
            .policies
            .iter()
            .flat_map(|p| p.columns.get("t_s").into_iter().flatten())
            .fold(0.0f64, |m, t| if t.is_finite() { m.max(*t) } else { m });
        let mut panels = Vec::new();
        let quantities: [(&str, &str, &str); 5] = [
            (
                "admitted_tokens_per_s",
                "tokens admitted per second",
                "tokens / s",
            ),
            ("rate_limited_per_s", "429s per second", "429s / s"),
            (
                "goodput_calls_per_s",
                "goodput: calls completed per second",
                "calls / s",
            ),
            (
                "in_flight",
                "attempts in flight at the provider",
                "attempts",
            ),
            ("client_queue", "calls waiting in the client", "calls"),
        ];
        let mut limit_drawn = false;
        for (column, caption, unit) in quantities {
            let mut lines: Vec<Line> = series
                .policies
                .iter()
                .map(|p| Line::new(&p.name, palette.color(&p.name), p.points(column)))
                .collect();
            let any = lines.iter().any(|l| !l.points.is_empty());
            let nonzero = lines.iter().any(|l| l.points.iter().any(|p| p.1 != 0.0));
            // The client queue is shown only when some policy queues.
            if !any || (column == "client_queue" && !nonzero) {
                continue;
            }
            mark_duplicates(&mut lines);
            if column == "admitted_tokens_per_s"
                && let Some(limit) = series
                    .policies
                    .iter()
                    .map(|p| p.points("limit_tokens_per_s"))
                    .find(|pts| !pts.is_empty())
            {
                let mut l = Line::new("provider limit", INK, limit);
                l.dashed = true;
                lines.push(l);
                limit_drawn = true;
            }
            let max = lines
                .iter()
                .flat_map(|l| l.points.iter().map(|p| p.1))
                .fold(0.0f64, f64::max);
            panels.push(SeriesPanel {
                caption: caption.to_string(),
                y_desc: unit.to_string(),
                y: Axis::from_zero(max, 4),
                lines,
            });
        }
        let mut legend: Vec<LegendEntry> = panels
            .first()
            .map(|p| {
                p.lines
                    .iter()
                    .filter(|l| !l.dashed)
                    .map(Line::legend)
                    .collect()
            })
            .unwrap_or_default();
        if limit_drawn {
            legend.push(LegendEntry {
                label: "provider limit".into(),
                color: INK,
                mark: Mark::Dashed,
            });
        }
        SeriesFigure {
            title: title.to_string(),
            x: Axis::linear(0.0, t_max.max(1.0), 12),
            panels,
            legend,
        }
    }
}

impl Figure for SeriesFigure {
    fn size(&self) -> (u32, u32) {
        (1100, TITLE_BAND + 30 + 215 * self.panels.len() as u32)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn {
        let body = draw_title(root, &self.title)?;
        let lw = legend_width(root, &self.legend);
        let (w, h) = body.dim_in_pixel();
        let (plots, side) = body.split_horizontally(w - lw);
        let n = self.panels.len() as u32;
        // The last panel also carries the x axis title.
        let panel_h = (h - 30) / n.max(1);
        let mut breaks: Vec<u32> = (1..n).map(|i| i * panel_h).collect();
        breaks.retain(|b| *b < h);
        let areas = plots.split_by_breakpoints(Vec::<u32>::new(), breaks);
        for (i, (panel, area)) in self.panels.iter().zip(&areas).enumerate() {
            let mut chart = frame(
                area,
                &Frame {
                    caption: Some(&panel.caption),
                    x: &self.x,
                    y: &panel.y,
                    x_desc: "time (s)",
                    y_desc: &panel.y_desc,
                    x_title: i + 1 == self.panels.len(),
                },
            )?;
            draw_lines(&mut chart, &self.x, &panel.y, &panel.lines)?;
        }
        draw_legend(&side, &self.legend, 40)
    }
}

/// A labelled point of the trade-off chart.
#[derive(Clone, Debug)]
struct Point {
    label: String,
    color: RGBColor,
    x: f64,
    y: f64,
    x_ci: f64,
    y_ci: f64,
    failed: bool,
}

struct TradeoffFigure {
    title: String,
    /// (x metric, points, x axis, y axis)
    panels: Vec<(String, Vec<Point>, Axis, Axis)>,
    any_failed: bool,
}

impl TradeoffFigure {
    fn new(summary: &Summary, palette: &Palette, title: &str) -> TradeoffFigure {
        let mut panels = Vec::new();
        let mut any_failed = false;
        for metric in ["job_latency_p99_s", "call_latency_p99_s"] {
            if !summary.metrics.iter().any(|m| m == metric) {
                continue;
            }
            let mut points: Vec<Point> = Vec::new();
            for p in &summary.policies {
                let (x, y) = (p.get(metric), p.get("cost_usd"));
                if !(x.is_finite() && y.is_finite()) {
                    continue;
                }
                let failed = p.get("jobs_failed") > 0.0;
                any_failed |= failed;
                // Policies on the same spot share one point and one label.
                if let Some(q) = points.iter_mut().find(|q| q.x == x && q.y == y) {
                    q.label = format!("{} = {}", q.label, p.name);
                    q.failed |= failed;
                    continue;
                }
                points.push(Point {
                    label: p.name.clone(),
                    color: palette.color(&p.name),
                    x,
                    y,
                    x_ci: p.ci(metric),
                    y_ci: p.ci("cost_usd"),
                    failed,
                });
            }
            let xmax = points.iter().map(|p| p.x + p.x_ci).fold(0.0, f64::max);
            let ymax = points.iter().map(|p| p.y + p.y_ci).fold(0.0, f64::max);
            // Room to the right and above for labels.
            let x = Axis::from_zero(xmax * 1.12, 5);
            let y = Axis::from_zero(ymax * 1.08, 5);
            panels.push((metric.to_string(), points, x, y));
        }
        TradeoffFigure {
            title: title.to_string(),
            panels,
            any_failed,
        }
    }
}

impl Figure for TradeoffFigure {
    fn size(&self) -> (u32, u32) {
        (1200, 620)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn {
        let body = draw_title(root, &self.title)?;
        let (w, h) = body.dim_in_pixel();
        let (body, _) = body.split_vertically(h - 26);
        let n = self.panels.len().max(1);
        let areas = body.split_evenly((1, n));
        let _ = w;
        for ((metric, points, x, y), area) in self.panels.iter().zip(&areas) {
            let mut chart = frame(
                area,
                &Frame {
                    caption: None,
                    x,
                    y,
                    x_desc: &metric_label(metric),
                    y_desc: "cost (USD)",
                    x_title: true,
                },
            )?;
            for p in points {
                if p.x_ci > 0.0 {
                    chart
                        .draw_series(std::iter::once(PathElement::new(
                            vec![(p.x - p.x_ci, p.y), (p.x + p.x_ci, p.y)],
                            p.color.mix(0.6).stroke_width(2),
                        )))
                        .msg()?;
                }
                if p.y_ci > 0.0 {
                    chart
                        .draw_series(std::iter::once(PathElement::new(
                            vec![(p.x, p.y - p.y_ci), (p.x, p.y + p.y_ci)],
                            p.color.mix(0.6).stroke_width(2),
                        )))
                        .msg()?;
                }
                if p.failed {
                    chart
                        .draw_series(std::iter::once(Cross::new(
                            (p.x, p.y),
                            7,
                            p.color.stroke_width(3),
                        )))
                        .msg()?;
                } else {
                    chart
                        .draw_series(std::iter::once(Circle::new(
                            (p.x, p.y),
                            7,
                            p.color.filled(),
                        )))
                        .msg()?;
                }
            }
            place_labels(root, &chart, points)?;
        }
        let note = if self.any_failed {
            "dot: every job finished; cross: some jobs failed (mean jobs_failed > 0)"
        } else {
            "every policy finished all its jobs"
        };
        draw_footnote(root, note)
    }
}

/// Labels each point where the label overlaps no point, no other label and stays inside the
/// plot: right of the point, else left, above, below, or diagonally.
fn place_labels<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    chart: &Plot<'_, DB>,
    points: &[Point],
) -> Drawn {
    let style = font(LEGEND_SIZE);
    let (xr, yr) = chart.plotting_area().get_pixel_range();
    let pixel: Vec<(i32, i32)> = points
        .iter()
        .map(|p| chart.backend_coord(&(p.x, p.y)))
        .collect();
    let mut taken: Vec<(i32, i32, i32, i32)> = pixel
        .iter()
        .map(|&(x, y)| (x - 9, y - 9, x + 9, y + 9))
        .collect();
    // Error bars are taken too.
    for p in points {
        if p.x_ci > 0.0 {
            let (l, y) = chart.backend_coord(&(p.x - p.x_ci, p.y));
            let (r, _) = chart.backend_coord(&(p.x + p.x_ci, p.y));
            taken.push((l, y - 2, r, y + 2));
        }
        if p.y_ci > 0.0 {
            let (x, t) = chart.backend_coord(&(p.x, p.y + p.y_ci));
            let (_, b) = chart.backend_coord(&(p.x, p.y - p.y_ci));
            taken.push((x - 2, t, x + 2, b));
        }
    }
    // Place the crowded ones first: by x, then y.
    let mut order: Vec<usize> = (0..points.len()).collect();
    order.sort_by(|&a, &b| pixel[a].cmp(&pixel[b]));
    for i in order {
        let p = &points[i];
        let (w, h) = root.estimate_text_size(&p.label, &style).msg()?;
        let (w, h) = (w as i32, h as i32);
        let (px, py) = pixel[i];
        let candidates = [
            (px + 12, py - h / 2),
            (px - 12 - w, py - h / 2),
            (px - w / 2, py - 12 - h),
            (px - w / 2, py + 12),
            (px + 10, py - 10 - h),
            (px + 10, py + 10),
            (px - 10 - w, py - 10 - h),
            (px - 10 - w, py + 10),
            (px + 12, py - 2 * h),
            (px + 12, py + h),
            (px - 12 - w, py - 2 * h),
            (px - 12 - w, py + h),
        ];
        let fits = |&(x, y): &(i32, i32)| {
            let b = (x - 2, y - 1, x + w + 2, y + h + 1);
            b.0 >= xr.start
                && b.2 <= xr.end
                && b.1 >= yr.start
                && b.3 <= yr.end
                && taken
                    .iter()
                    .all(|t| b.2 <= t.0 || b.0 >= t.2 || b.3 <= t.1 || b.1 >= t.3)
        };
        let (x, y) = candidates
            .iter()
            .copied()
            .find(fits)
            .unwrap_or((px + 12, py - h / 2));
        taken.push((x - 2, y - 1, x + w + 2, y + h + 1));
        root.draw_text(&p.label, &style.color(&p.color.mix(1.0)), (x, y))
            .msg()?;
    }
    Ok(())
}

/// Sweep parameter values: numeric when every value parses, else categories in first-appearance
/// order.
struct ParamAxis {
    values: Vec<String>,
    numeric: bool,
}

impl ParamAxis {
    fn of(sweep: &Sweep, param: usize) -> ParamAxis {
        let mut values: Vec<String> = Vec::new();
        for p in &sweep.points {
            if !values.contains(&p.params[param]) {
                values.push(p.params[param].clone());
            }
        }
        let numeric = !values.is_empty()
            && values
                .iter()
                .all(|v| v.parse::<f64>().is_ok_and(f64::is_finite));
        if numeric {
            values.sort_by(|a, b| {
                a.parse::<f64>()
                    .unwrap_or(0.0)
                    .total_cmp(&b.parse::<f64>().unwrap_or(0.0))
            });
        }
        ParamAxis { values, numeric }
    }

    /// The plot position of a value.
    fn position(&self, value: &str) -> f64 {
        if self.numeric {
            value.parse().unwrap_or(f64::NAN)
        } else {
            self.values
                .iter()
                .position(|v| v == value)
                .map_or(f64::NAN, |i| i as f64)
        }
    }

    fn index(&self, value: &str) -> Option<usize> {
        self.values.iter().position(|v| v == value)
    }
}

struct SweepFigure {
    title: String,
    x_desc: String,
    y_desc: String,
    x: Axis,
    y: Axis,
    lines: Vec<Line>,
}

impl SweepFigure {
    fn new(
        sweep: &Sweep,
        axis: usize,
        metric: &str,
        palette: &Palette,
        title: &str,
    ) -> SweepFigure {
        let param = ParamAxis::of(sweep, axis);
        let mut lines = Vec::new();
        for (pi, name) in sweep.policies.iter().enumerate() {
            let mut pts: Vec<(f64, f64, f64, bool)> = sweep
                .points
                .iter()
                .filter(|p| p.policy == pi)
                .filter_map(|p| {
                    let x = param.position(&p.params[axis]);
                    let y = p.mean.get(metric).copied().unwrap_or(f64::NAN);
                    let ci = p
                        .ci95
                        .get(metric)
                        .copied()
                        .filter(|c| c.is_finite())
                        .unwrap_or(0.0);
                    let failed = p.mean.get("jobs_failed").is_some_and(|f| *f > 0.0);
                    (x.is_finite() && y.is_finite()).then_some((x, y, ci, failed))
                })
                .collect();
            pts.sort_by(|a, b| a.0.total_cmp(&b.0));
            pts.dedup_by(|a, b| a.0 == b.0);
            let mut l = Line::new(
                name,
                palette.color(name),
                pts.iter().map(|p| (p.0, p.1)).collect(),
            );
            l.markers = true;
            l.crosses = pts.iter().map(|p| p.3).collect();
            if pts.iter().any(|p| p.2 > 0.0) {
                l.band = pts
                    .iter()
                    .map(|p| (p.0, (p.1 - p.2).max(0.0), p.1 + p.2))
                    .collect();
            }
            lines.push(l);
        }
        mark_duplicates(&mut lines);
        let ymax = lines
            .iter()
            .flat_map(|l| {
                l.points
                    .iter()
                    .map(|p| p.1)
                    .chain(l.band.iter().map(|b| b.2))
            })
            .fold(0.0f64, f64::max);
        let x = if param.numeric {
            let xs: Vec<f64> = param.values.iter().filter_map(|v| v.parse().ok()).collect();
            let lo = xs.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let mut a = Axis::linear(lo, hi, 8);
            // Start at the first value rather than a round number far below it.
            if lo > a.lo && lo.is_finite() {
                let pad = (hi - lo).max(lo.abs() * 0.1) * 0.03;
                a.lo = lo - pad;
                a.hi = hi + pad;
                a.ticks.retain(|t| *t >= a.lo - 1e-9 && *t <= a.hi + 1e-9);
            }
            a
        } else {
            Axis::categories(param.values.clone())
        };
        SweepFigure {
            title: title.to_string(),
            x_desc: sweep.params[axis].clone(),
            y_desc: metric_label(metric),
            x,
            y: Axis::from_zero(ymax, 6),
            lines,
        }
    }
}

impl Figure for SweepFigure {
    fn size(&self) -> (u32, u32) {
        (1000, 620)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn {
        let body = draw_title(root, &self.title)?;
        let legend: Vec<LegendEntry> = self.lines.iter().map(Line::legend).collect();
        let lw = legend_width(root, &legend);
        let (w, h) = body.dim_in_pixel();
        // Room for the footnote below the x axis title.
        let (body, _) = body.split_vertically(h - 24);
        let (plot, side) = body.split_horizontally(w - lw);
        let mut chart = frame(
            &plot,
            &Frame {
                caption: None,
                x: &self.x,
                y: &self.y,
                x_desc: &self.x_desc,
                y_desc: &self.y_desc,
                x_title: true,
            },
        )?;
        draw_lines(&mut chart, &self.x, &self.y, &self.lines)?;
        draw_legend(&side, &legend, 20)?;
        let mut notes = Vec::new();
        if self.lines.iter().any(|l| !l.band.is_empty()) {
            notes.push("bands: 95% confidence intervals over replications");
        }
        if self.lines.iter().any(|l| l.crosses.contains(&true)) {
            notes.push("cross: some runs at that point had failed jobs (mean jobs_failed > 0)");
        }
        if !notes.is_empty() {
            draw_footnote(root, &notes.join("; "))?;
        }
        Ok(())
    }
}

/// Viridis, sampled at nine points and interpolated.
fn viridis(t: f64) -> RGBColor {
    const STOPS: [(u8, u8, u8); 9] = [
        (68, 1, 84),
        (71, 44, 122),
        (59, 81, 139),
        (44, 113, 142),
        (33, 144, 141),
        (39, 173, 129),
        (92, 200, 99),
        (170, 220, 50),
        (253, 231, 37),
    ];
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let s = t * (STOPS.len() - 1) as f64;
    let i = (s.floor() as usize).min(STOPS.len() - 2);
    let f = s - i as f64;
    let lerp = |a: u8, b: u8| (a as f64 + (b as f64 - a as f64) * f).round() as u8;
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    RGBColor(lerp(a.0, b.0), lerp(a.1, b.1), lerp(a.2, b.2))
}

struct HeatmapFigure {
    title: String,
    metric: String,
    x_desc: String,
    y_desc: String,
    x: ParamAxis,
    y: ParamAxis,
    /// Per policy: its name and the grid of values, `grid[yi][xi]`.
    panels: Vec<(String, Vec<Vec<f64>>)>,
    /// Per policy, per cell: whether some runs had failed jobs.
    failed: Vec<Vec<Vec<bool>>>,
    lo: f64,
    hi: f64,
    /// A log colour scale, for values spanning more than a factor of 20.
    log: bool,
}

impl HeatmapFigure {
    fn new(sweep: &Sweep, (a, b): (usize, usize), metric: &str, title: &str) -> HeatmapFigure {
        let x = ParamAxis::of(sweep, a);
        let y = ParamAxis::of(sweep, b);
        let mut panels = Vec::new();
        let mut failed = Vec::new();
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for (pi, name) in sweep.policies.iter().enumerate() {
            let mut grid = vec![vec![f64::NAN; x.values.len()]; y.values.len()];
            let mut fails = vec![vec![false; x.values.len()]; y.values.len()];
            for p in sweep.points.iter().filter(|p| p.policy == pi) {
                if let (Some(xi), Some(yi)) = (x.index(&p.params[a]), y.index(&p.params[b])) {
                    let v = p.mean.get(metric).copied().unwrap_or(f64::NAN);
                    if grid[yi][xi].is_nan() {
                        grid[yi][xi] = v;
                        fails[yi][xi] = p.mean.get("jobs_failed").is_some_and(|f| *f > 0.0);
                    }
                    if v.is_finite() {
                        lo = lo.min(v);
                        hi = hi.max(v);
                    }
                }
            }
            panels.push((name.clone(), grid));
            failed.push(fails);
        }
        if !lo.is_finite() {
            (lo, hi) = (0.0, 1.0);
        }
        let log = lo > 0.0 && hi / lo >= 20.0;
        HeatmapFigure {
            title: title.to_string(),
            metric: metric.to_string(),
            x_desc: sweep.params[a].clone(),
            y_desc: sweep.params[b].clone(),
            x,
            y,
            panels,
            failed,
            lo,
            hi,
            log,
        }
    }

    /// Where `v` falls on the colour scale, 0 to 1.
    fn fraction(&self, v: f64) -> f64 {
        if self.hi <= self.lo {
            0.5
        } else if self.log {
            (v.ln() - self.lo.ln()) / (self.hi.ln() - self.lo.ln())
        } else {
            (v - self.lo) / (self.hi - self.lo)
        }
    }

    fn columns(&self) -> usize {
        let n = self.panels.len().max(1);
        ((n as f64).sqrt().ceil() as usize).min(3)
    }

    fn rows(&self) -> usize {
        self.panels.len().max(1).div_ceil(self.columns())
    }
}

impl Figure for HeatmapFigure {
    fn size(&self) -> (u32, u32) {
        (1100, TITLE_BAND + 380 * self.rows() as u32 + 20)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn {
        let body = draw_title(root, &self.title)?;
        let (w, h) = body.dim_in_pixel();
        let h = h - 20;
        let (body, _) = body.split_vertically(h);
        let (grid_area, bar_area) = body.split_horizontally(w - 150);
        let areas = grid_area.split_evenly((self.rows(), self.columns()));
        let xa = Axis::categories(self.x.values.clone());
        let ya = Axis::categories(self.y.values.clone());
        let cell_style = font(13.0).pos(Pos::new(HPos::Center, VPos::Center));
        let mut any_failed = false;
        for (((name, grid), fails), area) in self.panels.iter().zip(&self.failed).zip(&areas) {
            let mut chart = frame(
                area,
                &Frame {
                    caption: Some(name),
                    x: &xa,
                    y: &ya,
                    x_desc: &self.x_desc,
                    y_desc: &self.y_desc,
                    x_title: true,
                },
            )?;
            for (yi, row) in grid.iter().enumerate() {
                for (xi, v) in row.iter().enumerate() {
                    let color = if v.is_finite() {
                        viridis(self.fraction(*v))
                    } else {
                        RGBColor(200, 200, 200)
                    };
                    let (x, y) = (xi as f64, yi as f64);
                    chart
                        .draw_series(std::iter::once(Rectangle::new(
                            [(x - 0.5, y - 0.5), (x + 0.5, y + 0.5)],
                            color.filled(),
                        )))
                        .msg()?;
                    let text = format_value(&self.metric, *v);
                    let (l, t) = chart.backend_coord(&(x - 0.5, y + 0.5));
                    let (r, b) = chart.backend_coord(&(x + 0.5, y - 0.5));
                    if fails[yi][xi] {
                        any_failed = true;
                        let k = ((r - l).min(b - t) / 4).clamp(5, 12);
                        root.draw(&Polygon::new(
                            vec![(r - k, t), (r, t), (r, t + k)],
                            RGBColor(214, 39, 40).filled(),
                        ))
                        .msg()?;
                    }
                    let (tw, th) = root.estimate_text_size(&text, &cell_style).msg()?;
                    if (r - l) as u32 > tw + 4 && (b - t) as u32 > th + 2 {
                        let lum = 0.299 * color.0 as f64
                            + 0.587 * color.1 as f64
                            + 0.114 * color.2 as f64;
                        let ink = if lum < 140.0 { WHITE } else { BLACK };
                        root.draw_text(&text, &cell_style.color(&ink), ((l + r) / 2, (t + b) / 2))
                            .msg()?;
                    }
                }
            }
        }
        // The colour bar.
        let (bw, _) = bar_area.dim_in_pixel();
        let _ = bw;
        let top = 40;
        let bottom = h as i32 - 70;
        let x0 = 20;
        let steps = 100;
        for i in 0..steps {
            let y0 = bottom - (bottom - top) * i / steps;
            let y1 = bottom - (bottom - top) * (i + 1) / steps;
            bar_area
                .draw(&Rectangle::new(
                    [(x0, y1), (x0 + 22, y0)],
                    viridis(i as f64 / (steps - 1) as f64).filled(),
                ))
                .msg()?;
        }
        let axis = Axis::linear(self.lo, self.hi, 5);
        let ticks = if self.log {
            log_ticks(self.lo, self.hi)
        } else {
            axis.ticks.clone()
        };
        let label = font(TICK_SIZE).pos(Pos::new(HPos::Left, VPos::Center));
        for t in &ticks {
            if *t < self.lo - 1e-9 || *t > self.hi + 1e-9 {
                continue;
            }
            let f = self.fraction(*t);
            let y = bottom - ((bottom - top) as f64 * f).round() as i32;
            bar_area
                .draw(&PathElement::new(
                    vec![(x0 + 22, y), (x0 + 27, y)],
                    INK.stroke_width(1),
                ))
                .msg()?;
            let text = if self.log {
                format_plain(*t)
            } else {
                axis.label(*t)
            };
            bar_area.draw_text(&text, &label, (x0 + 30, y)).msg()?;
        }
        let caption = font(TICK_SIZE).pos(Pos::new(HPos::Left, VPos::Top));
        bar_area
            .draw_text(&metric_label(&self.metric), &caption, (4, bottom + 12))
            .msg()?;
        if self.log {
            bar_area
                .draw_text("(log scale)", &caption, (4, bottom + 32))
                .msg()?;
        }
        if any_failed {
            draw_footnote(
                root,
                "red corner: some runs at that point had failed jobs (mean jobs_failed > 0)",
            )?;
        }
        Ok(())
    }
}

/// At most this many tenant groups of bars; past it, the tenants with the highest values are
/// shown one by one and the others as their mean.
const MAX_TENANT_GROUPS: usize = 10;

struct TenantFigure {
    title: String,
    metrics: Vec<String>,
    policies: Vec<String>,
    colors: Vec<RGBColor>,
    /// The groups of bars: a tenant, or "other N (mean)".
    categories: Vec<String>,
    /// `values[metric][policy][category]`.
    values: Vec<Vec<Vec<f64>>>,
    footnote: Option<String>,
}

impl TenantFigure {
    fn new(tenants: &Tenants, palette: &Palette, title: &str) -> TenantFigure {
        let mut metrics: Vec<String> = ["job_latency_p99_s", "rate_limited"]
            .into_iter()
            .filter(|m| tenants.metrics.iter().any(|n| n == m))
            .map(str::to_string)
            .collect();
        if metrics.is_empty() {
            metrics.extend(tenants.metrics.first().cloned());
        }
        let np = tenants.policies.len();
        let nt = tenants.tenants.len();
        // Each category is a list of tenant indices (averaged when more than one).
        let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
        let mut footnote = None;
        if nt <= MAX_TENANT_GROUPS {
            groups.extend((0..nt).map(|t| (tenants.tenants[t].clone(), vec![t])));
        } else if let Some(first) = metrics.first() {
            let worst = |t: usize| {
                (0..np)
                    .map(|p| tenants.get(p, t, first))
                    .filter(|v| v.is_finite())
                    .fold(f64::NEG_INFINITY, f64::max)
            };
            let mut order: Vec<usize> = (0..nt).collect();
            order.sort_by(|&a, &b| worst(b).total_cmp(&worst(a)).then(a.cmp(&b)));
            let shown = MAX_TENANT_GROUPS - 1;
            groups.extend(
                order[..shown]
                    .iter()
                    .map(|&t| (tenants.tenants[t].clone(), vec![t])),
            );
            let rest: Vec<usize> = order[shown..].to_vec();
            groups.push((format!("mean of {}", rest.len()), rest));
            footnote = Some(format!(
                "the {shown} of {nt} tenants with the highest {} under any policy, then the mean of the others",
                metric_label(first)
            ));
        }
        let values = metrics
            .iter()
            .map(|m| {
                (0..np)
                    .map(|p| {
                        groups
                            .iter()
                            .map(|(_, ts)| {
                                let vs: Vec<f64> = ts
                                    .iter()
                                    .map(|&t| tenants.get(p, t, m))
                                    .filter(|v| v.is_finite())
                                    .collect();
                                if vs.is_empty() {
                                    f64::NAN
                                } else {
                                    vs.iter().sum::<f64>() / vs.len() as f64
                                }
                            })
                            .collect()
                    })
                    .collect()
            })
            .collect();
        TenantFigure {
            title: title.to_string(),
            metrics,
            policies: tenants.policies.clone(),
            colors: tenants.policies.iter().map(|p| palette.color(p)).collect(),
            categories: groups.into_iter().map(|(name, _)| name).collect(),
            values,
            footnote,
        }
    }
}

impl Figure for TenantFigure {
    fn size(&self) -> (u32, u32) {
        (1000, TITLE_BAND + 26 + 290 * self.metrics.len() as u32)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn {
        let body = draw_title(root, &self.title)?;
        let legend: Vec<LegendEntry> = self
            .policies
            .iter()
            .zip(&self.colors)
            .map(|(p, c)| LegendEntry {
                label: p.clone(),
                color: *c,
                mark: Mark::Bar,
            })
            .collect();
        let lw = legend_width(root, &legend);
        let (w, h) = body.dim_in_pixel();
        let (body, _) = body.split_vertically(h - 26);
        let (plots, side) = body.split_horizontally(w - lw);
        let areas = plots.split_evenly((self.metrics.len().max(1), 1));
        let x = Axis::categories(self.categories.clone());
        let np = self.policies.len().max(1);
        let width = 0.8 / np as f64;
        for ((metric, values), area) in self.metrics.iter().zip(&self.values).zip(&areas) {
            let max = values
                .iter()
                .flatten()
                .filter(|v| v.is_finite())
                .fold(0.0f64, |m, v| m.max(*v));
            let y = Axis::from_zero(max, 5);
            let mut chart = frame(
                area,
                &Frame {
                    caption: Some(&metric_label(metric)),
                    x: &x,
                    y: &y,
                    x_desc: "tenant",
                    y_desc: &metric_label(metric),
                    x_title: true,
                },
            )?;
            for (p, color) in self.colors.iter().enumerate() {
                for (t, v) in values[p].iter().enumerate() {
                    if !v.is_finite() {
                        continue;
                    }
                    let x0 = t as f64 - 0.4 + p as f64 * width;
                    chart
                        .draw_series(std::iter::once(Rectangle::new(
                            [(x0 + width * 0.06, 0.0), (x0 + width * 0.94, *v)],
                            color.filled(),
                        )))
                        .msg()?;
                }
            }
        }
        draw_legend(&side, &legend, 30)?;
        if let Some(note) = &self.footnote {
            draw_footnote(root, note)?;
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
    fn metric_labels_carry_units() {
        assert_eq!(metric_label("job_latency_p99_s"), "job latency p99 (s)");
        assert_eq!(metric_label("cost_usd"), "cost (USD)");
        assert_eq!(metric_label("rate_limited"), "rate limited (429s)");
    }
}
