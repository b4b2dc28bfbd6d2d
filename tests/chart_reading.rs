//! Charts read the way a person reads them, from their SVG: every tick label is the value at its
//! tick (on every axis of every chart the shipped scenarios and sweeps draw), each trade-off point
//! sits where its summary values put it by the axis labels, no text covers other text, and a
//! policy or sweep point whose jobs failed carries the red failure mark rather than passing for a
//! cheap, fast win.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use support::svg::{self, BBox, Svg, label_value};

/// The failure colour every chart uses (`style::FAILURE`).
const FAILURE: &str = "#C81E1E";

fn stampede() -> Command {
    Command::new(env!("CARGO_BIN_EXE_stampede"))
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn ok(cmd: &mut Command, what: &str) {
    let out = cmd.output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn run(scenario: &Path, dir: &Path, args: &[&str]) {
    ok(
        stampede()
            .arg("run")
            .arg(scenario)
            .args(args)
            .arg("--out")
            .arg(dir),
        &format!("stampede run {}", scenario.display()),
    );
}

fn sweep(dir: &Path, args: &[&str]) {
    ok(
        stampede()
            .arg("sweep")
            .arg(root().join("scenarios/cascade_sweep.toml"))
            .args(args)
            .arg("--out")
            .arg(dir),
        "stampede sweep",
    );
}

fn cascade() -> PathBuf {
    root().join("scenarios/cascade_12_agents.toml")
}

/// Every chart in `dir/charts`, by name, parsed.
fn charts(dir: &Path) -> Vec<(String, Svg)> {
    let mut out: Vec<(String, Svg)> = std::fs::read_dir(dir.join("charts"))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "svg"))
        .map(|p| {
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            (name, svg::parse(&std::fs::read_to_string(&p).unwrap()))
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(!out.is_empty(), "{} has charts", dir.display());
    out
}

/// A two-point, axis-aligned stroke: a tick mark, an axis line, a grid line.
#[derive(Clone, Copy, Debug)]
struct Stroke {
    horizontal: bool,
    /// The fixed coordinate (y of a horizontal stroke, x of a vertical one).
    at: f64,
    /// The span along the stroke.
    from: f64,
    to: f64,
}

fn strokes(svg: &Svg) -> Vec<(Stroke, String)> {
    type Ends = ((f64, f64), (f64, f64), String);
    let mut two: Vec<Ends> = svg
        .shapes
        .iter()
        .filter(|s| !s.closed && s.points.len() == 2)
        .map(|s| (s.points[0], s.points[1], s.stroke.clone()))
        .collect();
    two.extend(
        svg.lines
            .iter()
            .map(|l| ((l.x1, l.y1), (l.x2, l.y2), l.stroke.clone())),
    );
    two.into_iter()
        .filter_map(|(a, b, stroke)| {
            let s = if a.1 == b.1 && a.0 != b.0 {
                Stroke {
                    horizontal: true,
                    at: a.1,
                    from: a.0.min(b.0),
                    to: a.0.max(b.0),
                }
            } else if a.0 == b.0 && a.1 != b.1 {
                Stroke {
                    horizontal: false,
                    at: a.0,
                    from: a.1.min(b.1),
                    to: a.1.max(b.1),
                }
            } else {
                return None;
            };
            Some((s, stroke))
        })
        .collect()
}

/// An axis as a reader sees it: tick marks along one line, each with the label beside it.
#[derive(Debug)]
struct ReadAxis {
    /// Ticks on the x axis (vertical tick marks) or on a y axis (horizontal ones).
    x: bool,
    /// Where the axis line runs across (y of an x axis, x of a y axis).
    at: f64,
    /// (pixel position along the axis, label).
    ticks: Vec<(f64, String)>,
}

impl ReadAxis {
    fn values(&self) -> Option<Vec<(f64, f64)>> {
        self.ticks
            .iter()
            .map(|(p, l)| label_value(l).map(|v| (*p, v)))
            .collect()
    }

    /// The straight line `position = a + b * f(value)` through the ticks and its worst miss in
    /// pixels, with `f` the identity (linear) or log10 (log axes).
    fn fit(&self, log: bool) -> Option<(f64, f64, f64)> {
        let pts: Vec<(f64, f64)> = self
            .values()?
            .into_iter()
            .map(|(p, v)| (if log { v.log10() } else { v }, p))
            .collect();
        if pts.len() < 2 || pts.iter().any(|(v, _)| !v.is_finite()) {
            return None;
        }
        let n = pts.len() as f64;
        let mx = pts.iter().map(|p| p.0).sum::<f64>() / n;
        let my = pts.iter().map(|p| p.1).sum::<f64>() / n;
        let sxx: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
        if sxx == 0.0 {
            return None;
        }
        let b = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum::<f64>() / sxx;
        let a = my - b * mx;
        let worst = pts
            .iter()
            .map(|p| (a + b * p.0 - p.1).abs())
            .fold(0.0, f64::max);
        Some((a, b, worst))
    }

    /// The pixel of a value, by the labels (linear axes).
    fn pixel(&self, v: f64) -> f64 {
        let (a, b, _) = self.fit(false).expect("a linear axis with numeric labels");
        a + b * v
    }
}

/// The axes of a chart: tick marks (short strokes, 3 to 8 px) grouped by the axis line they hang
/// from (a long stroke of the same colour), or, with no axis line (a colour bar), by the line
/// their inner ends make; each tick's label is the nearest text beyond its outer end.
fn read_axes(svg: &Svg) -> Vec<ReadAxis> {
    let all = strokes(svg);
    let ticks: Vec<&(Stroke, String)> = all
        .iter()
        .filter(|(s, _)| (3.0..=8.0).contains(&(s.to - s.from)))
        .collect();
    let lines: Vec<&(Stroke, String)> = all.iter().filter(|(s, _)| s.to - s.from > 40.0).collect();
    // (x axis?, where its line runs, which end of a tick touches it) -> ticks
    let mut groups: BTreeMap<(bool, i64, i64), Vec<(Stroke, bool)>> = BTreeMap::new();
    for (t, colour) in &ticks {
        // A horizontal tick belongs to a y axis (a vertical line), and the other way round.
        let line = lines.iter().find(|(l, c)| {
            c == colour
                && l.horizontal != t.horizontal
                && (t.at >= l.from - 1.0 && t.at <= l.to + 1.0)
                && ((t.from - l.at).abs() <= 1.0 || (t.to - l.at).abs() <= 1.0)
        });
        let x_axis = !t.horizontal;
        match line {
            Some((l, _)) => {
                // The outer end is the one away from the line.
                let outer_is_high = (t.from - l.at).abs() <= 1.0;
                groups
                    .entry((x_axis, l.at.round() as i64, l.from.round() as i64))
                    .or_default()
                    .push((*t, outer_is_high));
            }
            None => {
                groups
                    .entry((x_axis, t.from.round() as i64, -1))
                    .or_default()
                    .push((*t, true));
            }
        }
    }
    let mut axes = Vec::new();
    for ((x, at, line), ts) in groups {
        // Short strokes with no axis line are a colour bar's ticks only when there are a few in
        // a row (a lone one is a leader line or part of a mark).
        if line == -1 && ts.len() < 3 {
            continue;
        }
        let mut read = ReadAxis {
            x,
            at: at as f64,
            ticks: Vec::new(),
        };
        for (t, outer_high) in ts {
            let outer = if outer_high { t.to } else { t.from };
            let label = svg
                .texts
                .iter()
                .filter(|tx| tx.rotation == 0.0 && !tx.content.is_empty())
                .filter_map(|tx| {
                    let b = tx.bbox();
                    let (cx, cy) = b.center();
                    // Along the axis: centred on the tick; across it: just beyond the outer end.
                    let (along, lo, hi) = if x {
                        (cx - t.at, b.y0, b.y1)
                    } else {
                        (cy - t.at, b.x0, b.x1)
                    };
                    let gap = if outer_high { lo - outer } else { outer - hi };
                    (along.abs() <= 4.0 && (-1.0..=12.0).contains(&gap))
                        .then(|| (gap, tx.content.clone()))
                })
                .min_by(|a, b| a.0.total_cmp(&b.0));
            if let Some((_, l)) = label {
                read.ticks.push((t.at, l));
            }
        }
        read.ticks.sort_by(|a, b| a.0.total_cmp(&b.0));
        read.ticks.dedup_by(|a, b| a.0 == b.0);
        if !read.ticks.is_empty() {
            axes.push(read);
        }
    }
    axes
}

/// Whether an axis's ticks name cells rather than mark positions: each sits at the centre of a
/// filled rectangle (a heatmap cell) as wide along the axis as the ticks are apart.
fn names_cells(svg: &Svg, axis: &ReadAxis) -> bool {
    let spacing = axis
        .ticks
        .windows(2)
        .map(|w| w[1].0 - w[0].0)
        .fold(f64::INFINITY, f64::min);
    axis.ticks.len() >= 2
        && axis.ticks.iter().all(|(p, _)| {
            svg.rects.iter().any(|r| {
                let (c, size) = if axis.x {
                    (r.bbox.center().0, r.bbox.x1 - r.bbox.x0)
                } else {
                    (r.bbox.center().1, r.bbox.y1 - r.bbox.y0)
                };
                (c - p).abs() <= 1.0 && size >= 0.8 * spacing && r.fill != "none"
            })
        })
}

/// Checks every numeric axis of a chart: its tick labels, read as numbers, lie on one straight
/// line against their positions (or against log10 of the values, a log axis) within 1 px.
fn check_ticks(what: &str, svg: &Svg) -> usize {
    let mut checked = 0;
    for axis in read_axes(svg) {
        if axis.ticks.len() < 3 || axis.values().is_none() || names_cells(svg, &axis) {
            continue;
        }
        let linear = axis.fit(false).map(|f| f.2);
        let log = axis.fit(true).map(|f| f.2);
        let best = [linear, log]
            .into_iter()
            .flatten()
            .fold(f64::INFINITY, f64::min);
        assert!(
            best <= 1.0,
            "{what}: the {} axis at {} has tick labels that are not the values at their ticks \
             (worst miss {best:.1} px linear {linear:?}, log {log:?}): {:?}",
            if axis.x { "x" } else { "y" },
            axis.at,
            axis.ticks
        );
        checked += 1;
    }
    checked
}

#[test]
fn every_tick_label_is_the_value_at_its_tick_in_every_chart() {
    let tmp = tempfile::tempdir().unwrap();
    let mut dirs: Vec<PathBuf> = Vec::new();
    let mut scenarios: Vec<PathBuf> = std::fs::read_dir(root().join("scenarios"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    scenarios.sort();
    for s in &scenarios {
        let name = s.file_stem().unwrap().to_string_lossy().into_owned();
        if name == "cascade_sweep" {
            continue; // a sweep file, swept below
        }
        let dir = tmp.path().join(&name);
        run(s, &dir, &[]);
        dirs.push(dir);
    }
    let replicated = tmp.path().join("replicated");
    run(&cascade(), &replicated, &["--replications", "3"]);
    dirs.push(replicated);
    let one = tmp.path().join("sweep_1d");
    sweep(
        &one,
        &["--set", "source.0.job.agents=12", "--replications", "2"],
    );
    dirs.push(one);
    let two = tmp.path().join("sweep_2d");
    sweep(&two, &["--replications", "2"]);
    dirs.push(two);
    let mut checked = 0;
    let mut drawn = Vec::new();
    for dir in &dirs {
        for (name, svg) in charts(dir) {
            let what = format!("{}/charts/{name}.svg", dir.file_name().unwrap().display());
            checked += check_ticks(&what, &svg);
            drawn.push(name);
        }
    }
    for kind in [
        "tradeoff",
        "latency_cdf",
        "timeseries",
        "tenants",
        "providers",
        "sweep_job_latency_p99_s",
        "heatmap_job_latency_p99_s",
    ] {
        assert!(drawn.iter().any(|n| n == kind), "a {kind} chart was drawn");
    }
    assert!(checked >= 40, "only {checked} numeric axes were read");
}

/// The tick reader itself: labels 0, 2, 5, 8, 10, 12 at equal spacing (2.5-steps rounded to
/// whole numbers) are read as off their ticks, 0, 2.5, ..., 12.5 and log labels are not.
#[test]
fn the_tick_reader_catches_labels_rounded_off_their_ticks() {
    let axis = |labels: &[&str]| {
        let mut s = String::from(
            r##"<svg width="200" height="400" xmlns="http://www.w3.org/2000/svg">
<polyline fill="none" stroke="#5A5A5A" points="91,40 91,340 "/>"##,
        );
        for (i, l) in labels.iter().enumerate() {
            let y = 340 - i * 60;
            s.push_str(&format!(
                r##"<text x="82" y="{y}" dy="0.5ex" text-anchor="end" font-size="11" fill="#1E1E1E">{l}</text>
<polyline fill="none" stroke="#5A5A5A" points="86,{y} 91,{y} "/>"##
            ));
        }
        s.push_str("</svg>");
        svg::parse(&s)
    };
    let rounded = axis(&["0", "2", "5", "8", "10", "12"]);
    let read = read_axes(&rounded);
    assert_eq!(read.len(), 1, "{read:?}");
    assert_eq!(read[0].ticks.len(), 6);
    let caught = std::panic::catch_unwind(|| check_ticks("rounded", &rounded));
    assert!(
        caught.is_err(),
        "0, 2, 5, 8, 10, 12 at equal steps is caught"
    );
    assert_eq!(
        check_ticks(
            "exact",
            &axis(&["0.0", "2.5", "5.0", "7.5", "10.0", "12.5"])
        ),
        1
    );
    assert_eq!(check_ticks("log", &axis(&["1", "10", "100", "1000"])), 1);
}

/// A summary.csv as rows of named columns.
fn read_csv(path: &Path) -> Vec<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .unwrap()
        .split(',')
        .map(str::to_string)
        .collect();
    lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            header
                .iter()
                .cloned()
                .zip(l.split(',').map(str::to_string))
                .collect()
        })
        .collect()
}

fn num(row: &BTreeMap<String, String>, col: &str) -> f64 {
    row.get(col)
        .unwrap_or_else(|| panic!("column {col}"))
        .parse()
        .unwrap()
}

/// The trade-off chart's panels: (x axis, y axis), left to right.
fn panels(svg: &Svg) -> Vec<(ReadAxis, ReadAxis)> {
    let mut xs: Vec<ReadAxis> = Vec::new();
    let mut ys: Vec<ReadAxis> = Vec::new();
    for a in read_axes(svg) {
        if a.x { xs.push(a) } else { ys.push(a) }
    }
    xs.sort_by(|a, b| a.ticks[0].0.total_cmp(&b.ticks[0].0));
    ys.sort_by(|a, b| a.at.total_cmp(&b.at));
    assert_eq!(xs.len(), ys.len(), "one x and one y axis per panel");
    xs.into_iter().zip(ys).collect()
}

/// The point labels of a trade-off chart: texts inside a panel's plot area.
fn point_labels<'a>(svg: &'a Svg, panels: &[(ReadAxis, ReadAxis)]) -> Vec<&'a svg::Text> {
    svg.texts
        .iter()
        .filter(|t| {
            let (cx, cy) = t.center();
            panels.iter().any(|(x, y)| {
                let (x0, x1) = (x.ticks[0].0, x.ticks.last().unwrap().0);
                let (y0, y1) = (y.ticks[0].0, y.ticks.last().unwrap().0);
                cx > x0 && cx < x1 && cy > y0 && cy < y1
            })
        })
        .collect()
}

