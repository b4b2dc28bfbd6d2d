//! Charts a design review can trust, read from their SVGs as a person reads the picture:
//!
//! - a heatmap of a real two-parameter sweep writes every cell's value inside the cell, equal to
//!   `sweep_summary.csv`'s mean at the printed precision; a point where some runs had failed jobs
//!   is filled with the failure colour and marked, and never takes the colour of the best point;
//! - the tenants chart of `hierarchy_collapse` puts 429s on a log axis, so that the light
//!   tenants' bars are visible beside the heavy tenant's;
//! - the runaway loop's time series draws nothing past the moment the guard stopped the run, and
//!   shows the money spent.

mod support;

use std::collections::HashMap;
use std::path::Path;
use support::cli::{ok, scenario, stampede};
use support::svg::{self, BBox, Svg, Text};

/// The failure fill (`FAILURE` in the chart code).
const FAILURE: &str = "#C81E1E";

/// A CSV without quoted fields, as rows of column name to cell.
fn read_csv(path: &Path) -> Vec<HashMap<String, String>> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            header
                .iter()
                .zip(l.split(','))
                .map(|(h, c)| (h.to_string(), c.to_string()))
                .collect()
        })
        .collect()
}

fn num(row: &HashMap<String, String>, col: &str) -> f64 {
    row.get(col)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("column {col} in {row:?}"))
}

