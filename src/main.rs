//! The `stampede` command line: parse arguments, call the library, print, map errors to exit codes
//! (0 ok, 2 bad input, 3 a simulation guard tripped).

use clap::{Parser, Subcommand, ValueEnum};
use stampede::{report, run, scenario};
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
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
        replications: Option<u32>,
        /// What to print on stdout.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Where to write summary.json, summary.csv and runs.csv [default: output/<scenario name>].
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Check a scenario file and report the first error with its line and column.
    Validate {
        /// The scenario file (TOML).
        scenario: PathBuf,
    },
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
        Command::Validate { scenario } => validate(&scenario),
        Command::Run {
            scenario,
            policies,
            seed,
            replications,
            format,
            out,
        } => run_command(
            &scenario,
            run::RunOptions {
                policies,
                seed,
                replications,
            },
            format,
            out,
        ),
    }
}

fn validate(path: &Path) -> ExitCode {
    match scenario::load(path) {
        Ok(s) => {
            let policies: Vec<&str> = s.policies.iter().map(|p| p.name.as_str()).collect();
            print_out(&format!(
                "ok: {} ({} source(s); policies: {})\n",
                s.name,
                s.sources.len(),
                policies.join(", ")
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
) -> ExitCode {
    let scenario = match scenario::load(path) {
        Ok(s) => s,
        Err(e) => return fail(EXIT_BAD_INPUT, &e.to_string()),
    };
    let bar = progress_bar();
    let tick = |total: usize| {
        if total > 0 {
            bar.set_length(total as u64);
        } else {
            bar.inc(1);
        }
    };
    let report = run::run_with_progress(&scenario, &options, &tick);
    bar.finish_and_clear();
    let report = match report {
        Ok(r) => r,
        Err(e @ run::RunError::UnknownPolicy { .. }) => {
            return fail(EXIT_BAD_INPUT, &e.to_string());
        }
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
    let dir = out.unwrap_or_else(|| Path::new("output").join(&scenario.name));
    if let Err(e) = report::write_outputs(&report, &dir) {
        return fail(
            1,
            &format!("cannot write results to {}: {e}", dir.display()),
        );
    }
    let text = match format {
        Format::Table => format!("{}results in {}\n", report::table(&report), dir.display()),
        Format::Json => report::to_json(&report),
        Format::Csv => report::to_csv(&report),
    };
    print_out(&text)
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

/// Prints to stdout; a closed pipe (`stampede ... | head`) is not an error.
fn print_out(text: &str) -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|_| stdout.flush())
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => fail(1, &format!("cannot write to stdout: {e}")),
    }
}

fn fail(code: u8, message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(code)
}
