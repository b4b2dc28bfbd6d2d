//! Charts and the design-review report, through the command line: `stampede run` draws charts
//! unless `--no-charts`, `stampede plot DIR` redraws them from the CSVs (SVG and PNG, the same
//! bytes every time), `stampede report DIR` writes a self-contained page, and a directory with
//! nothing to plot is bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn stampede() -> Command {
    Command::new(env!("CARGO_BIN_EXE_stampede"))
}

fn cascade() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/cascade_12_agents.toml")
}

const CASCADE_POLICIES: [&str; 4] = ["naive", "jitter_only", "bucket_only", "fixed"];

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn ok(out: Output, what: &str) -> Output {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{what} failed: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    out
}

/// Runs the cascade into `dir` with `args`.
fn run_cascade(dir: &Path, args: &[&str]) {
    ok(
        stampede()
            .arg("run")
            .arg(cascade())
            .args(args)
            .arg("--out")
            .arg(dir)
            .output()
            .unwrap(),
        "stampede run",
    );
}

fn plot(dir: &Path) -> Output {
    stampede().arg("plot").arg(dir).output().unwrap()
}

/// The width and height in a PNG's IHDR chunk, after checking the signature.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert!(bytes.len() > 33, "a PNG is longer than its header");
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
    assert_eq!(&bytes[12..16], b"IHDR", "the first chunk is IHDR");
    let w = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    (w, h)
}

/// Decodes a PNG fully (every row), returning its size and RGB(A) pixels.
fn decode_png(path: &Path) -> (u32, u32, usize, Vec<u8>) {
    let mut decoder =
        png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().expect("a PNG header");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("the image data decodes");
    buf.truncate(info.buffer_size());
    (info.width, info.height, info.color_type.samples(), buf)
}

/// Hand-made CSVs for the charts a single run of the cascade does not produce.
fn write_fixtures(dir: &Path) {
    // Hand-made files beside a run's are a mixed set, which plot refuses while the run's
    // manifest and summary.json are there: drop them to plot the files as they are.
    for f in ["manifest.json", "summary.json"] {
        let _ = std::fs::remove_file(dir.join(f));
    }
    let mut ts = String::from(
        "policy,t_s,in_flight,provider_queue,client_queue,admitted_tokens_per_s,limit_tokens_per_s,rate_limited_per_s,errors_per_s,timeouts_per_s,goodput_calls_per_s\n",
    );
    for (i, p) in ["naive", "fixed"].iter().enumerate() {
        for k in 1..=24 {
            let t = k as f64 * 5.0;
            let limit = if (40.0..60.0).contains(&t) {
                20000.0
            } else {
                66667.0
            };
            let admitted = limit * (0.5 + 0.1 * i as f64);
            let refused = if i == 0 && t >= 40.0 { 12.0 } else { 0.0 };
            ts.push_str(&format!(
                "{p},{t},{},0,{},{admitted},{limit},{refused},0,0,{}\n",
                4 + i,
                i * 3,
                2.0 - i as f64 * 0.5
            ));
        }
    }
    std::fs::write(dir.join("timeseries.csv"), ts).unwrap();
    std::fs::write(
        dir.join("tenants.csv"),
        "policy,tenant,jobs,job_latency_p99_s,rate_limited,job_latency_p99_s_ci95\n\
         naive,interactive,10,20.5,120,1.0\nnaive,batch,30,55.0,300,2.0\n\
         fixed,interactive,10,12.0,0,0.5\nfixed,batch,30,31.0,0,1.5\n",
    )
    .unwrap();
}

fn sweep_fixture(params: &[&str]) -> String {
    let mut s = params.join(",");
    s.push_str(
        ",policy,job_latency_p99_s_mean,job_latency_p99_s_ci95,cost_usd_mean,cost_usd_ci95\n",
    );
    let second: &[f64] = if params.len() == 2 {
        &[30000.0, 60000.0]
    } else {
        &[0.0]
    };
    for agents in [4.0, 8.0, 12.0, 24.0] {
        for rate in second {
            for (i, p) in ["naive", "fixed"].iter().enumerate() {
                let lat = 30.0
                    + agents * (2.0 - i as f64) * if *rate > 0.0 { 60000.0 / rate } else { 1.0 };
                let cost = agents * 0.5;
                let point = if params.len() == 2 {
                    format!("{agents},{rate}")
                } else {
                    format!("{agents}")
                };
                s.push_str(&format!("{point},{p},{lat},{},{cost},0.05\n", lat * 0.1));
            }
        }
    }
    s
}