fn read_svg(path: &Path) -> Svg {
    svg::parse(&std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
}

/// A printed cell value as a number, and half a unit of its last printed digit:
/// `$10.6` is 10.6 +- 0.05, `1.27k s` is 1270 +- 5.
fn printed(s: &str) -> Option<(f64, f64)> {
    let s = s
        .trim()
        .trim_start_matches('$')
        .trim_end_matches(" s")
        .trim();
    let (s, scale) = if let Some(v) = s.strip_suffix('k') {
        (v, 1e3)
    } else if let Some(v) = s.strip_suffix('M') {
        (v, 1e6)
    } else {
        (s, 1.0)
    };
    let v: f64 = s.parse().ok()?;
    let decimals = s.split_once('.').map_or(0, |(_, d)| d.len()) as i32;
    Some((v * scale, 0.5 * 10f64.powi(-decimals) * scale))
}

/// The heatmap cells: filled rectangles of cell size (not the background, the colour bar's
/// steps or its key), grouped into panels of touching cells.
fn panels(svg: &Svg) -> Vec<Vec<BBox>> {
    let cells: Vec<(BBox, String)> = svg
        .rects
        .iter()
        .filter(|r| {
            let (w, h) = (r.bbox.x1 - r.bbox.x0, r.bbox.y1 - r.bbox.y0);
            r.fill != "#FFFFFF" && w > 25.0 && h > 15.0 && w < svg.width / 2.0
        })
        .map(|r| (r.bbox, r.fill.clone()))
        .collect();
    let touch = |a: &BBox, b: &BBox| {
        a.x0 <= b.x1 + 1.5 && b.x0 <= a.x1 + 1.5 && a.y0 <= b.y1 + 1.5 && b.y0 <= a.y1 + 1.5
    };
    let mut group = vec![usize::MAX; cells.len()];
    let mut out = Vec::new();
    for i in 0..cells.len() {
        if group[i] != usize::MAX {
            continue;
        }
        let g = out.len();
        let mut members = vec![i];
        group[i] = g;
        let mut k = 0;
        while k < members.len() {
            let a = cells[members[k]].0;
            for j in 0..cells.len() {
                if group[j] == usize::MAX && touch(&a, &cells[j].0) {
                    group[j] = g;
                    members.push(j);
                }
            }
            k += 1;
        }
        out.push(members.iter().map(|&m| cells[m].0).collect::<Vec<_>>());
    }
    out
}

fn fill_at(svg: &Svg, cell: &BBox) -> String {
    svg.rects
        .iter()
        .rev()
        .find(|r| r.bbox == *cell)
        .map(|r| r.fill.clone())
        .unwrap()
}

fn inside(outer: &BBox, inner: &BBox) -> bool {
    inner.x0 >= outer.x0 - 0.5
        && inner.x1 <= outer.x1 + 0.5
        && inner.y0 >= outer.y0 - 0.5
        && inner.y1 <= outer.y1 + 0.5
}

fn union(cells: &[BBox]) -> BBox {
    cells.iter().fold(cells[0], |a, b| BBox {
        x0: a.x0.min(b.x0),
        y0: a.y0.min(b.y0),
        x1: a.x1.max(b.x1),
        y1: a.y1.max(b.y1),
    })
}

/// Checks one heatmap against `sweep_summary.csv`: the number of cells checked, and what is
/// wrong with them.
fn check_heatmap(dir: &Path, metric: &str) -> (usize, Vec<String>) {
    let rows = read_csv(&dir.join("sweep_summary.csv"));
    let header: Vec<String> = std::fs::read_to_string(dir.join("sweep_summary.csv"))
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .split(',')
        .map(str::to_string)
        .collect();
    let pcol = header.iter().position(|h| h == "policy").unwrap();
    let (xp, yp) = (&header[0], &header[1]);
    assert_eq!(pcol, 2, "a two-parameter sweep");
    let path = dir.join(format!("charts/heatmap_{metric}.svg"));
    let svg = read_svg(&path);
    let what = path.display().to_string();
    let policies: Vec<String> = {
        let mut p: Vec<String> = Vec::new();
        for r in &rows {
            if !p.contains(&r["policy"]) {
                p.push(r["policy"].clone());
            }
        }
        p
    };
    let xs: Vec<&String> = rows.iter().map(|r| &r[xp]).collect();
    let ys: Vec<&String> = rows.iter().map(|r| &r[yp]).collect();
    let panels = panels(&svg);
    assert_eq!(panels.len(), policies.len(), "{what}: a panel per policy");
    let mut checked = 0;
    let mut failed_fills = Vec::new();
    let mut best: Option<(f64, String)> = None;
    let mut failures = Vec::new();
    for cells in &panels {
        let block = union(cells);
        // The panel's caption: the policy name just above it.
        let caption = svg
            .texts
            .iter()
            .filter(|t| policies.contains(&t.content))
            .filter(|t| {
                let b = t.bbox();
                b.y1 <= block.y0 + 1.0
                    && b.y1 > block.y0 - 40.0
                    && b.x1 > block.x0
                    && b.x0 < block.x1
            })
            .min_by(|a, b| (block.y0 - a.y).total_cmp(&(block.y0 - b.y)))
            .unwrap_or_else(|| panic!("{what}: no policy name above the panel at {block:?}"));
        let policy = &caption.content;
        for cell in cells {
            let (cx, cy) = cell.center();
            // The x value: the tick label under the panel, in the cell's column; the y value:
            // the label left of the panel, on the cell's row.
            let label =
                |t: &&Text, values: &[&String]| values.contains(&&t.content) && t.rotation == 0.0;
            let x = svg
                .texts
                .iter()
                .filter(|t| label(t, &xs))
                .find(|t| {
                    let b = t.bbox();
                    b.y0 >= block.y1 - 1.0
                        && b.y0 < block.y1 + 25.0
                        && (b.center().0 - cx).abs() < 3.0
                })
                .unwrap_or_else(|| panic!("{what}: no {xp} label under the cell at {cell:?}"));
            let y = svg
                .texts
                .iter()
                .filter(|t| label(t, &ys))
                .find(|t| {
                    let b = t.bbox();
                    b.x1 <= block.x0 + 1.0
                        && b.x1 > block.x0 - 25.0
                        && (b.center().1 - cy).abs() < 3.0
                })
                .unwrap_or_else(|| panic!("{what}: no {yp} label left of the cell at {cell:?}"));
            let row = rows
                .iter()
                .find(|r| r[xp] == x.content && r[yp] == y.content && &r["policy"] == policy)
                .unwrap();
            checked += 1;
            let mean = num(row, &format!("{metric}_mean"));
            let failed = num(row, "jobs_failed_mean") > 0.0;
            let at = format!("{what}: {policy} at {xp}={}, {yp}={}", x.content, y.content);
            let mut texts: Vec<&Text> = svg
                .texts
                .iter()
                .filter(|t| t.rotation == 0.0 && inside(cell, &t.bbox()))
                .collect();
            texts.sort_by(|a, b| a.y.total_cmp(&b.y));
            let Some(first) = texts.first() else {
                failures.push(format!("{at}: no text in the cell (the mean is {mean})"));
                continue;
            };
            match printed(&first.content) {
                Some((v, half)) if (v - mean).abs() <= half * 1.0001 + 1e-9 => {}
                _ => failures.push(format!(
                    "{at}: the cell says {:?}, the mean is {mean}",
                    first.content
                )),
            }
            for t in &texts {
                assert!(
                    t.size >= 8.0,
                    "{at}: {:?} at {} px is too small to read",
                    t.content,
                    t.size
                );
            }
            let fill = fill_at(&svg, cell);
            let marked = texts.iter().any(|t| t.content.contains('\u{2717}'));
            if failed {
                if fill != FAILURE || !marked {
                    failures.push(format!(
                        "{at}: jobs failed there (mean {}), but the cell is {fill}{}",
                        num(row, "jobs_failed_mean"),
                        if marked {
                            ""
                        } else {
                            " and carries no \u{2717}"
                        }
                    ));
                }
                failed_fills.push(fill);
            } else {
                if fill == FAILURE || marked {
                    failures.push(format!(
                        "{at}: no job failed there, but the cell looks failed"
                    ));
                }
                if best.as_ref().is_none_or(|(b, _)| mean < *b) {
                    best = Some((mean, fill));
                }
            }
        }
    }
    if let Some((v, fill)) = &best {
        for f in &failed_fills {
            if f == fill {
                failures.push(format!(
                    "{what}: a failed cell has the colour {fill} of the best point that did not fail ({v})"
                ));
                break;
            }
        }
    }
    (checked, failures)
}

/// Checks both heatmaps of a sweep directory, every cell, and reports every problem at once.
fn check_heatmaps(dir: &Path) {
    let rows = read_csv(&dir.join("sweep_summary.csv")).len();
    let mut failures = Vec::new();
    for m in ["job_latency_p99_s", "cost_usd"] {
        let (checked, mut f) = check_heatmap(dir, m);
        assert_eq!(checked, rows, "{m}: a cell per point and policy");
        failures.append(&mut f);
    }
    let missing = failures.iter().filter(|f| f.contains("no text")).count();
    assert!(
        failures.is_empty(),
        "{} problems ({missing} cells without a value):\n  {}",
        failures.len(),
        failures.join("\n  ")
    );
}

fn sweep(dir: &Path, file: &str, args: &[&str]) {
    ok(
        stampede()
            .arg("sweep")
            .arg(scenario(file))
            .args(["--replications", "2"])
            .args(args)
            .arg("--out")
            .arg(dir)
            .output()
            .unwrap(),
        "stampede sweep",
    );
}

#[test]
fn every_cell_of_the_cascade_sweep_heatmaps_carries_its_mean_and_failures_are_red() {
    let dir = tempfile::tempdir().unwrap();
    sweep(dir.path(), "cascade_sweep.toml", &[]);
    let rows = read_csv(&dir.path().join("sweep_summary.csv"));
    assert!(
        rows.iter().any(|r| num(r, "jobs_failed_mean") > 0.0),
        "the sweep has failed points to show"
    );
    check_heatmaps(dir.path());
}

#[test]
fn a_five_by_five_sweep_of_eight_policies_loses_no_value() {
    // Small panels (eight policies in three columns): values used to be dropped when they did
    // not fit.
    let dir = tempfile::tempdir().unwrap();
    sweep(
        dir.path(),
        "policy_families.toml",
        &[
            "--set",
            "source.0.job.agents=4,8,12,16,24",
            "--set",
            "provider.limit.0.rate=30000,45000,66667,80000,100000",
        ],
    );
    let rows = read_csv(&dir.path().join("sweep_summary.csv"));
    assert_eq!(rows.len(), 8 * 25);
    check_heatmaps(dir.path());
}

/// The texts that read as numbers in a row of labels: `(value, centre x, centre y)`.
fn numeric(texts: &[Text]) -> Vec<(f64, f64, f64)> {
    texts
        .iter()
        .filter(|t| t.rotation == 0.0)
        .filter_map(|t| {
            let v: f64 = t.content.parse().ok()?;
            let (x, y) = t.center();
            Some((v, x, y))
        })
        .collect()
}

#[test]
fn the_tenant_429s_of_hierarchy_collapse_are_on_a_log_axis_with_the_light_tenants_visible() {
    let dir = tempfile::tempdir().unwrap();
    ok(
        stampede()
            .arg("run")
            .arg(scenario("hierarchy_collapse.toml"))
            .arg("--out")
            .arg(dir.path())
            .output()
            .unwrap(),
        "stampede run",
    );
    let svg = read_svg(&dir.path().join("charts/tenants.svg"));
    let caption = svg
        .texts
        .iter()
        .find(|t| t.content.starts_with("rate limited (429s)") && t.rotation == 0.0)
        .expect("a 429 panel");
    // The panel spans from its caption to the next "tenant" axis title below it.
    let bottom = svg
        .texts
        .iter()
        .filter(|t| t.content == "tenant" && t.y > caption.y)
        .map(|t| t.y)
        .fold(f64::INFINITY, f64::min);
    let in_panel = |y: f64| y > caption.y && y < bottom;
    // The y tick labels: right-aligned numbers left of the plot.
    let ticks: Vec<f64> = {
        let mut t: Vec<(f64, f64)> = numeric(&svg.texts)
            .into_iter()
            .filter(|&(_, x, y)| x < 100.0 && in_panel(y))
            .map(|(v, _, y)| (y, v))
            .collect();
        t.sort_by(|a, b| b.0.total_cmp(&a.0));
        t.into_iter().map(|(_, v)| v).collect()
    };
    assert!(ticks.len() >= 3, "429 ticks {ticks:?}");
    for w in ticks.windows(2) {
        assert!(
            (w[1] / w[0] - 10.0).abs() < 1e-9,
            "the 429 axis is logarithmic, ticks a decade apart: {ticks:?}"
        );
    }
    // direct's bars (the first policy, #1F77B4): the heavy tenant's and the light ones'.
    let mut bars: Vec<f64> = svg
        .rects
        .iter()
        .filter(|r| r.fill == "#1F77B4" && in_panel(r.bbox.y1) && r.bbox.x0 > 80.0)
        .map(|r| r.bbox.y1 - r.bbox.y0)
        .filter(|h| *h > 0.0)
        .collect();
    bars.sort_by(f64::total_cmp);
    assert!(bars.len() >= 10, "a bar per tenant group: {bars:?}");
    let heavy = bars.pop().unwrap();
    for h in &bars {
        assert!(
            *h > 10.0,
            "a light tenant's ~60 429s are a bar of {h} px beside the heavy tenant's {heavy} px"
        );
    }
    // Policies without a 429 show a "0" on the axis floor, in their colour.
    assert!(
        svg.texts
            .iter()
            .any(|t| t.content == "0" && in_panel(t.y) && t.fill != "#1E1E1E"),
        "zero 429s are marked"
    );
}

#[test]
fn the_runaway_loop_series_stops_where_the_guard_stopped_the_run_and_shows_the_spend() {
    let dir = tempfile::tempdir().unwrap();
    let out = ok(
        stampede()
            .arg("run")
            .arg(scenario("runaway_loop.toml"))
            .arg("--out")
            .arg(dir.path())
            .output()
            .unwrap(),
        "stampede run",
    );
    let err = String::from_utf8_lossy(&out.stderr);
    let stop: f64 = err
        .split("exceeded at simulated time ")
        .nth(1)
        .and_then(|s| s.split('s').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("the guard's stop time in {err}"));
    let svg = read_svg(&dir.path().join("charts/timeseries.svg"));
    // The time axis, from the tick labels of the bottom panel: centre x against value.
    let labels = numeric(&svg.texts);
    let axis_y = svg
        .texts_equal("time (s)")
        .first()
        .map(|t| t.y)
        .expect("a time axis title");
    let row: Vec<(f64, f64)> = {
        let nearest = labels
            .iter()
            .filter(|l| l.2 < axis_y)
            .map(|l| l.2)
            .fold(f64::NEG_INFINITY, f64::max);
        labels
            .iter()
            .filter(|l| (l.2 - nearest).abs() < 1.0)
            .map(|l| (l.0, l.1))
            .collect()
    };
    assert!(row.len() >= 5, "time ticks {row:?}");
    let (first, last) = (row[0], row[row.len() - 1]);
    let px = |t: f64| first.1 + (t - first.0) * (last.1 - first.1) / (last.0 - first.0);
    // uncapped's lines (#1F77B4; not its legend mark, right of the plots): no point past the
    // stop.
    let right = svg
        .shapes
        .iter()
        .filter(|s| !s.closed && s.stroke == "#1F77B4")
        .filter(|s| s.points.iter().any(|p| p.0 <= last.1 + 5.0))
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .fold(f64::NEG_INFINITY, f64::max);
    assert!(right.is_finite(), "uncapped's lines are drawn");
    assert!(
        right <= px(stop) + 1.0,
        "uncapped is drawn to x = {right}, past the guard's stop at {stop} s (x = {})",
        px(stop)
    );
    // The money: a panel of spend, with its unit and the total written.
    assert!(
        svg.texts.iter().any(|t| t.content.contains("spent")),
        "a spend panel"
    );
    assert!(!svg.texts_equal("USD").is_empty(), "its axis in USD");
    let summary = read_csv(&dir.path().join("summary.csv"));
    let cost = num(
        summary.iter().find(|r| r["policy"] == "uncapped").unwrap(),
        "cost_usd",
    );
    assert!(
        svg.texts.iter().any(|t| printed(&t.content)
            .is_some_and(|(v, half)| t.content.starts_with('$') && (v - cost).abs() <= half)),
        "uncapped's total spend, ${cost}, is written"
    );
}
