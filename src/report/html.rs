//! The design-review report: one self-contained `report.html` and its `report.md` twin.
//!
//! Task: from a run directory alone (the CSVs and `summary.json` a run wrote, and the
//! `scenario.toml` copy it left), write the page a design review reads: the scenario's name and
//! description, its assumptions (the scenario file's leading comment block), a reading of the
//! winner and the trade-off generated from the numbers, the policy table and the charts.
//!
//! `report.html` inlines its charts as SVG and its style sheet, and refers to nothing outside
//! itself: it can be mailed, attached to a ticket or opened offline. `report.md` refers to the
//! PNGs in `charts/` by relative path, for a repository or a wiki. Same files in, same bytes out.

use super::charts::{self, Chart, Charts, PlotError};
use super::comments::{comments_html, comments_md};
use super::data::{self, PolicySummary, Providers, ScenarioInfo, Summary, Sweep};
use super::provider_section;
use super::reading::{failed, failed_jobs, reading};
use super::sweep_section;
use super::table::{Format, ROWS, RowStyle};
use super::text::{escape, inline_code, plural, spans_html, spans_md};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The report's file names.
pub const HTML_FILE: &str = "report.html";
/// The Markdown twin.
pub const MD_FILE: &str = "report.md";

/// Draws the charts of `dir` (into `dir/charts/`) and writes `report.html` and `report.md` into
/// it; returns the paths written, the report files first.
pub fn write_report(dir: &Path) -> Result<Vec<PathBuf>, PlotError> {
    let (charts, chart_files) = charts::plot_dir(dir)?;
    let page = Page {
        info: data::read_scenario_info(dir)?,
        summary: data::read_summary(dir)?,
        sweep: data::read_sweep(dir)?,
        providers: data::read_providers(dir)?,
        charts,
    };
    let mut written = write_pages(dir, &page.html(), &page.markdown())?;
    written.extend(chart_files);
    Ok(written)
}

/// Writes a report's two pages, `report.html` and `report.md`, into `dir`; returns their paths.
pub(super) fn write_pages(dir: &Path, html: &str, md: &str) -> Result<Vec<PathBuf>, PlotError> {
    let mut written = Vec::new();
    for (name, text) in [(HTML_FILE, html), (MD_FILE, md)] {
        let path = dir.join(name);
        crate::io::write_atomic(&path, text.as_bytes()).map_err(|source| PlotError::Io {
            path: path.clone(),
            source,
        })?;
        written.push(path);
    }
    Ok(written)
}

/// Copies the scenario file into `dir` as `scenario.toml`, so that the run directory says what
/// was run and `stampede report` finds the scenario's description and assumptions.
pub fn copy_scenario(scenario: &Path, dir: &Path) -> Result<(), PlotError> {
    let target = dir.join(data::SCENARIO_COPY);
    let bytes =
        crate::io::read_at_most(scenario, crate::scenario::MAX_FILE_BYTES).map_err(|source| {
            PlotError::Io {
                path: scenario.to_path_buf(),
                source,
            }
        })?;
    crate::io::write_atomic(&target, &bytes).map_err(|source| PlotError::Io {
        path: target.clone(),
        source,
    })
}

struct Page {
    info: ScenarioInfo,
    summary: Option<Summary>,
    sweep: Option<Sweep>,
    providers: Option<Providers>,
    charts: Charts,
}

/// An SVG document as an element of an HTML page: no XML namespace attribute (HTML does not need
/// it, and the page then names no outside address at all).
pub(super) fn inline_svg(svg: &str) -> String {
    svg.replacen(" xmlns=\"http://www.w3.org/2000/svg\"", "", 1)
        .replacen("<svg ", "<svg role=\"img\" ", 1)
}