/// Asserts no two texts of a chart overlap, and no point label covers a marker.
fn assert_no_overlaps(what: &str, svg: &Svg, labels: &[&svg::Text]) {
    let boxes: Vec<(BBox, &str)> = svg
        .texts
        .iter()
        .filter(|t| !t.content.is_empty())
        .map(|t| (t.bbox(), t.content.as_str()))
        .collect();
    for (i, a) in boxes.iter().enumerate() {
        for b in &boxes[i + 1..] {
            assert!(
                !a.0.overlaps(&b.0),
                "{what}: \"{}\" {:?} overlaps \"{}\" {:?}",
                a.1,
                a.0,
                b.1,
                b.0
            );
        }
    }
    for l in labels {
        let b = l.bbox();
        for c in &svg.circles {
            let m = BBox {
                x0: c.cx - c.r,
                y0: c.cy - c.r,
                x1: c.cx + c.r,
                y1: c.cy + c.r,
            };
            assert!(
                !b.overlaps(&m),
                "{what}: label \"{}\" {b:?} covers a marker at ({}, {})",
                l.content,
                c.cx,
                c.cy
            );
        }
    }
}

/// The marker drawn at a pixel: a circle centred within 1.5 px.
fn marker_at(svg: &Svg, x: f64, y: f64) -> Vec<&svg::Circle> {
    svg.circles
        .iter()
        .filter(|c| (c.cx - x).abs() <= 1.5 && (c.cy - y).abs() <= 1.5)
        .collect()
}

