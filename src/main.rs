//! The `stampede` command line: parse arguments, call the library, print, map errors to exit codes
//! (0 ok, 1 a check failed, 2 bad input, 3 a simulation guard tripped).

use clap::{Parser, Subcommand, ValueEnum};
use stampede::model::config::MAX_REPLICATIONS;
use stampede::{check, report, run, scenario, sweep, tune};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "stampede",
    version,
    about = "Simulate retry, rate-limit and backpressure policies for LLM agent pipelines before production does"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a scenario's policies side by side on identical random draws.
    Run {
        /// The scenario file (TOML).
        scenario: PathBuf,
        /// Run only this policy (repeatable; default: all, in file order).
        #[arg(long = "policy", value_name = "NAME")]
        policies: Vec<String>,
        /// Override the scenario's seed.
        #[arg(long)]
        seed: Option<u64>,
        /// Override the scenario's number of replications.
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=MAX_REPLICATIONS as i64))]
        replications: Option<u32>,
        /// What to print on stdout.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Where to write the results: summary.json, summary.csv, runs.csv, latency.csv,
        /// timeseries.csv (with a timeseries_interval), tenants.csv (with several tenants),
        /// providers.csv (with several providers), scenario.toml (a copy of the scenario), manifest.json (every file's checksum) and
        /// charts/ [default: output/<scenario name>]. Not a sweep's directory.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Do not draw charts (DIR/charts/*.svg, *.png).
        #[arg(long)]
        no_charts: bool,
    },
    /// Redraw the charts of a run or sweep directory from its CSVs into DIR/charts/.
    Plot {
        /// The directory `stampede run` or `stampede sweep` wrote.
        dir: PathBuf,
    },
    /// Write the design-review report (DIR/report.html, self-contained, and DIR/report.md).
    Report {
        /// The directory `stampede run` wrote.
        dir: PathBuf,
    },
    /// Run a scenario over a grid of parameter values ([sweep] and --set), points in parallel.
    Sweep {
        /// The scenario file (TOML), with a [sweep] table unless --set gives the axes.
        scenario: PathBuf,
        /// Sweep the value at a dotted path over these values, replacing the file's axis of that
        /// path or adding one (repeatable), e.g. --set source.0.job.agents=4,8,12.
        #[arg(long = "set", value_name = "PATH=V1,V2,...", value_parser = sweep::parse_axis)]
        set: Vec<scenario::Axis>,
        /// Run only this policy at every point (repeatable; default: all, in file order, or
        /// the [sweep] table's `policies`).
        #[arg(long = "policy", value_name = "NAME")]
        policies: Vec<String>,
        /// Override the sweep's replications per point and policy.
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=MAX_REPLICATIONS as i64))]
        replications: Option<u32>,
        /// Worker threads [default: all cores].
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
        threads: Option<u32>,
        /// Run only the K-th of N slices of the points (round robin: point i is in slice i % N + 1).
        #[arg(long, value_name = "K/N")]
        shard: Option<sweep::Shard>,
        /// Keep the points already finished in the output directory; run only the others.
        #[arg(long)]
        resume: bool,
        /// Where to write the results: sweep.csv (every run), sweep_summary.csv (means and 95%
        /// intervals per point and policy), sweep_points/ (each finished point's rows, and
        /// scenario.toml, the whole sweep as one file) and charts/ [default: output/<scenario
        /// name>-sweep]. Not a run's directory.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Do not draw charts.
        #[arg(long)]
        no_charts: bool,
    },
    /// Search one policy's settings for the frontier of the [tune] table's objectives under its
    /// constraints; re-check the frontier on unseen replications and print the recommendation.
    Tune {
        /// The scenario file (TOML), with a [tune] table.
        scenario: PathBuf,
        /// Worker threads [default: all cores]. The results do not depend on it.
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
        threads: Option<u32>,
        /// The search's seed [default: the [tune] table's, else the scenario's].
        #[arg(long)]
        seed: Option<u64>,
        /// Replications the search may spend [default: the [tune] table's].
        #[arg(long)]
        budget: Option<u64>,
        /// Where to write tune.csv (every candidate), pareto.csv (the feasible frontier),
        /// validation.csv (the frontier and the policies as written on unseen replications) and
        /// recommended.toml [default: output/<scenario name>-tune]. Not a run's or sweep's
        /// directory.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Do not draw the frontier chart (DIR/charts/frontier.svg, .png).
        #[arg(long)]
        no_charts: bool,
    },
    /// Join the output directories of a sharded sweep into the files one unsharded run writes.
    Merge {
        /// The shards' output directories.
        #[arg(required = true, value_name = "DIR")]
        dirs: Vec<PathBuf>,
        /// Where to write the joined sweep.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Do not draw the sweep charts.
        #[arg(long)]
        no_charts: bool,
    },
    /// Check a scenario file and report the first error with its line and column.
    Validate {
        /// The scenario file (TOML).
        scenario: PathBuf,
        /// What to print: the explanation as text, or as one JSON document (limits, demand,
        /// utilisation, warnings)
        #[arg(long, value_enum, default_value = "text")]
        format: ValidateFormat,
    },
    /// Run scenarios and check their [[expect]] entries (and a baseline): exit 1 when one fails.
    Check {
        /// The scenario files (TOML).
        #[arg(required = true)]
        scenarios: Vec<PathBuf>,
        /// Also write the results as JUnit XML to this file.
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
        /// What to print on stdout.
        #[arg(long, default_value = "table", value_parser = ["table", "json"])]
        format: String,
        /// Save every policy's metrics as baseline NAME (<baseline-dir>/NAME/<scenario>.json).
        #[arg(long, value_name = "NAME")]
        save_baseline: Option<String>,
        /// Compare with baseline NAME: fail when a metric regresses beyond the tolerance.
        #[arg(long, value_name = "NAME")]
        baseline: Option<String>,
        /// A regression is a change beyond this much of the baseline (5% or 0.05).
        #[arg(long, default_value = "5%", value_parser = check::parse_tolerance, requires = "baseline")]
        tolerance: f64,
        /// Where named baselines live.
        #[arg(long, value_name = "DIR", default_value = check::baseline::DEFAULT_DIR)]
        baseline_dir: PathBuf,
        /// Where to write each scenario's results (<DIR>/<scenario name>/).
        #[arg(long, value_name = "DIR", default_value = "output")]
        out: PathBuf,
    },
    /// List the provider presets (`[provider] preset = NAME`): limits, prices, source, as_of.
    Presets {
        /// Only the presets whose name starts with this (e.g. `anthropic/` or `openai/tier-2`).
        prefix: Option<String>,
    },
    /// Fit each model's time to first token, decode speed and error rates from an OpenTelemetry
    /// GenAI trace (OTLP JSON) and print a [[provider]] section per model, with the fit quality.
    Calibrate {
        /// The trace: OTLP JSON, one ExportTraceServiceRequest per line or one document.
        trace: PathBuf,
    },
    /// Write a recorded trace (or a scenario's `otel` sources) as editable templates and a trace
    /// CSV that replay the same jobs.
    Import {
        /// An OTLP JSON trace (a new scenario, its providers calibrated from the trace), or a
        /// scenario (.toml) whose `otel` sources are rewritten, all else kept.
        input: PathBuf,
        /// The scenario to write; the trace CSV goes beside it (FILE's stem + .csv).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// For a trace: the span or resource attribute naming each job's tenant (e.g. user.id).
        #[arg(long, value_name = "ATTRIBUTE")]
        tenant_attribute: Option<String>,
        /// For a trace: one job per root span, or per gen_ai.conversation.id.
        #[arg(long, value_enum, default_value_t = JobByArg::Root)]
        job_by: JobByArg,
        /// Replace FILE if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Print a commented starter scenario comparing the usual retry and rate-limit policies.
    Init {
        /// The provider preset (see `stampede presets`).
        #[arg(long, default_value = stampede::init::DEFAULT_PRESET)]
        preset: String,
        /// The scenario's name (names its output directory).
        #[arg(long, default_value = "starter")]
        name: String,
        /// Parallel agents per job (1 to 10,000).
        #[arg(long, default_value_t = 20)]
        agents: u32,
        /// Calls each agent makes one after another (1 to 1,000,000).
        #[arg(long, default_value_t = 10)]
        calls_per_agent: u32,
        /// Input tokens per call, on average.
        #[arg(long, default_value_t = 8_000)]
        prompt_tokens: u64,
        /// Output tokens generated per call, on average.
        #[arg(long, default_value_t = 500)]
        output_tokens: u64,
        /// The max_tokens each call asks for [default: twice --output-tokens].
        #[arg(long)]
        max_tokens: Option<u64>,
        /// Jobs arriving at once.
        #[arg(long, default_value_t = 1)]
        jobs: u32,
        /// Write the scenario to FILE instead of printing it (an existing FILE is refused).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Overwrite an existing --out FILE.
        #[arg(long, requires = "out")]
        force: bool,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum ValidateFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Table,
    Json,
    Csv,
}

const EXIT_BAD_INPUT: u8 = 2;
const EXIT_GUARD: u8 = 3;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(EXIT_BAD_INPUT)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match cli.command {
        Command::Validate { scenario, format } => validate(&scenario, format),
        Command::Check {
            scenarios,
            junit,
            format,
            save_baseline,
            baseline,
            tolerance,
            baseline_dir,
            out,
        } => check_command(
            &scenarios,
            &check::CheckOptions {
                out,
                baseline_dir,
                baseline,
                tolerance,
                save_baseline,
            },
            junit.as_deref(),
            format == "json",
        ),
        Command::Run {
            scenario,
            policies,
            seed,
            replications,
            format,
            out,
            no_charts,
        } => run_command(
            &scenario,
            run::RunOptions {
                policies,
                seed,
                replications,
                ..Default::default()
            },
            format,
            out,
            no_charts,
        ),
        Command::Plot { dir } => plot_command(&dir),
        Command::Report { dir } => report_command(&dir),
        Command::Sweep {
            scenario,
            set,
            policies,
            replications,
            threads,
            shard,
            resume,
            out,
            no_charts,
        } => sweep_command(
            &scenario,
            &set,
            &policies,
            replications,
            &sweep::SweepOptions {
                threads: threads.map(|t| t as usize),
                shard,
                resume,
                cancel: None,
            },
            out,
            no_charts,
        ),
        Command::Tune {
            scenario,
            threads,
            seed,
            budget,
            out,
            no_charts,
        } => tune_command(
            &scenario,
            &tune::TuneOptions {
                threads: threads.map(|t| t as usize),
                seed,
                budget,
            },
            out,
            no_charts,
        ),
        Command::Merge {
            dirs,
            out,
            no_charts,
        } => merge_command(&dirs, &out, no_charts),
        Command::Calibrate { trace } => match stampede::calibrate::calibrate_trace(&trace) {
            Ok(text) => print_out(&text),
            Err(e) => fail(EXIT_BAD_INPUT, &e),
        },
        Command::Import {
            input,
            out,
            tenant_attribute,
            job_by,
            force,
        } => import_command(&input, &out, tenant_attribute, job_by, force),
        Command::Presets { prefix } => {
            match scenario::presets::listing(prefix.as_deref().unwrap_or("")) {
                Ok(text) => print_out(&text),
                Err(e) => fail(EXIT_BAD_INPUT, &e),
            }
        }
        Command::Init {
            preset,
            name,
            agents,
            calls_per_agent,
            prompt_tokens,
            output_tokens,
            max_tokens,
            jobs,
            out,
            force,
        } => init_command(
            &stampede::init::InitOptions {
                preset,
                name,
                agents,
                calls_per_agent,
                prompt_tokens,
                output_tokens,
                max_tokens,
                jobs,
            },
            out.as_deref(),
            force,
        ),
    }
}