pub(super) const STYLE: &str = "\
body{font-family:'DejaVu Sans',Verdana,'Segoe UI',Helvetica,Arial,sans-serif;color:#1e1e1e;\
background:#fff;max-width:1200px;margin:0 auto;padding:24px 32px;line-height:1.5}\
h1{font-size:28px;margin:0 0 4px}h2{font-size:21px;margin:32px 0 8px;border-bottom:1px solid #ddd;\
padding-bottom:4px}h3{font-size:17px;margin:20px 0 6px}\
.lede{font-size:17px;margin:4px 0}.meta{color:#5a5a5a;font-size:14px;margin:4px 0 16px}\
.reading{background:#f4f7fb;border-left:4px solid #1f77b4;padding:10px 16px;margin:12px 0}\
.assumptions{font-size:14px}code{font-family:'DejaVu Sans Mono',Menlo,Consolas,monospace;\
font-size:90%;background:#f2f2f2;padding:0 3px;border-radius:3px}\
table{border-collapse:collapse;font-size:14px;margin:8px 0}\
th,td{padding:4px 8px;border-bottom:1px solid #e4e4e4;text-align:right;white-space:nowrap}\
thead th{white-space:normal;vertical-align:bottom}\
th:first-child,td:first-child,.text th,.text td{text-align:left}thead th{border-bottom:2px solid #999}\
.win{background:#eef6e9}.failed{background:#fdecea}.badge{display:block;color:#c81e1e;\
font-weight:bold;font-size:12px;white-space:normal}.ci{display:block;color:#777;font-size:12px;line-height:1.2}.swatch{display:inline-block;width:10px;\
height:10px;border-radius:2px;margin-right:5px}\
.scroll{overflow-x:auto}figure{margin:16px 0 28px}figure svg{width:100%;height:auto;\
max-width:1200px;border:1px solid #eee}\
figure svg text{font-family:'DejaVu Sans',Verdana,sans-serif}\
.aligned{display:block;white-space:pre;font-family:'DejaVu Sans Mono',Menlo,Consolas,\
monospace;font-size:13px;margin:4px 0;overflow-x:auto}figcaption{color:#444;font-size:14px;margin-top:4px}\
details{margin:12px 0}summary{cursor:pointer;color:#1f77b4}.note{color:#777;font-size:13px}";

impl Page {
    /// The providers chart, shown in the providers section when there is one.
    fn providers_chart(&self) -> Option<&Chart> {
        self.providers
            .as_ref()
            .and_then(|_| self.charts.charts.iter().find(|c| c.name == "providers"))
    }

    /// The charts of the Charts section: all but one shown in the providers section.
    fn other_charts(&self) -> Vec<&Chart> {
        let shown = self.providers_chart().map(|c| c.name.as_str());
        self.charts
            .charts
            .iter()
            .filter(|c| Some(c.name.as_str()) != shown)
            .collect()
    }

    fn title(&self) -> String {
        self.info
            .name
            .clone()
            .or_else(|| self.summary.as_ref().and_then(|s| s.scenario.clone()))
            .unwrap_or_else(|| {
                if self.summary.is_none() && self.sweep.is_some() {
                    "stampede sweep".to_string()
                } else {
                    "stampede run".to_string()
                }
            })
    }

    fn meta(&self) -> String {
        let mut parts = Vec::new();
        let seed = self
            .info
            .seed
            .or_else(|| self.summary.as_ref().and_then(|s| s.seed));
        if let Some(seed) = seed {
            parts.push(format!("seed {seed}"));
        }
        let reps = self
            .info
            .replications
            .or_else(|| self.summary.as_ref().and_then(|s| s.replications));
        if let Some(r) = reps {
            let per = if self.summary.is_none() && self.sweep.is_some() {
                "point and policy"
            } else {
                "policy"
            };
            parts.push(plural(
                r as f64,
                &format!("replication per {per}"),
                &format!("replications per {per}"),
            ));
        }
        let policies = match (&self.summary, &self.sweep) {
            (Some(s), _) => Some(s.policies.len()),
            (None, Some(sw)) => Some(sw.policies.len()),
            (None, None) => None,
        };
        if let Some(n) = policies {
            parts.push(plural(n as f64, "policy", "policies"));
        }
        parts.push(format!(
            "written by stampede {} from the {}'s CSV files",
            env!("CARGO_PKG_VERSION"),
            if self.summary.is_none() && self.sweep.is_some() {
                "sweep"
            } else {
                "run"
            }
        ));
        parts.join(" · ")
    }

    /// The winner's name(s), for highlighting.
    fn winners(&self) -> Vec<String> {
        let Some(s) = &self.summary else {
            return Vec::new();
        };
        let ok: Vec<&PolicySummary> = s
            .policies
            .iter()
            .filter(|p| p.get("jobs_failed") == 0.0 && p.get("job_latency_p99_s").is_finite())
            .collect();
        let best = ok
            .iter()
            .map(|p| p.get("job_latency_p99_s"))
            .fold(f64::INFINITY, f64::min);
        ok.iter()
            .filter(|p| p.get("job_latency_p99_s") == best)
            .map(|p| p.name.clone())
            .collect()
    }