/// Whether two FAILURE-red strokes cross at the pixel (the ✗ of the failure mark).
fn red_cross_at(svg: &Svg, x: f64, y: f64) -> bool {
    let red: Vec<_> = svg
        .lines
        .iter()
        .filter(|l| l.stroke == FAILURE)
        .map(|l| ((l.x1 + l.x2) / 2.0, (l.y1 + l.y2) / 2.0))
        .chain(
            svg.shapes
                .iter()
                .filter(|s| s.stroke == FAILURE && s.points.len() == 2)
                .map(|s| {
                    (
                        (s.points[0].0 + s.points[1].0) / 2.0,
                        (s.points[0].1 + s.points[1].1) / 2.0,
                    )
                }),
        )
        .filter(|&(mx, my)| (mx - x).abs() <= 1.5 && (my - y).abs() <= 1.5)
        .collect();
    red.len() >= 2
}

/// Checks a trade-off chart against its summary.csv: each policy's marker where its values put it
/// by the axis labels, failed ones with the red mark and a red FAILED label; no overlapping text.
fn check_tradeoff(what: &str, dir: &Path) {
    let svg = svg::parse(&std::fs::read_to_string(dir.join("charts/tradeoff.svg")).unwrap());
    let rows = read_csv(&dir.join("summary.csv"));
    let panels = panels(&svg);
    assert_eq!(panels.len(), 2, "{what}: job and call latency panels");
    for ((x, y), metric) in panels
        .iter()
        .zip(["job_latency_p99_s", "call_latency_p99_s"])
    {
        for row in &rows {
            let (px, py) = (x.pixel(num(row, metric)), y.pixel(num(row, "cost_usd")));
            let markers = marker_at(&svg, px, py);
            let policy = &row["policy"];
            assert!(
                !markers.is_empty(),
                "{what}: no marker for {policy} at ({px:.1}, {py:.1}) ({metric})"
            );
            if num(row, "jobs_failed") > 0.0 {
                assert!(
                    markers.iter().any(|c| c.stroke == FAILURE) && red_cross_at(&svg, px, py),
                    "{what}: {policy} failed jobs but carries no red failure mark: {markers:?}"
                );
                let label = svg
                    .texts
                    .iter()
                    .find(|t| t.content.contains(policy.as_str()) && t.content.contains("FAILED"))
                    .unwrap_or_else(|| panic!("{what}: a FAILED label for {policy}"));
                assert_eq!(
                    label.fill, FAILURE,
                    "{what}: {policy}'s FAILED label is red"
                );
            } else {
                assert!(
                    markers.iter().all(|c| c.stroke != FAILURE),
                    "{what}: {policy} finished every job but is marked failed"
                );
            }
        }
    }
    let labels = point_labels(&svg, &panels);
    assert!(!labels.is_empty(), "{what}: point labels");
    // Labels stay inside their panel's plot area: off the axes and their tick labels.
    for l in &labels {
        let b = l.bbox();
        assert!(
            panels.iter().any(|(x, y)| {
                let (x0, x1) = (x.ticks[0].0, x.ticks.last().unwrap().0);
                let (y0, y1) = (y.ticks[0].0, y.ticks.last().unwrap().0);
                b.x0 >= x0 && b.x1 <= x1 && b.y0 >= y0 && b.y1 <= y1
            }),
            "{what}: label \"{}\" {b:?} sticks out of its plot area",
            l.content
        );
    }
    // Red means failure: a policy that finished is not labelled in a red.
    for l in labels.iter().filter(|l| !l.content.contains("FAILED")) {
        let rgb = u32::from_str_radix(l.fill.trim_start_matches('#'), 16).unwrap();
        let (r, g, b) = (rgb >> 16, (rgb >> 8) & 0xff, rgb & 0xff);
        assert!(
            !(r > 150 && g < 90 && b < 90),
            "{what}: \"{}\" finished its jobs but is labelled in a red ({})",
            l.content,
            l.fill
        );
    }
    assert_no_overlaps(what, &svg, &labels);
}