/// `stampede init`: the starter scenario on stdout, or in a new file.
/// How `import` groups a trace's spans into jobs.
#[derive(Clone, Copy, ValueEnum)]
enum JobByArg {
    Root,
    Conversation,
}

fn import_command(
    input: &Path,
    out: &Path,
    tenant_attribute: Option<String>,
    job_by: JobByArg,
    force: bool,
) -> ExitCode {
    use stampede::import;
    let options = import::ImportOptions {
        tenant_attribute,
        job_by: match job_by {
            JobByArg::Root => scenario::otel::JobBy::Root,
            JobByArg::Conversation => scenario::otel::JobBy::Conversation,
        },
    };
    let imported = import::import_path(input, out, &options);
    let imported = match imported {
        Ok(i) => i,
        Err(e) => return fail(EXIT_BAD_INPUT, &e),
    };
    for w in &imported.warnings {
        eprintln!("warning: {w}");
    }
    match import::write(&imported, out, force) {
        Ok(()) => print_out(&format!(
            "wrote {0} ({1} jobs, {2} templates) and {3}; next: stampede validate {0}\n",
            out.display(),
            imported.jobs,
            imported.templates,
            imported
                .traces
                .iter()
                .map(|(n, _)| n.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
        Err(e) => fail(EXIT_BAD_INPUT, &e),
    }
}

fn init_command(
    options: &stampede::init::InitOptions,
    out: Option<&Path>,
    force: bool,
) -> ExitCode {
    let text = match stampede::init::scenario_text(options) {
        Ok(t) => t,
        Err(e) => return fail(EXIT_BAD_INPUT, &e),
    };
    match out {
        None => print_out(&text),
        Some(path) => match stampede::init::write(path, &text, force) {
            Ok(()) => print_out(&format!(
                "wrote {0}; next: stampede validate {0} && stampede run {0}\n",
                path.display()
            )),
            Err(e) => fail(EXIT_BAD_INPUT, &e),
        },
    }
}

fn validate(path: &Path, format: ValidateFormat) -> ExitCode {
    match scenario::load(path) {
        Ok(s) if matches!(format, ValidateFormat::Json) => {
            match serde_json::to_string_pretty(&scenario::explain::explain(&s)) {
                Ok(json) => print_out(&format!("{json}\n")),
                Err(e) => fail(1, &format!("cannot write the explanation as JSON: {e}")),
            }
        }
        Ok(s) => {
            let policies: Vec<&str> = s.policies.iter().map(|p| p.name.as_str()).collect();
            print_out(&format!(
                "ok: {} ({} source(s); policies: {})\n\n{}",
                s.name,
                s.sources.len(),
                policies.join(", "),
                scenario::explain::explain(&s).render_text()
            ))
        }
        Err(e) => fail(EXIT_BAD_INPUT, &e.to_string()),
    }
}

fn run_command(
    path: &Path,
    options: run::RunOptions,
    format: Format,
    out: Option<PathBuf>,
    no_charts: bool,
) -> ExitCode {
    let scenario = match scenario::load(path) {
        Ok(s) => s,
        Err(e) => return fail(EXIT_BAD_INPUT, &e.to_string()),
    };
    let dir = out.unwrap_or_else(|| Path::new("output").join(&scenario.name));
    // A run and a sweep never share a directory: `plot` and `report` would read them as one.
    if let Some(file) = sweep::holds_sweep(&dir) {
        return fail(
            EXIT_BAD_INPUT,
            &format!(
                "{} holds a sweep's results ({file}), not a run's; choose another --out (a sweep writes into output/<name>-sweep by default)",
                dir.display()
            ),
        );
    }
    let bar = progress_bar();
    let tick = |total: usize| advance(&bar, total);
    let report = run::run_with_progress(&scenario, &options, &tick);
    bar.finish_and_clear();
    let report = match report {
        Ok(r) => r,
        Err(
            e @ (run::RunError::UnknownPolicy { .. }
            | run::RunError::Threads(_)
            | run::RunError::TooManyReplications { .. }),
        ) => {
            return fail(EXIT_BAD_INPUT, &e.to_string());
        }
        // The command line never cancels a run (Ctrl-C ends the process).
        Err(e @ run::RunError::Cancelled) => return fail(1, &e.to_string()),
        Err(e @ run::RunError::Guard { .. }) => {
            let seed = match &e {
                run::RunError::Guard { seed, .. } => *seed,
                _ => unreachable!(),
            };
            let msg = format!(
                "{e}\nraise the limit in the scenario's [guards] table, or reproduce with: stampede run {} --seed {seed}",
                path.display()
            );
            return fail(EXIT_GUARD, &msg);
        }
    };
    for warning in &report.warnings {
        eprintln!("warning: {warning}");
    }
    if let Err(e) = write_run(&report, path, &dir, no_charts) {
        return fail(EXIT_BAD_INPUT, &e);
    }
    let text = match format {
        Format::Table => format!("{}results in {}\n", report::table(&report), dir.display()),
        Format::Json => run::export::to_json(&report),
        Format::Csv => run::export::to_csv(&report),
    };
    print_out(&text)
}

/// Writes a run's files, the scenario's copy and (unless `no_charts`) its charts into `dir` as
/// one set: staged, then moved into place, so that no file of an earlier run survives beside
/// them and a kill leaves no mix a reader accepts.
fn write_run(
    report: &run::Report,
    scenario: &Path,
    dir: &Path,
    no_charts: bool,
) -> Result<(), String> {
    let cannot = |e: std::io::Error| format!("cannot write results to {}: {e}", dir.display());
    let staging = stampede::io::Staging::new(dir).map_err(cannot)?;
    run::export::write_files(report, staging.path()).map_err(cannot)?;
    report::html::copy_scenario(scenario, staging.path()).map_err(|e| e.to_string())?;
    if !no_charts {
        staging.seal().map_err(cannot)?;
        report::charts::plot_dir(staging.path()).map_err(|e| e.to_string())?;
    }
    staging.commit().map_err(cannot)
}

/// `stampede check`: exit 1 when an expectation fails or a metric regressed, 2 on bad input, 3
/// on a guard.
fn check_command(
    files: &[PathBuf],
    options: &check::CheckOptions,
    junit: Option<&Path>,
    json: bool,
) -> ExitCode {
    let report = match check::check(files, options) {
        Ok(r) => r,
        Err(e) => return fail(e.exit_code(), &e.to_string()),
    };
    if let Some(path) = junit
        && let Err(e) = check::write_junit(&report, path)
    {
        return fail(e.exit_code(), &e.to_string());
    }
    let text = if json {
        check::to_json(&report)
    } else {
        check::table(&report)
    };
    let printed = print_out(&text);
    if report.passed() {
        printed
    } else {
        ExitCode::from(1)
    }
}

/// `stampede sweep`: run the grid (or a shard of it), print what was done and where.
fn sweep_command(
    path: &Path,
    set: &[scenario::Axis],
    policies: &[String],
    replications: Option<u32>,
    options: &sweep::SweepOptions,
    out: Option<PathBuf>,
    no_charts: bool,
) -> ExitCode {
    let file = path.display().to_string();
    let text = match scenario::read_file(path) {
        Ok(t) => t,
        Err(e) => return fail(EXIT_BAD_INPUT, &e.to_string()),
    };
    let plan = match sweep::Plan::with_policies(&text, &file, set, replications, policies) {
        Ok(p) => p,
        Err(e) => return sweep_fail(path, e),
    };
    let dir = out.unwrap_or_else(|| sweep::default_dir(&plan.grid.name));
    let bar = progress_bar();
    let tick = |total: usize| advance(&bar, total);
    let outcome = sweep::run(&plan, &dir, options, &tick);
    bar.finish_and_clear();
    let o = match outcome {
        Ok(o) => o,
        Err(e) => return sweep_fail(path, e),
    };
    // The scenario as written, comments included, for the report's description and assumptions.
    if let Err(e) = report::html::copy_scenario(path, &dir) {
        return plot_fail(&e);
    }
    // The charts need the whole grid: a shard's are drawn after `merge`.
    if o.complete
        && !no_charts
        && let Err(e) = report::charts::plot_dir(&dir)
    {
        return plot_fail(&e);
    }
    let shard = options
        .shard
        .map_or(String::new(), |s| format!(", shard {s}"));
    let points = |n: usize| format!("{n} point{}", if n == 1 { "" } else { "s" });
    let mut head = format!(
        "sweep {}{shard}: {}, {} runs\n",
        plan.grid.name,
        points(o.points),
        plan.runs(),
    );
    if options.resume {
        let of = if options.shard.is_some() {
            format!("{} of this shard's {}", o.resumed, points(o.owned))
        } else {
            format!("{} of {}", o.resumed, points(o.owned))
        };
        head.push_str(&format!(
            "resumed: {of} {} already finished; ran the remaining {}\n",
            if o.resumed == 1 { "was" } else { "were" },
            o.ran
        ));
    } else {
        head.push_str(&format!("ran {}\n", points(o.ran)));
    }
    let tail = if o.complete {
        format!(
            "results in {}: {}, {}\n",
            dir.display(),
            sweep::SWEEP_CSV,
            sweep::SUMMARY_CSV
        )
    } else {
        format!(
            "{} of {} points are in {}; join the shards' directories with: stampede merge DIR... --out DIR\n",
            o.finished,
            o.points,
            dir.join(sweep::POINTS_DIR).display()
        )
    };
    print_out(&format!("{head}{tail}"))
}

/// `stampede tune`: search, validate, write, print the recommendation; exit 1 when no frontier
/// setting passes its constraints on the validation replications.
/// Writes a tune's files, chart and report into `dir` as one set: staged, then moved into place,
/// so that no file of an earlier tune survives beside them. Returns what was written, to print.
fn write_tune(
    dir: &Path,
    plan: &tune::Plan,
    outcome: &tune::Outcome,
    no_charts: bool,
) -> Result<Vec<String>, String> {
    tune::export::check_dir(dir).map_err(|e| e.to_string())?;
    let cannot = |e: std::io::Error| format!("cannot write results to {}: {e}", dir.display());
    let staging = stampede::io::Staging::owning(dir, &tune::export::FILES).map_err(cannot)?;
    let staged = staging.path();
    let mut files: Vec<String> = tune::export::write_files(staged, plan, outcome)
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(String::from)
        .collect();
    let mut svg = None;
    if !no_charts {
        let paths = report::charts::plot_tune(staged, plan, outcome).map_err(|e| e.to_string())?;
        files.push("charts/frontier.svg (and .png)".into());
        svg = paths
            .iter()
            .find(|p| p.extension().is_some_and(|e| e == "svg"))
            .and_then(|p| std::fs::read_to_string(p).ok());
    }
    report::tune_report::write(staged, plan, outcome, svg.as_deref()).map_err(|e| e.to_string())?;
    files.push("report.html, report.md".into());
    staging.commit().map_err(cannot)?;
    Ok(files)
}

fn tune_command(
    path: &Path,
    options: &tune::TuneOptions,
    out: Option<PathBuf>,
    no_charts: bool,
) -> ExitCode {
    let file = path.display().to_string();
    let text = match scenario::read_file(path) {
        Ok(t) => t,
        Err(e) => return fail(EXIT_BAD_INPUT, &e.to_string()),
    };
    let plan = match tune::Plan::new(&text, &file, options) {
        Ok(p) => p,
        Err(e) => return tune_fail(path, e),
    };
    let dir = out.unwrap_or_else(|| tune::default_dir(&plan.scenario.name));
    if let Err(e) = tune::export::check_dir(&dir) {
        return tune_fail(path, e);
    }
    let bar = progress_bar();
    let tick = |total: usize| advance(&bar, total);
    let outcome = tune::run(&plan, options, &tick);
    bar.finish_and_clear();
    let outcome = match outcome {
        Ok(o) => o,
        Err(e) => return tune_fail(path, e),
    };
    let files = match write_tune(&dir, &plan, &outcome, no_charts) {
        Ok(f) => f,
        Err(e) => return fail(EXIT_BAD_INPUT, &e),
    };
    let text = format!(
        "{}results in {}: {}\n",
        tune::export::summary(&plan, &outcome),
        dir.display(),
        files.join(", ")
    );
    let printed = print_out(&text);
    if outcome.recommended.is_some() {
        printed
    } else {
        ExitCode::from(1)
    }
}

/// Maps a tune's error to its exit code: 3 for a guard (with the command that reproduces it),
/// 2 for bad input or a file that cannot be written.
fn tune_fail(path: &Path, e: tune::TuneError) -> ExitCode {
    match &e {
        tune::TuneError::Guard {
            parameters,
            policy,
            seed,
            ..
        } => {
            let after = parameters.as_ref().map_or(String::new(), |p| {
                format!(", after writing {p} in the file")
            });
            let msg = format!(
                "{e}\nraise the limit in the scenario's [guards] table, or reproduce with: stampede run {} --policy {policy} --seed {seed} --replications 1{after}",
                path.display()
            );
            fail(EXIT_GUARD, &msg)
        }
        _ => fail(EXIT_BAD_INPUT, &e.to_string()),
    }
}

/// `stampede merge`: join shards' directories.
fn merge_command(dirs: &[PathBuf], out: &Path, no_charts: bool) -> ExitCode {
    let merged = sweep::merge(dirs, out);
    if merged.is_ok()
        && !no_charts
        && let Err(e) = report::charts::plot_dir(out)
    {
        return plot_fail(&e);
    }
    match merged {
        Ok(o) => print_out(&format!(
            "merged {} points from {} directories into {}: {}, {}\n",
            o.points,
            dirs.len(),
            out.display(),
            sweep::SWEEP_CSV,
            sweep::SUMMARY_CSV
        )),
        Err(e) => sweep_fail(out, e),
    }
}

/// Maps a sweep's error to its exit code: 3 for a guard (with the command that reproduces the
/// run), 2 for bad input or a file that cannot be read or written (1 means a check failed).
fn sweep_fail(path: &Path, e: sweep::SweepError) -> ExitCode {
    match &e {
        sweep::SweepError::Guard {
            parameters,
            source: run::RunError::Guard { policy, seed, .. },
            ..
        } => {
            let msg = format!(
                "{e}\nraise the limit in the scenario's [guards] table, or reproduce with: stampede run {} --policy {policy} --seed {seed} --replications 1, after writing {parameters} in the file",
                path.display()
            );
            fail(EXIT_GUARD, &msg)
        }
        _ => fail(EXIT_BAD_INPUT, &e.to_string()),
    }
}

/// `stampede plot DIR`: redraw the charts from the CSVs; exit 2 when there is nothing to plot.
fn plot_command(dir: &Path) -> ExitCode {
    match report::charts::plot_dir(dir) {
        Ok((charts, files)) => {
            let mut text = String::new();
            for f in &files {
                text.push_str(&format!("{}\n", f.display()));
            }
            for note in &charts.notes {
                text.push_str(&format!("note: {note}\n"));
            }
            print_out(&text)
        }
        Err(e) => plot_fail(&e),
    }
}

/// `stampede report DIR`: the design-review page and its Markdown twin.
fn report_command(dir: &Path) -> ExitCode {
    match report::html::write_report(dir) {
        Ok(files) => print_out(
            &files
                .iter()
                .map(|f| format!("{}\n", f.display()))
                .collect::<String>(),
        ),
        Err(e) => plot_fail(&e),
    }
}

/// Exit 2 for a directory without usable CSVs, or a mixed set, or a file that cannot be written;
/// 1 only for a chart plotters cannot draw (a bug).
fn plot_fail(e: &report::charts::PlotError) -> ExitCode {
    let code = if e.is_bad_input() { EXIT_BAD_INPUT } else { 1 };
    fail(code, &e.to_string())
}

/// The library's progress callback on `bar`: a total once (`total > 0`), then one tick per run.
fn advance(bar: &indicatif::ProgressBar, total: usize) {
    if total > 0 {
        bar.set_length(total as u64);
    } else {
        bar.inc(1);
    }
}

/// A progress bar on stderr when it is a terminal, hidden when piped or under CI.
fn progress_bar() -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if std::env::var_os("CI").is_some() || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(0);
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} runs  {elapsed} (eta {eta})")
    {
        bar.set_style(style);
    }
    bar
}

/// Prints to stdout; a closed pipe (`stampede ... | head`) is not an error (as with ripgrep),
/// and stdout that cannot be written otherwise (a full disk) is exit 2, an unusable path, never
/// 1, which says a check failed.
fn print_out(text: &str) -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|_| stdout.flush())
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => fail(EXIT_BAD_INPUT, &format!("cannot write to stdout: {e}")),
    }
}

fn fail(code: u8, message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(code)
}