    fn rows(&self) -> Vec<(&'static str, &'static str, Format)> {
        let Some(s) = &self.summary else {
            return Vec::new();
        };
        ROWS.iter()
            .filter(|(key, _, _)| s.metrics.iter().any(|m| m == key))
            .copied()
            .collect()
    }

    fn html(&self) -> String {
        let mut h = String::new();
        let title = self.title();
        let _ = write!(
            h,
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <title>{} — design review</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
            escape(&title)
        );
        let _ = writeln!(h, "<h1>{}</h1>", escape(&title));
        if let Some(d) = &self.info.description {
            let _ = writeln!(h, "<p class=\"lede\">{}</p>", inline_code(&escape(d)));
        }
        let _ = writeln!(h, "<p class=\"meta\">{}</p>", escape(&self.meta()));
        if let Some(s) = &self.summary {
            let _ = writeln!(
                h,
                "<h2>Reading</h2>\n<p class=\"reading\">{}</p>",
                spans_html(&reading(s))
            );
        }
        if let Some(sw) = &self.sweep {
            h.push_str(&sweep_section::html(sw, self.info.replications));
        }
        if let Some(a) = &self.info.assumptions {
            let _ = writeln!(
                h,
                "<h2>Assumptions</h2>\n<div class=\"assumptions\">\n{}</div>",
                comments_html(a)
            );
        }
        if let Some(s) = &self.summary {
            h.push_str("<h2>Policies</h2>\n");
            h.push_str(&self.table_html(s));
        }
        if let Some(p) = &self.providers {
            h.push_str(&provider_section::html(p, self.providers_chart()));
        }
        let charts = self.other_charts();
        if !charts.is_empty() {
            h.push_str("<h2>Charts</h2>\n");
            for c in charts {
                h.push_str(&chart_html(c));
            }
        }
        for n in &self.charts.notes {
            let _ = writeln!(h, "<p class=\"note\">{}</p>", escape(n));
        }
        let files = if self.providers.is_some() {
            "summary.csv, latency.csv, timeseries.csv, sweep_summary.csv, providers.csv"
        } else {
            "summary.csv, latency.csv, timeseries.csv, sweep_summary.csv"
        };
        let _ = write!(
            h,
            "<p class=\"note\">Every number on this page comes from the CSV files beside it \
             ({files}); the charts are also in charts/ as SVG and PNG. \
             Regenerate with <code>stampede report DIR</code>.</p>\n</body>\n</html>\n",
        );
        h
    }

    fn table_html(&self, s: &Summary) -> String {
        let winners = self.winners();
        let reps = s.replications.unwrap_or(1);
        let mut t = String::from("<div class=\"scroll\"><table>\n<thead><tr><th>");
        t.push_str(if reps > 1 {
            "mean (± 95% CI)"
        } else {
            "metric"
        });
        t.push_str("</th>");
        for p in &s.policies {
            let color = policy_color(s, &p.name);
            let badge = if failed(p) {
                format!("<span class=\"badge\">✗ {}</span>", escape(&failed_jobs(p)))
            } else {
                String::new()
            };
            let _ = write!(
                t,
                "<th{}><span class=\"swatch\" style=\"background:{color}\"></span>{}{badge}</th>",
                column_class(p, &winners),
                escape(&p.name).replace('_', "_<wbr>")
            );
        }
        t.push_str("</tr></thead>\n<tbody>\n");
        for (key, label, f) in self.rows() {
            let _ = write!(t, "<tr><td>{}</td>", escape(label));
            let style = row_style(s, key, f);
            for p in &s.policies {
                let class = column_class(p, &winners);
                let ci = p.ci(key);
                let ci_text = if reps > 1 && ci > 0.0 {
                    format!(
                        "<span class=\"ci\">± {}</span>",
                        escape(&style.show(ci, None))
                    )
                } else {
                    String::new()
                };
                let _ = write!(
                    t,
                    "<td{class}>{}{ci_text}</td>",
                    escape(&style.show(p.get(key), None))
                );
            }
            t.push_str("</tr>\n");
        }
        t.push_str("</tbody>\n</table></div>\n");
        if !winners.is_empty() {
            t.push_str(
                "<p class=\"note\">Shaded green: the lowest job latency p99 among the policies that finished every job.</p>\n",
            );
        }
        if s.policies.iter().any(failed) {
            t.push_str(
                "<p class=\"note\">Shaded red, marked ✗: policies whose jobs failed; their cost and latency measure runs that stopped early.</p>\n",
            );
        }
        t
    }