#[test]
fn tradeoff_points_sit_at_their_values_failures_are_red_and_no_text_overlaps() {
    let tmp = tempfile::tempdir().unwrap();
    let single = tmp.path().join("single");
    run(&cascade(), &single, &[]);
    let naive = read_csv(&single.join("summary.csv"))
        .into_iter()
        .find(|r| r["policy"] == "naive")
        .unwrap();
    assert_eq!(num(&naive, "jobs_failed"), 1.0, "naive fails its one job");
    check_tradeoff("cascade", &single);
    let svg = svg::parse(&std::fs::read_to_string(single.join("charts/tradeoff.svg")).unwrap());
    assert!(
        svg.texts
            .iter()
            .any(|t| t.content.contains("naive — FAILED 1/1 jobs") && t.fill == FAILURE),
        "naive is labelled as failed, in red"
    );
    let replicated = tmp.path().join("replicated");
    run(&cascade(), &replicated, &["--replications", "3"]);
    check_tradeoff("cascade x3", &replicated);
    // Five policies, one failing: the fourth policy's colour is not a red.
    let hierarchy = tmp.path().join("hierarchy");
    run(
        &root().join("scenarios/hierarchy_collapse.toml"),
        &hierarchy,
        &[],
    );
    check_tradeoff("hierarchy_collapse", &hierarchy);
}

