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
use super::data::{self, PolicySummary, ScenarioInfo, Summary};
use super::table::{Format, ROWS, format};
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
        charts,
    };
    let mut written = Vec::new();
    for (name, text) in [(HTML_FILE, page.html()), (MD_FILE, page.markdown())] {
        let path = dir.join(name);
        crate::io::write_atomic(&path, text.as_bytes()).map_err(|source| PlotError::Io {
            path: path.clone(),
            source,
        })?;
        written.push(path);
    }
    written.extend(chart_files);
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
    charts: Charts,
}

/// A run of text with emphasis and code, rendered to HTML or Markdown.
#[derive(Clone, Debug)]
enum Span {
    Text(String),
    Strong(String),
}

fn spans_html(spans: &[Span]) -> String {
    spans
        .iter()
        .map(|s| match s {
            Span::Text(t) => escape(t),
            Span::Strong(t) => format!("<strong>{}</strong>", escape(t)),
        })
        .collect()
}

fn spans_md(spans: &[Span]) -> String {
    spans
        .iter()
        .map(|s| match s {
            Span::Text(t) => t.clone(),
            Span::Strong(t) => format!("**{t}**"),
        })
        .collect()
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `` `code` `` in escaped text becomes `<code>`.
fn inline_code(escaped: &str) -> String {
    let mut out = String::new();
    for (i, part) in escaped.split('`').enumerate() {
        if i % 2 == 1 {
            let _ = write!(out, "<code>{part}</code>");
        } else {
            out.push_str(part);
        }
    }
    if escaped.matches('`').count() % 2 == 1 {
        return escaped.to_string();
    }
    out
}

/// A paragraph or list item of the comment block: flowing text, then any lines laid out in
/// columns, kept as written.
#[derive(Default)]
struct Flow {
    text: String,
    aligned: Vec<String>,
}

impl Flow {
    fn new(first: &str) -> Flow {
        let mut f = Flow::default();
        f.push(first, first);
        f
    }

    /// Adds a line: to the text, or, once a line is laid out in columns (three spaces inside
    /// it), verbatim to the aligned lines.
    fn push(&mut self, raw: &str, trimmed: &str) {
        if !self.aligned.is_empty() || trimmed.contains("   ") {
            self.aligned.push(raw.to_string());
        } else {
            if !self.text.is_empty() {
                self.text.push(' ');
            }
            self.text.push_str(trimmed);
        }
    }

    /// The lines laid out in columns, their common indentation removed.
    fn aligned_lines(&self) -> Vec<String> {
        let indent = self
            .aligned
            .iter()
            .map(|l| l.len() - l.trim_start().len())
            .min()
            .unwrap_or(0);
        self.aligned
            .iter()
            .map(|l| l.get(indent..).unwrap_or(l).trim_end().to_string())
            .collect()
    }

    /// Markdown, continuation lines indented by `indent` (inside a list item).
    fn markdown(&self, indent: &str) -> String {
        let mut out = self.text.clone();
        if !self.aligned.is_empty() {
            let _ = write!(out, "\n\n{indent}```text");
            for l in self.aligned_lines() {
                let _ = write!(out, "\n{indent}{l}");
            }
            let _ = write!(out, "\n{indent}```");
        }
        out
    }

    fn html(&self) -> String {
        let mut out = inline_code(&escape(&self.text));
        if !self.aligned.is_empty() {
            let lines: Vec<String> = self.aligned_lines().iter().map(|l| escape(l)).collect();
            let _ = write!(out, "<span class=\"aligned\">{}</span>", lines.join("\n"));
        }
        out
    }
}

enum Block {
    Para(Flow),
    List(Vec<Flow>),
}

/// The comment block as paragraphs and lists: blank lines separate paragraphs, `- ` starts a
/// list item, indented lines continue it, and lines laid out in columns keep their layout.
fn parse_comments(text: &str) -> Vec<Block> {
    let mut blocks: Vec<Block> = Vec::new();
    let mut open = false;
    for line in text.lines() {
        let t = line.trim();
        if t.is_empty() {
            open = false;
            continue;
        }
        if let Some(item) = t.strip_prefix("- ").or_else(|| t.strip_prefix("* ")) {
            match blocks.last_mut() {
                Some(Block::List(items)) if open => items.push(Flow::new(item)),
                _ => blocks.push(Block::List(vec![Flow::new(item)])),
            }
            open = true;
            continue;
        }
        match blocks.last_mut() {
            Some(Block::List(items)) if open && line.starts_with(' ') => {
                if let Some(last) = items.last_mut() {
                    last.push(line, t);
                }
            }
            Some(Block::Para(p)) if open => p.push(line, t),
            _ => blocks.push(Block::Para(Flow::new(t))),
        }
        open = true;
    }
    blocks
}

fn comments_html(text: &str) -> String {
    let mut out = String::new();
    for b in parse_comments(text) {
        match b {
            Block::Para(p) => {
                let _ = writeln!(out, "<p>{}</p>", p.html());
            }
            Block::List(items) => {
                out.push_str("<ul>\n");
                for i in items {
                    let _ = writeln!(out, "<li>{}</li>", i.html());
                }
                out.push_str("</ul>\n");
            }
        }
    }
    out
}

/// The comment block as Markdown: the same paragraphs and lists, column layouts as code blocks.
fn comments_md(text: &str) -> String {
    let mut out = String::new();
    for b in parse_comments(text) {
        match b {
            Block::Para(p) => {
                let _ = writeln!(out, "{}\n", p.markdown(""));
            }
            Block::List(items) => {
                for i in items {
                    let _ = writeln!(out, "- {}", i.markdown("  "));
                }
                out.push('\n');
            }
        }
    }
    out.trim_end().to_string()
}

/// An SVG document as an element of an HTML page: no XML namespace attribute (HTML does not need
/// it, and the page then names no outside address at all).
fn inline_svg(svg: &str) -> String {
    svg.replacen(" xmlns=\"http://www.w3.org/2000/svg\"", "", 1)
        .replacen("<svg ", "<svg role=\"img\" ", 1)
}

fn plural(n: f64, one: &str, many: &str) -> String {
    let count = format(n, Format::Count);
    if n == 1.0 {
        format!("{count} {one}")
    } else {
        format!("{count} {many}")
    }
}

fn secs(v: f64) -> String {
    format(v, Format::Secs)
}

fn usd(v: f64) -> String {
    format(v, Format::Usd)
}

/// "a", "a and b", "a, b and c".
fn and_list(items: &[String]) -> String {
    match items.len() {
        0 => String::new(),
        1 => items[0].clone(),
        n => format!("{} and {}", items[..n - 1].join(", "), items[n - 1]),
    }
}

/// The reading of the results: the winner, what it costs against the cheapest, who was refused
/// how often, and who failed. Built from the numbers only.
fn reading(summary: &Summary) -> Vec<Span> {
    let mut s: Vec<Span> = Vec::new();
    let text = |s: &mut Vec<Span>, t: String| s.push(Span::Text(t));
    let ps = &summary.policies;
    let reps = summary.replications.unwrap_or(1);
    let p99 = |p: &PolicySummary| p.get("job_latency_p99_s");
    let cost = |p: &PolicySummary| p.get("cost_usd");
    let ok: Vec<&PolicySummary> = ps
        .iter()
        .filter(|p| p.get("jobs_failed") == 0.0 && p99(p).is_finite())
        .collect();
    let cheapest = ps
        .iter()
        .filter(|p| cost(p).is_finite())
        .min_by(|a, b| cost(a).total_cmp(&cost(b)));
    if reps > 1 {
        text(
            &mut s,
            format!("Means over {reps} replications per policy. "),
        );
    }
    if let Some(best) = ok.iter().min_by(|a, b| p99(a).total_cmp(&p99(b))) {
        let ties: Vec<String> = ok
            .iter()
            .filter(|p| p99(p) == p99(best) && cost(p) == cost(best))
            .map(|p| p.name.clone())
            .collect();
        s.push(Span::Strong(and_list(&ties)));
        let every = if ok.len() == ps.len() {
            "of all policies (every one finished all its jobs)".to_string()
        } else {
            "among the policies that finished every job".to_string()
        };
        text(
            &mut s,
            format!(
                " {} the lowest job latency p99 {every}: {} (call latency p99 {}), with {}. ",
                if ties.len() > 1 { "share" } else { "has" },
                secs(p99(best)),
                secs(best.get("call_latency_p99_s")),
                if best.get("rate_limited") == 0.0 {
                    "no 429s".to_string()
                } else {
                    plural(best.get("rate_limited"), "429", "429s")
                },
            ),
        );
        if ties.len() > 1 {
            text(
                &mut s,
                "Their results are identical: on this workload the settings that differ between them never came into play. ".into(),
            );
        }
        let it = if ties.len() > 1 {
            "They cost"
        } else {
            "It costs"
        };
        if let Some(c) = cheapest {
            if cost(c) >= cost(best) {
                text(
                    &mut s,
                    format!("{it} {}, the least of any policy. ", usd(cost(best))),
                );
            } else {
                let ratio = cost(best) / cost(c);
                let failed = c.get("jobs_failed");
                let why = if failed > 0.0 {
                    format!(
                        ", which failed {} of {} jobs",
                        format(failed, Format::Count),
                        format(c.get("jobs"), Format::Count)
                    )
                } else {
                    format!(" (job latency p99 {})", secs(p99(c)))
                };
                text(
                    &mut s,
                    format!(
                        "{it} {}, {:.1}x the cheapest policy, {} at {}{why}. ",
                        usd(cost(best)),
                        ratio,
                        c.name,
                        usd(cost(c))
                    ),
                );
                let cheapest_ok = ok
                    .iter()
                    .filter(|co| co.name != c.name && cost(co) < cost(best))
                    .min_by(|a, b| cost(a).total_cmp(&cost(b)));
                if let Some(co) = cheapest_ok {
                    text(
                        &mut s,
                        format!(
                            "The cheapest policy that finished every job is {} at {} with a job p99 of {}. ",
                            co.name,
                            usd(cost(co)),
                            secs(p99(co))
                        ),
                    );
                }
            }
        }
        if reps > 1 {
            let runner = ok
                .iter()
                .filter(|p| !ties.contains(&p.name))
                .min_by(|a, b| p99(a).total_cmp(&p99(b)));
            if let Some(r) = runner {
                let overlap =
                    p99(best) + best.ci("job_latency_p99_s") >= p99(r) - r.ci("job_latency_p99_s");
                text(
                    &mut s,
                    format!(
                        "Its lead over the runner-up, {} ({}), is {} the 95% confidence intervals. ",
                        r.name,
                        secs(p99(r)),
                        if overlap { "within" } else { "beyond" }
                    ),
                );
            }
        }
    } else if let Some(least) = ps
        .iter()
        .min_by(|a, b| a.get("jobs_failed").total_cmp(&b.get("jobs_failed")))
    {
        text(&mut s, "No policy finished every job. ".into());
        s.push(Span::Strong(least.name.clone()));
        text(
            &mut s,
            format!(
                " failed the fewest: {} of {} jobs, at {} with a job latency p99 of {}. ",
                format(least.get("jobs_failed"), Format::Count),
                format(least.get("jobs"), Format::Count),
                usd(cost(least)),
                secs(p99(least))
            ),
        );
    }
    // The trade-off among the policies that finished: those no other beats on both p99 and
    // cost (one entry per distinct point), and those that are dominated, by whom.
    let dominates = |q: &PolicySummary, p: &PolicySummary| {
        p99(q) <= p99(p) && cost(q) <= cost(p) && (p99(q) < p99(p) || cost(q) < cost(p))
    };
    let mut frontier: Vec<&PolicySummary> = ok
        .iter()
        .copied()
        .filter(|p| !ok.iter().any(|q| dominates(q, p)))
        .collect();
    frontier.sort_by(|a, b| p99(a).total_cmp(&p99(b)));
    frontier.dedup_by(|a, b| p99(a) == p99(b) && cost(a) == cost(b));
    if frontier.len() > 1 {
        let points: Vec<String> = frontier
            .iter()
            .map(|p| format!("{} ({}, {})", p.name, secs(p99(p)), usd(cost(p))))
            .collect();
        text(
            &mut s,
            format!(
                "The trade-off, from fastest to cheapest, among the policies that finished every job (none of them beaten on both job p99 and cost): {}. ",
                and_list(&points)
            ),
        );
    }
    let mut dominated: Vec<(String, Vec<String>)> = Vec::new();
    for p in &ok {
        if let Some(q) = frontier.iter().find(|q| dominates(q, p)) {
            match dominated.iter_mut().find(|(by, _)| *by == q.name) {
                Some((_, names)) => names.push(p.name.clone()),
                None => dominated.push((q.name.clone(), vec![p.name.clone()])),
            }
        }
    }
    for (by, names) in dominated {
        text(
            &mut s,
            format!(
                "{} finished every job too, but {} slower and no cheaper than {by}. ",
                and_list(&names),
                if names.len() > 1 { "are" } else { "is" }
            ),
        );
    }
    let refused: Vec<String> = ps
        .iter()
        .map(|p| {
            format!(
                "{} {}",
                p.name,
                format(p.get("rate_limited"), Format::Count)
            )
        })
        .collect();
    text(&mut s, format!("429s per policy: {}. ", and_list(&refused)));
    let failed: Vec<String> = ps
        .iter()
        .filter(|p| p.get("jobs_failed") > 0.0)
        .map(|p| {
            format!(
                "{} ({} of {} jobs, {} calls gave up)",
                p.name,
                format(p.get("jobs_failed"), Format::Count),
                format(p.get("jobs"), Format::Count),
                format(p.get("gave_up"), Format::Count)
            )
        })
        .collect();
    if !failed.is_empty() {
        text(&mut s, format!("Failed jobs: {}.", and_list(&failed)));
    }
    if let Some(Span::Text(t)) = s.last_mut() {
        *t = t.trim_end().to_string();
    }
    s
}

const STYLE: &str = "\
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
th:first-child,td:first-child{text-align:left}thead th{border-bottom:2px solid #999}\
.win{background:#eef6e9}.ci{display:block;color:#777;font-size:12px;line-height:1.2}.swatch{display:inline-block;width:10px;\
height:10px;border-radius:2px;margin-right:5px}\
.scroll{overflow-x:auto}figure{margin:16px 0 28px}figure svg{width:100%;height:auto;\
max-width:1200px;border:1px solid #eee}\
figure svg text{font-family:'DejaVu Sans',Verdana,sans-serif}\
.aligned{display:block;white-space:pre;font-family:'DejaVu Sans Mono',Menlo,Consolas,\
monospace;font-size:13px;margin:4px 0;overflow-x:auto}figcaption{color:#444;font-size:14px;margin-top:4px}.note{color:#777;font-size:13px}";

impl Page {
    fn title(&self) -> String {
        self.info
            .name
            .clone()
            .or_else(|| self.summary.as_ref().and_then(|s| s.scenario.clone()))
            .unwrap_or_else(|| "stampede run".to_string())
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
            parts.push(plural(
                r as f64,
                "replication per policy",
                "replications per policy",
            ));
        }
        if let Some(s) = &self.summary {
            parts.push(plural(s.policies.len() as f64, "policy", "policies"));
        }
        parts.push(format!(
            "written by stampede {} from the run's CSV files",
            env!("CARGO_PKG_VERSION")
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
        if !self.charts.charts.is_empty() {
            h.push_str("<h2>Charts</h2>\n");
            for c in &self.charts.charts {
                h.push_str(&chart_html(c));
            }
        }
        for n in &self.charts.notes {
            let _ = writeln!(h, "<p class=\"note\">{}</p>", escape(n));
        }
        h.push_str(
            "<p class=\"note\">Every number on this page comes from the CSV files beside it \
             (summary.csv, latency.csv, timeseries.csv); the charts are also in charts/ as SVG and PNG. \
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
            let class = if winners.contains(&p.name) {
                " class=\"win\""
            } else {
                ""
            };
            let color = policy_color(s, &p.name);
            let _ = write!(
                t,
                "<th{class}><span class=\"swatch\" style=\"background:{color}\"></span>{}</th>",
                escape(&p.name).replace('_', "_<wbr>")
            );
        }
        t.push_str("</tr></thead>\n<tbody>\n");
        for (key, label, f) in self.rows() {
            let _ = write!(t, "<tr><td>{}</td>", escape(label));
            for p in &s.policies {
                let class = if winners.contains(&p.name) {
                    " class=\"win\""
                } else {
                    ""
                };
                let ci = p.ci(key);
                let ci_text = if reps > 1 && ci > 0.0 {
                    format!("<span class=\"ci\">± {}</span>", escape(&format(ci, f)))
                } else {
                    String::new()
                };
                let _ = write!(
                    t,
                    "<td{class}>{}{ci_text}</td>",
                    escape(&format(p.get(key), f))
                );
            }
            t.push_str("</tr>\n");
        }
        t.push_str("</tbody>\n</table></div>\n");
        if !winners.is_empty() {
            t.push_str(
                "<p class=\"note\">Shaded: the lowest job latency p99 among the policies that finished every job.</p>\n",
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
                for p in &s.policies {
                    let ci = p.ci(key);
                    if reps > 1 && ci > 0.0 {
                        let _ = write!(m, " | {} ± {}", format(p.get(key), f), format(ci, f));
                    } else {
                        let _ = write!(m, " | {}", format(p.get(key), f));
                    }
                }
                m.push_str(" |\n");
            }
            if !winners.is_empty() {
                m.push_str(
                    "\nIn bold: the lowest job latency p99 among the policies that finished every job.\n",
                );
            }
            m.push('\n');
        }
        if !self.charts.charts.is_empty() {
            m.push_str("## Charts\n\n");
            for c in &self.charts.charts {
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

fn chart_html(c: &Chart) -> String {
    format!(
        "<figure id=\"{}\">\n{}\n<figcaption>{}</figcaption>\n</figure>\n",
        escape(&c.name),
        inline_svg(&c.svg),
        escape(&c.about)
    )
}

/// The policy's chart colour as CSS, so that the table's swatches match the charts.
fn policy_color(s: &Summary, name: &str) -> String {
    let i = s.policies.iter().position(|p| p.name == name).unwrap_or(0);
    let (r, g, b) = charts::palette_rgb(i);
    format!("#{r:02x}{g:02x}{b:02x}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn policy(name: &str, p99: f64, cost: f64, failed: f64, rate_limited: f64) -> PolicySummary {
        let mean: BTreeMap<String, f64> = [
            ("job_latency_p99_s", p99),
            ("call_latency_p99_s", p99 / 4.0),
            ("cost_usd", cost),
            ("jobs", 1.0),
            ("jobs_failed", failed),
            ("rate_limited", rate_limited),
            ("gave_up", failed * 10.0),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        PolicySummary {
            name: name.into(),
            mean,
            ci95: BTreeMap::new(),
        }
    }

    #[test]
    fn the_reading_names_the_fastest_policy_that_finished_and_its_cost_against_the_cheapest() {
        let s = Summary {
            replications: Some(1),
            policies: vec![
                policy("naive", 476.5, 1.89, 1.0, 5586.0),
                policy("jitter_only", 768.0, 16.78, 0.0, 5058.0),
                policy("bucket_only", 38.3, 6.05, 0.0, 0.0),
                policy("fixed", 38.3, 6.05, 0.0, 0.0),
            ],
            ..Summary::default()
        };
        let text = spans_md(&reading(&s));
        assert!(
            text.starts_with("**bucket_only and fixed** share the lowest job latency p99 among the policies that finished every job: 38.3 s"),
            "{text}"
        );
        assert!(text.contains("They cost $6.05, 3.2x the cheapest policy, naive at $1.89, which failed 1 of 1 jobs."), "{text}");
        assert!(
            text.contains(
                "429s per policy: naive 5,586, jitter_only 5,058, bucket_only 0 and fixed 0."
            ),
            "{text}"
        );
        assert!(
            text.contains("Failed jobs: naive (1 of 1 jobs, 10 calls gave up)."),
            "{text}"
        );
    }

    #[test]
    fn lines_laid_out_in_columns_keep_their_layout() {
        let html = comments_html(
            "- Policies:\n  direct          no budget: everyone meets\n                  the limit.\n  fair            round robin.\n- next",
        );
        assert_eq!(
            html,
            "<ul>\n<li>Policies:<span class=\"aligned\">direct          no budget: everyone meets\n                the limit.\nfair            round robin.</span></li>\n<li>next</li>\n</ul>\n"
        );
    }

    #[test]
    fn comments_become_paragraphs_and_lists() {
        let html =
            comments_html("Intro line\ncontinued.\n\nAssumptions:\n- one `a<b`\n  more\n- two");
        assert_eq!(
            html,
            "<p>Intro line continued.</p>\n<p>Assumptions:</p>\n<ul>\n<li>one <code>a&lt;b</code> more</li>\n<li>two</li>\n</ul>\n"
        );
    }
}
