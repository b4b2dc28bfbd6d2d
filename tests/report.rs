//! The design-review report as a reader meets it: failures named first and marked in the
//! tables, a sweep's report with its findings, and both pages rendered by a real browser with
//! every chart on screen (screenshots kept under target/report-screenshots/ for CI artifacts).

mod support;

use std::path::Path;
use std::process::Command;
use support::cli::{ok, scenario, stampede, text};

/// Runs the cascade (one replication) into a fresh directory and writes its report.
fn run_report() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    ok(
        stampede()
            .arg("run")
            .arg(scenario("cascade_12_agents.toml"))
            .arg("--out")
            .arg(dir.path())
            .output()
            .unwrap(),
        "stampede run",
    );
    ok(
        stampede().arg("report").arg(dir.path()).output().unwrap(),
        "stampede report",
    );
    dir
}

/// Sweeps a 3 x 3 corner of the cascade sweep (two replications) and writes its report.
fn sweep_report() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    ok(
        stampede()
            .arg("sweep")
            .arg(scenario("cascade_sweep.toml"))
            .args([
                "--set",
                "source.0.job.agents=4,12,24",
                "--set",
                "policy.fixed.bucket.rate=45000,60000,80000",
                "--replications",
                "2",
                "--out",
            ])
            .arg(dir.path())
            .output()
            .unwrap(),
        "stampede sweep",
    );
    ok(
        stampede().arg("report").arg(dir.path()).output().unwrap(),
        "stampede report",
    );
    dir
}

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file)).unwrap()
}

#[test]
fn a_failed_policy_is_named_first_marked_in_the_table_and_never_the_yardstick() {
    let dir = run_report();
    let html = read(dir.path(), "report.html");
    let reading = html
        .split("<p class=\"reading\">")
        .nth(1)
        .and_then(|r| r.split("</p>").next())
        .expect("a reading paragraph");
    assert!(
        reading.starts_with("<strong>Failed: naive failed 1 of 1 jobs"),
        "the reading opens with the failure: {reading}"
    );
    assert!(
        !reading.contains("the cheapest policy, naive"),
        "a failed policy is no yardstick: {reading}"
    );
    assert!(
        html.contains("<th class=\"failed\"><span class=\"swatch\""),
        "the failed policy's column header is shaded"
    );
    assert!(html.contains("<span class=\"badge\">✗ failed 1 of 1 jobs</span>"));
    let md = read(dir.path(), "report.md");
    assert!(md.contains("| naive ✗ failed 1 of 1 jobs |"), "{md}");
    assert!(md.contains("Marked ✗: policies whose jobs failed"));
}

#[test]
fn a_sweep_report_says_what_was_swept_where_each_policy_breaks_and_the_best_settings() {
    let dir = sweep_report();
    let html = read(dir.path(), "report.html");
    assert!(
        html.contains("<h1>cascade_sweep</h1>"),
        "titled by the scenario"
    );
    assert!(html.contains("how wide can we fan out"), "its description");
    assert!(html.contains("2 replications per point and policy"));
    for section in [
        "<h2>Findings</h2>",
        "<h2>Where each policy breaks</h2>",
        "<h2>Best settings</h2>",
        "<h2>Charts</h2>",
    ] {
        assert!(html.contains(section), "{section}");
    }
    assert!(html.contains(
        "Swept source.0.job.agents over 4, 12 and 24 and policy.fixed.bucket.rate over 45000, 60000 and 80000 for 3 policies (naive, jitter_only and fixed): 9 grid points, 2 replications each."
    ));
    assert!(
        html.contains("<strong>naive fails jobs from source.0.job.agents = 12</strong>"),
        "naive's known cliff"
    );
    // The best setting at 24 agents is the shared bucket below the provider's limit.
    assert!(
        html.contains(
            "<td>source.0.job.agents = 24</td><td>fixed (policy.fixed.bucket.rate = 60000)</td>"
        ),
        "{html}"
    );
    assert_eq!(html.matches("<svg ").count(), 2, "both heatmaps inlined");
    let md = read(dir.path(), "report.md");
    assert!(md.starts_with("# cascade_sweep\n"));
    assert!(md.contains("## Where each policy breaks"));
}

/// Every chart of a run where a policy failed names that policy with its failure in red, so a
/// line or bar cut short by the failure is never read as a fast, cheap result.
#[test]
fn every_chart_of_a_run_names_a_failed_policy_in_red() {
    for (file, failed, charts) in [
        (
            "cascade_12_agents.toml",
            "naive",
            &["latency_cdf", "tradeoff"][..],
        ),
        (
            "runaway_loop.toml",
            "uncapped",
            &["latency_cdf", "timeseries", "tradeoff", "tenants"][..],
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        ok(
            stampede()
                .arg("run")
                .arg(scenario(file))
                .arg("--out")
                .arg(dir.path())
                .output()
                .unwrap(),
            "stampede run",
        );
        for chart in charts {
            let svg = support::svg::parse(&read(dir.path(), &format!("charts/{chart}.svg")));
            let marked = svg.texts.iter().any(|t| {
                t.content.starts_with(failed)
                    && t.content.contains("FAILED")
                    && t.fill.eq_ignore_ascii_case("#C81E1E")
            });
            assert!(
                marked,
                "{file} {chart}: no red \"{failed} ... FAILED\" label among {:?}",
                svg.texts.iter().map(|t| &t.content).collect::<Vec<_>>()
            );
        }
    }
}

/// A browser on this machine, or `None` (a failure in CI, where .ci/run installs one).
fn chromium() -> Option<&'static str> {
    let found = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|b| {
            Command::new(b)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        });
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "no chromium in CI: .ci/run should have installed it (apt-get install chromium)"
        );
        eprintln!(
            "skipped: no chromium on this machine (apt-get install chromium to run this test)"
        );
    }
    found
}