/// Policies with identical or nearly identical cost and p99 (one spot, a pixel apart, a crowd)
/// still get labels that overlap nothing.
#[test]
fn tradeoff_labels_of_policies_on_the_same_spot_do_not_overlap() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    run(&cascade(), dir, &["--no-charts"]);
    for f in ["manifest.json", "summary.json"] {
        let _ = std::fs::remove_file(dir.join(f));
    }
    let text = std::fs::read_to_string(dir.join("summary.csv")).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap().to_string();
    let cols: Vec<&str> = header.split(',').collect();
    let col = |name: &str| cols.iter().position(|c| *c == name).unwrap();
    let rows: Vec<Vec<String>> = lines
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect();
    let mut out = vec![header.clone()];
    for r in &rows {
        out.push(r.join(","));
    }
    // Near copies of every policy: a hair apart in cost and latency, under other names.
    for (k, shift) in [(1, 1e-4), (2, 2e-3), (3, 0.03)] {
        for r in &rows {
            let mut r = r.clone();
            r[col("policy")] = format!("{}_v{k}", r[col("policy")]);
            for c in ["cost_usd", "job_latency_p99_s", "call_latency_p99_s"] {
                let v: f64 = r[col(c)].parse().unwrap();
                r[col(c)] = format!("{}", v * (1.0 + shift));
            }
            out.push(r.join(","));
        }
    }
    std::fs::write(dir.join("summary.csv"), out.join("\n") + "\n").unwrap();
    ok(stampede().arg("plot").arg(dir), "stampede plot");
    check_tradeoff("crowded fixture", dir);
}