#[test]
fn plot_writes_an_svg_and_a_png_of_each_chart_and_each_png_decodes_at_its_size() {
    let dir = tempfile::tempdir().unwrap();
    run_cascade(dir.path(), &["--no-charts"]);
    write_fixtures(dir.path());
    let out = ok(plot(dir.path()), "stampede plot");
    let expected = [
        ("latency_cdf", (1000, 600)),
        ("timeseries", (1100, 44 + 30 + 215 * 5)),
        ("tradeoff", (1200, 620)),
        ("tenants", (1000, 44 + 26 + 290 * 2)),
    ];
    let charts = dir.path().join("charts");
    for (name, size) in expected {
        let svg = std::fs::read_to_string(charts.join(format!("{name}.svg")))
            .unwrap_or_else(|e| panic!("charts/{name}.svg: {e}"));
        assert!(
            svg.starts_with(&format!("<svg width=\"{}\" height=\"{}\"", size.0, size.1)),
            "{name}.svg is a {}x{} SVG: {}",
            size.0,
            size.1,
            &svg[..svg.len().min(120)]
        );
        assert!(svg.contains("<text"), "{name}.svg has text");
        let png = std::fs::read(charts.join(format!("{name}.png"))).unwrap();
        assert_eq!(png_size(&png), size, "{name}.png's IHDR");
        let (w, h, _, pixels) = decode_png(&charts.join(format!("{name}.png")));
        assert_eq!((w, h), size, "{name}.png decodes at its size");
        assert!(
            pixels.iter().any(|&b| b < 128),
            "{name}.png has dark pixels (text, axes)"
        );
        assert!(
            text(&out.stdout).contains(&format!("{name}.png")),
            "plot lists {name}.png"
        );
    }
    let cdf = std::fs::read_to_string(charts.join("latency_cdf.svg")).unwrap();
    for p in CASCADE_POLICIES {
        assert!(cdf.contains(p), "the CDF's legend names {p}");
    }
    assert!(
        cdf.contains("fixed (same as bucket_only)"),
        "a line hidden under an identical one is named in the legend"
    );
    let tenants = std::fs::read_to_string(charts.join("tenants.svg")).unwrap();
    for t in [
        "interactive",
        "batch",
        "job latency p99 (s)",
        "rate limited (429s)",
    ] {
        assert!(tenants.contains(t), "the tenant chart shows {t}");
    }
}