fn headless(browser: &str, profile: &Path) -> Command {
    let mut c = Command::new(browser);
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    c
}

/// Where a figure was laid out, as the browser measured it.
#[derive(Debug)]
struct Laid {
    id: String,
    top: f64,
    height: f64,
    width: f64,
    /// The size of what the SVG draws (its bounding box), zero when nothing was rendered.
    drawn: (f64, f64),
}

/// Opens a copy of `page` with a script that measures every figure's chart, and returns the
/// measurements and the page's height. The report itself has no script: only this copy does.
fn layout(browser: &str, page: &Path) -> (Vec<Laid>, f64) {
    let html = std::fs::read_to_string(page).unwrap();
    let probe = "<script>(function(){var out=[];document.querySelectorAll('figure').forEach(function(f){\
var s=f.querySelector('svg');var r=s.getBoundingClientRect();var b=s.getBBox();\
out.push(['figure',f.id,r.top,r.height,r.width,b.width,b.height].join(' '));});\
out.push('page '+document.documentElement.scrollHeight);\
var p=document.createElement('pre');p.id='probe';p.textContent=out.join('\\n');document.body.appendChild(p);})();</script>";
    let probed = page.with_file_name("probed.html");
    std::fs::write(&probed, html.replace("</body>", &format!("{probe}</body>"))).unwrap();
    let profile = tempfile::tempdir().unwrap();
    let out = headless(browser, profile.path())
        .arg("--dump-dom")
        .arg(format!("file://{}", probed.display()))
        .output()
        .unwrap();
    let dom = text(&out.stdout);
    let probe = dom
        .split("<pre id=\"probe\">")
        .nth(1)
        .and_then(|p| p.split("</pre>").next())
        .unwrap_or_else(|| panic!("the probe ran: {}", text(&out.stderr)));
    let mut figures = Vec::new();
    let mut height = 0.0;
    for line in probe.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        let n = |i: usize| f[i].parse::<f64>().unwrap();
        match f[0] {
            "figure" => figures.push(Laid {
                id: f[1].to_string(),
                top: n(2),
                height: n(3),
                width: n(4),
                drawn: (n(5), n(6)),
            }),
            "page" => height = n(1),
            _ => {}
        }
    }
    (figures, height)
}

/// Renders `dir/report.html` in headless Chromium: every chart laid out at a readable size and
/// drawn, and a full-page screenshot (kept as `target/report-screenshots/<name>.png`) showing
/// ink in every chart's place.
fn renders_every_chart(browser: &str, dir: &Path, name: &str, charts: &[&str]) {
    let page = dir.join("report.html");
    let (figures, height) = layout(browser, &page);
    let ids: Vec<&str> = figures.iter().map(|f| f.id.as_str()).collect();
    assert_eq!(ids, charts, "the figures on the page");
    for f in &figures {
        assert!(
            f.width >= 600.0 && f.height >= 250.0,
            "{name}: {} is laid out at a readable size: {f:?}",
            f.id
        );
        assert!(
            f.drawn.0 > 0.5 * f.width && f.drawn.1 > 0.5 * f.height,
            "{name}: {} draws across its area: {f:?}",
            f.id
        );
    }
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/report-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let shot = shots.join(format!("{name}.png"));
    let _ = std::fs::remove_file(&shot);
    let profile = tempfile::tempdir().unwrap();
    let h = height.ceil() as u32;
    let out = headless(browser, profile.path())
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("--window-size=1200,{h}"))
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    assert!(
        shot.is_file(),
        "chromium wrote no screenshot: {}",
        text(&out.stderr)
    );
    let mut decoder =
        png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&shot).unwrap()));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let (w, channels) = (info.width as usize, info.color_type.samples());
    assert_eq!(info.height, h, "the whole page in one screenshot");
    for f in &figures {
        let (y0, y1) = (f.top as usize, (f.top + f.height) as usize);
        let mut colours = std::collections::HashSet::new();
        let mut ink = 0;
        for y in y0..y1.min(info.height as usize) {
            for x in 0..w {
                let i = (y * w + x) * channels;
                let px = (buf[i], buf[i + 1], buf[i + 2]);
                if px != (255, 255, 255) {
                    ink += 1;
                    colours.insert((px.0 >> 4, px.1 >> 4, px.2 >> 4));
                }
            }
        }
        assert!(
            ink > 10_000 && colours.len() > 20,
            "{name}: {} shows on screen ({ink} inked pixels, {} colours)",
            f.id,
            colours.len()
        );
    }
}

#[test]
fn the_run_and_sweep_reports_render_in_headless_chromium_with_every_chart_on_screen() {
    let Some(browser) = chromium() else {
        return;
    };
    let run = run_report();
    renders_every_chart(browser, run.path(), "run", &["latency_cdf", "tradeoff"]);
    let sweep = sweep_report();
    renders_every_chart(
        browser,
        sweep.path(),
        "sweep",
        &["heatmap_job_latency_p99_s", "heatmap_cost_usd"],
    );
}