/// In a one-parameter sweep's line charts, every point where runs failed jobs carries the red
/// failure mark, and the legend says what it means.
#[test]
fn failed_sweep_points_carry_the_red_failure_mark() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    sweep(
        dir,
        &["--set", "source.0.job.agents=12", "--replications", "2"],
    );
    let rows = read_csv(&dir.join("sweep_summary.csv"));
    let param = "policy.fixed.bucket.rate";
    let mut failed = 0;
    for metric in ["job_latency_p99_s", "cost_usd"] {
        let svg = svg::parse(
            &std::fs::read_to_string(dir.join(format!("charts/sweep_{metric}.svg"))).unwrap(),
        );
        let axes = read_axes(&svg);
        let x = axes.iter().find(|a| a.x).expect("an x axis");
        let y = axes.iter().find(|a| !a.x).expect("a y axis");
        for row in &rows {
            let (px, py) = (
                x.pixel(num(row, param)),
                y.pixel(num(row, &format!("{metric}_mean"))),
            );
            if num(row, "jobs_failed_mean") > 0.0 {
                failed += 1;
                assert!(
                    marker_at(&svg, px, py).iter().any(|c| c.stroke == FAILURE)
                        && red_cross_at(&svg, px, py),
                    "sweep_{metric}: {} at {param}={} failed jobs but has no red mark at ({px:.1}, {py:.1})",
                    row["policy"],
                    row[param]
                );
            }
        }
        assert!(
            svg.texts
                .iter()
                .any(|t| t.fill == FAILURE && t.content.contains("FAILED")),
            "sweep_{metric}: the legend explains the red mark in red"
        );
        check_ticks(&format!("sweep_{metric}"), &svg);
    }
    assert!(failed > 0, "the 12-agent sweep has failed points (naive)");
}