#[test]
fn the_same_csvs_give_byte_identical_svgs_and_pngs() {
    let a = tempfile::tempdir().unwrap();
    run_cascade(a.path(), &["--no-charts"]);
    write_fixtures(a.path());
    ok(plot(a.path()), "first plot");
    let first: Vec<(PathBuf, Vec<u8>)> = {
        let mut files: Vec<PathBuf> = std::fs::read_dir(a.path().join("charts"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        files
            .into_iter()
            .map(|p| {
                let bytes = std::fs::read(&p).unwrap();
                (p, bytes)
            })
            .collect()
    };
    assert_eq!(first.len(), 8, "four charts, SVG and PNG each");
    ok(plot(a.path()), "second plot");
    for (path, bytes) in &first {
        assert!(
            std::fs::read(path).unwrap() == *bytes,
            "{} differs between two plots of the same CSVs",
            path.display()
        );
    }
}

#[test]
fn run_draws_the_charts_into_its_directory_unless_no_charts() {
    let with = tempfile::tempdir().unwrap();
    run_cascade(with.path(), &[]);
    for f in [
        "latency_cdf.svg",
        "latency_cdf.png",
        "tradeoff.svg",
        "tradeoff.png",
    ] {
        assert!(
            with.path().join("charts").join(f).is_file(),
            "run drew charts/{f}"
        );
    }
    assert!(
        with.path().join("scenario.toml").is_file(),
        "run copies the scenario into its directory"
    );
    let without = tempfile::tempdir().unwrap();
    run_cascade(without.path(), &["--no-charts"]);
    assert!(
        !without.path().join("charts").exists(),
        "--no-charts draws nothing"
    );
}

#[test]
fn one_swept_parameter_gives_line_charts_and_two_give_heatmaps() {
    let one = tempfile::tempdir().unwrap();
    std::fs::write(
        one.path().join("sweep_summary.csv"),
        sweep_fixture(&["source.0.job.agents"]),
    )
    .unwrap();
    ok(plot(one.path()), "plot of a one-parameter sweep");
    for m in ["job_latency_p99_s", "cost_usd"] {
        let svg = std::fs::read_to_string(one.path().join(format!("charts/sweep_{m}.svg")))
            .unwrap_or_else(|e| panic!("sweep_{m}.svg: {e}"));
        assert!(
            svg.contains("source.0.job.agents"),
            "the x axis is the parameter"
        );
        assert!(
            svg.contains("naive") && svg.contains("fixed"),
            "a line per policy"
        );
        assert!(svg.contains("<polygon"), "confidence bands are drawn");
    }
    let two = tempfile::tempdir().unwrap();
    std::fs::write(
        two.path().join("sweep_summary.csv"),
        sweep_fixture(&["source.0.job.agents", "policy.fixed.bucket.rate"]),
    )
    .unwrap();
    ok(plot(two.path()), "plot of a two-parameter sweep");
    for m in ["job_latency_p99_s", "cost_usd"] {
        let path = two.path().join(format!("charts/heatmap_{m}.png"));
        let (w, h, _, _) = decode_png(&path);
        assert_eq!((w, h), (1100, 44 + 380 + 20), "one row of two panels");
        let svg = std::fs::read_to_string(path.with_extension("svg")).unwrap();
        assert!(
            svg.contains("policy.fixed.bucket.rate"),
            "the y axis is the second parameter"
        );
    }
    assert!(
        !two.path().join("charts/sweep_cost_usd.svg").exists(),
        "no line chart for a two-parameter sweep"
    );
    // A parameter held at one value (`--set PATH=V`) is not an axis: one axis left, lines.
    let fixed = tempfile::tempdir().unwrap();
    let one_rate: String = sweep_fixture(&["source.0.job.agents", "policy.fixed.bucket.rate"])
        .lines()
        .filter(|l| !l.contains(",30000,"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(fixed.path().join("sweep_summary.csv"), one_rate).unwrap();
    ok(plot(fixed.path()), "plot of a sweep with a fixed parameter");
    assert!(
        fixed
            .path()
            .join("charts/sweep_job_latency_p99_s.png")
            .is_file()
    );
    assert!(
        !fixed
            .path()
            .join("charts/heatmap_job_latency_p99_s.png")
            .exists()
    );
}

#[test]
fn many_tenants_show_the_nine_worst_and_the_mean_of_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("policy,tenant,job_latency_p99_s,rate_limited\n");
    for p in ["naive", "fixed"] {
        for t in 1..=15 {
            csv.push_str(&format!("{p},user-{t},{},{}\n", t * 10, 100 - t));
        }
    }
    std::fs::write(dir.path().join("tenants.csv"), csv).unwrap();
    ok(plot(dir.path()), "plot of fifteen tenants");
    let svg = std::fs::read_to_string(dir.path().join("charts/tenants.svg")).unwrap();
    for t in 7..=15 {
        assert!(
            svg.contains(&format!(">\nuser-{t}\n<")),
            "user-{t} has its own bars"
        );
    }
    for t in 1..=6 {
        assert!(
            !svg.contains(&format!(">\nuser-{t}\n<")),
            "user-{t} is among the others"
        );
    }
    assert!(svg.contains(">\nmean of 6\n<"), "the rest are averaged");
}

#[test]
fn plotting_a_directory_without_csvs_exits_2_with_a_clear_message() {
    let empty = tempfile::tempdir().unwrap();
    let out = plot(empty.path());
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("nothing to plot")
            && err.contains("latency.csv")
            && err.contains("stampede run"),
        "the message says what is missing and what writes it: {err}"
    );
    let missing = plot(&empty.path().join("no-such-dir"));
    assert_eq!(missing.status.code(), Some(2));
    assert!(text(&missing.stderr).contains("is not a directory"));
    let report = stampede().arg("report").arg(empty.path()).output().unwrap();
    assert_eq!(
        report.status.code(),
        Some(2),
        "report: {}",
        text(&report.stderr)
    );
}

#[test]
fn a_malformed_csv_exits_2_naming_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("latency.csv"),
        "policy,quantile,call_latency_s,job_latency_s\nnaive,0,1.5,2\nnaive,0.5,soon,3\n",
    )
    .unwrap();
    let out = plot(dir.path());
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("latency.csv:3:") && err.contains("\"soon\""),
        "{err}"
    );
}