    fn markdown(&self) -> String {
        let mut m = String::new();
        let title = self.title();
        let _ = writeln!(m, "# {title}\n");
        if let Some(d) = &self.info.description {
            let _ = writeln!(m, "{d}\n");
        }
        let _ = writeln!(m, "_{}_\n", self.meta());
        if let Some(s) = &self.summary {
            let _ = writeln!(m, "## Reading\n\n{}\n", spans_md(&reading(s)));
        }
        if let Some(sw) = &self.sweep {
            m.push_str(&sweep_section::markdown(sw, self.info.replications));
        }
        if let Some(a) = &self.info.assumptions {
            let _ = writeln!(m, "## Assumptions\n\n{}\n", comments_md(a));
        }
        if let Some(s) = &self.summary {
            let winners = self.winners();
            let reps = s.replications.unwrap_or(1);
            m.push_str("## Policies\n\n| ");
            m.push_str(if reps > 1 {
                "mean (± 95% CI)"
            } else {
                "metric"
            });
            for p in &s.policies {
                if winners.contains(&p.name) {
                    let _ = write!(m, " | **{}**", p.name);
                } else if failed(p) {
                    let _ = write!(m, " | {} ✗ {}", p.name, failed_jobs(p));
                } else {
                    let _ = write!(m, " | {}", p.name);
                }
            }
            m.push_str(" |\n|---");
            for _ in &s.policies {
                m.push_str("|---:");
            }
            m.push_str("|\n");
            for (key, label, f) in self.rows() {
                let _ = write!(m, "| {label}");
                let style = row_style(s, key, f);
                for p in &s.policies {
                    let ci = p.ci(key);
                    let ci = (reps > 1 && ci > 0.0).then_some(ci);
                    let _ = write!(m, " | {}", style.show(p.get(key), ci));
                }
                m.push_str(" |\n");
            }
            if !winners.is_empty() {
                m.push_str(
                    "\nIn bold: the lowest job latency p99 among the policies that finished every job.\n",
                );
            }
            if s.policies.iter().any(failed) {
                m.push_str(
                    "\nMarked ✗: policies whose jobs failed; their cost and latency measure runs that stopped early.\n",
                );
            }
            m.push('\n');
        }
        if let Some(p) = &self.providers {
            m.push_str(&provider_section::markdown(p, self.providers_chart()));
        }
        let charts = self.other_charts();
        if !charts.is_empty() {
            m.push_str("## Charts\n\n");
            for c in charts {
                let _ = writeln!(
                    m,
                    "### {}\n\n![{}]({}/{}.png)\n\n{}\n",
                    c.title,
                    c.title,
                    charts::CHARTS_DIR,
                    c.name,
                    c.about
                );
            }
        }
        for n in &self.charts.notes {
            let _ = writeln!(m, "_{n}_\n");
        }
        m
    }
}

pub(super) fn chart_html(c: &Chart) -> String {
    format!(
        "<figure id=\"{}\">\n{}\n<figcaption>{}</figcaption>\n</figure>\n",
        escape(&c.name),
        inline_svg(&c.svg),
        escape(&c.about)
    )
}

/// One unit for a whole row of the policy table, chosen from its means.
fn row_style(s: &Summary, key: &str, f: Format) -> RowStyle {
    let means: Vec<f64> = s.policies.iter().map(|p| p.get(key)).collect();
    RowStyle::for_row(&means, f)
}

/// The class of a policy's table cells: the winner's shade, or the failure shade.
fn column_class(p: &PolicySummary, winners: &[String]) -> &'static str {
    if winners.contains(&p.name) {
        " class=\"win\""
    } else if failed(p) {
        " class=\"failed\""
    } else {
        ""
    }
}

/// The policy's chart colour as CSS, so that the table's swatches match the charts.
fn policy_color(s: &Summary, name: &str) -> String {
    let i = s.policies.iter().position(|p| p.name == name).unwrap_or(0);
    let (r, g, b) = charts::palette_rgb(i);
    format!("#{r:02x}{g:02x}{b:02x}")
}