/// The providers chart of `fallback_storm`, read off its SVG: in each panel (answered, then
/// 429s) each policy's bar over each provider reaches the value `providers.csv` holds, by the
/// panel's own tick labels (log or linear); and a run with one provider draws no providers chart
/// and no per-provider panel.
#[test]
fn provider_bars_reach_their_providers_csv_values_and_one_provider_draws_none() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("fallback_storm");
    run(&root().join("scenarios/fallback_storm.toml"), &dir, &[]);
    let rows = read_csv(&dir.join("providers.csv"));
    let svg = svg::parse(&std::fs::read_to_string(dir.join("charts/providers.svg")).unwrap());
    let mut ys: Vec<ReadAxis> = read_axes(&svg).into_iter().filter(|a| !a.x).collect();
    ys.sort_by(|a, b| a.ticks[0].0.total_cmp(&b.ticks[0].0));
    assert_eq!(ys.len(), 2, "two panels: answered and 429s");
    // Policy colours in file order (style::PALETTE).
    let colours = ["#1F77B4", "#FF7F0E", "#2CA02C", "#393B79"];
    let mut policies: Vec<String> = Vec::new();
    let mut providers: Vec<String> = Vec::new();
    for r in &rows {
        for (list, key) in [(&mut policies, "policy"), (&mut providers, "provider")] {
            if !list.contains(&r[key]) {
                list.push(r[key].clone());
            }
        }
    }
    assert_eq!(providers, ["primary", "secondary"]);
    let mut checked = 0;
    for (axis, metric) in ys.iter().zip(["answered", "rate_limited"]) {
        let log = axis.fit(false).map_or(f64::INFINITY, |f| f.2) > 1.0;
        let (a, b, _) = axis.fit(log).expect("a numeric value axis");
        let top = axis.ticks.first().unwrap().0;
        let floor = axis.ticks.last().unwrap().0;
        for (pi, policy) in policies.iter().enumerate() {
            // This policy's bars in this panel, left to right: one per provider with a value.
            let mut bars: Vec<&svg::Rect> = svg
                .rects
                .iter()
                .filter(|r| r.fill == colours[pi] && r.bbox.x0 > axis.at)
                .filter(|r| (r.bbox.y1 - floor).abs() <= 1.5 && r.bbox.y0 >= top - 1.5)
                .collect();
            bars.sort_by(|x, y| x.bbox.x0.total_cmp(&y.bbox.x0));
            let values: Vec<f64> = providers
                .iter()
                .map(|v| {
                    let row = rows
                        .iter()
                        .find(|r| &r["policy"] == policy && &r["provider"] == v)
                        .unwrap();
                    num(row, metric)
                })
                .collect();
            let drawn: Vec<f64> = values.iter().copied().filter(|v| *v > 0.0).collect();
            assert_eq!(
                bars.len(),
                drawn.len(),
                "{policy} {metric}: one bar per nonzero value"
            );
            for (bar, v) in bars.iter().zip(&drawn) {
                let want = a + b * if log { v.log10() } else { *v };
                assert!(
                    (bar.bbox.y0 - want).abs() <= 1.5,
                    "{policy} {metric}: the bar of {v} tops at {} px, its value is at {want:.1} px",
                    bar.bbox.y0
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 12, "only {checked} bars were read");
    // naive_fallback's secondary: 429s well above its answers.
    let naive = |m: &str| {
        num(
            rows.iter()
                .find(|r| r["policy"] == "naive_fallback" && r["provider"] == "secondary")
                .unwrap(),
            m,
        )
    };
    assert!(naive("rate_limited") > 10.0 * naive("answered"));
    let series = std::fs::read_to_string(dir.join("charts/timeseries.svg")).unwrap();
    assert!(
        series.contains("goodput at secondary") && series.contains("429s per second at secondary")
    );

    let single = tmp.path().join("provider_brownout");
    run(
        &root().join("scenarios/provider_brownout.toml"),
        &single,
        &[],
    );
    assert!(!single.join("providers.csv").exists());
    assert!(!single.join("charts/providers.svg").exists());
    assert!(!single.join("charts/providers.png").exists());
    let series = std::fs::read_to_string(single.join("charts/timeseries.svg")).unwrap();
    assert!(
        !series.contains("goodput at "),
        "no per-provider panel with one provider"
    );
}