/// Runs the cascade and writes its report; returns the directory.
fn cascade_report() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    run_cascade(dir.path(), &["--no-charts"]);
    let out = ok(
        stampede().arg("report").arg(dir.path()).output().unwrap(),
        "stampede report",
    );
    assert!(text(&out.stdout).contains("report.html"));
    dir
}

#[test]
fn report_writes_a_self_contained_page_with_the_policies_and_inlined_charts() {
    let dir = cascade_report();
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("<h1>cascade_12_agents</h1>"));
    assert!(
        html.contains("12 parallel sub-agents x 5 calls"),
        "the scenario's description"
    );
    assert!(
        html.contains("Assumptions, where the write-up is silent"),
        "the scenario's leading comments"
    );
    for p in CASCADE_POLICIES {
        assert!(
            html.contains(&format!("></span>{}", p.replace('_', "_<wbr>"))),
            "the table has a column for {p}"
        );
    }
    assert!(
        html.contains("<strong>bucket_only and fixed</strong> share the lowest job latency p99"),
        "the reading names the winners"
    );
    assert_eq!(
        html.matches("<svg ").count(),
        2,
        "both charts inlined as SVG"
    );
    assert!(html.contains("call latency (s, log scale)"));
    for outside in ["http://", "https://", "src=", "href=", "url(", "@import"] {
        assert!(
            !html.contains(outside),
            "report.html refers to something outside itself: {outside}"
        );
    }
    let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    assert!(md.starts_with("# cascade_12_agents\n"));
    for png in ["charts/latency_cdf.png", "charts/tradeoff.png"] {
        assert!(md.contains(&format!("]({png})")), "report.md shows {png}");
        assert!(
            dir.path().join(png).is_file(),
            "{png} exists beside report.md"
        );
    }
    assert!(md.contains(
        "| metric | naive ✗ failed 1 of 1 jobs | jitter_only | **bucket_only** | **fixed** |"
    ));
}

#[test]
fn a_malformed_providers_csv_is_bad_input_not_a_panic() {
    for (csv, says) in [
        (
            "policy,provider,answered,rate_limited\nnaive,primary,12,lots\n",
            "providers.csv:2: column \"rate_limited\": expected a number, found \"lots\"",
        ),
        ("policy,answered\nnaive,12\n", "no column \"provider\""),
        ("policy,provider,answered\nnaive,primary\n", "providers.csv"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("providers.csv"), csv).unwrap();
        let out = plot(dir.path());
        assert_eq!(out.status.code(), Some(2), "{csv}: {}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains(says),
            "{csv}: {}",
            text(&out.stderr)
        );
    }
    // A well-formed one alone draws the chart.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("providers.csv"),
        "policy,provider,answered,rate_limited\nnaive,primary,100,3\nnaive,secondary,4,90\n",
    )
    .unwrap();
    ok(plot(dir.path()), "plot of providers.csv alone");
    assert!(dir.path().join("charts/providers.svg").is_file());
}
