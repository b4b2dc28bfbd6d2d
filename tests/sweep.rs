//! `stampede sweep` and `stampede merge` as a user meets them: the same bytes whatever the thread
//! count, shards that merge into exactly the unsharded output, a resume that recomputes only what
//! is missing, points equal to `stampede run` with the values written in the file, and bad paths
//! refused with exit 2 and their name.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, SystemTime};

fn stampede() -> Command {
    Command::new(env!("CARGO_BIN_EXE_stampede"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A small cascade: a burst of one job fanning out to `agents` agents, a naive policy and one
/// with a client bucket of rate `rate`; with `sweep`, a 3 x 2 grid over the two.
fn scenario(agents: u32, rate: u32, sweep: bool) -> String {
    let mut s = format!(
        r#"
[scenario]
name = "sweep_test"
seed = 7

[provider]
ttft = {{ dist = "normal", mean = "1s", sd = "150ms" }}
decode_rate = {{ dist = "normal", mean = 100, sd = 8 }}
price_input_per_mtok = 3.0
price_output_per_mtok = 15.0

[[provider.limit]]
resource = "tokens"
rate = 20_000
burst = 60_000

[[source]]
name = "jobs"
arrival = {{ process = "burst", count = 1 }}

[source.job]
agents = {agents}
calls_per_agent = 3
prompt_tokens = {{ dist = "normal", mean = 10_000, sd = 1_000 }}
max_tokens = 1_000
output_tokens = {{ dist = "uniform", low = 100, high = 300 }}

[[policy]]
name = "naive"
agent_restarts = 2
retry = {{ max_attempts = 5, wait = {{ kind = "fixed", wait = "1s" }} }}

[[policy]]
name = "bucket"
retry = {{ max_attempts = 5, wait = {{ kind = "random_exponential", multiplier = "1s", max = "10s" }} }}
bucket = {{ rate = {rate}, burst = 60_000 }}
"#
    );
    if sweep {
        s.push_str(
            r#"
[sweep]
replications = 3

[sweep.parameters]
"source.0.job.agents" = [2, 4, 8]
"policy.bucket.bucket.rate" = [10_000, 18_000]
"#,
        );
    }
    s
}

/// Writes the swept scenario into a fresh directory; returns (the directory, the file).
fn swept_file() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sweep_test.toml");
    std::fs::write(&file, scenario(4, 18_000, true)).unwrap();
    (dir, file)
}

/// `stampede sweep FILE ARGS... --out OUT`, asserted to succeed.
fn sweep_ok(file: &Path, args: &[&str], out: &Path) -> Output {
    let o = stampede()
        .arg("sweep")
        .arg(file)
        .args(args)
        .arg("--no-charts")
        .arg("--out")
        .arg(out)
        .output()
        .expect("the binary runs");
    assert_eq!(
        o.status.code(),
        Some(0),
        "stampede sweep {args:?} failed: {}",
        text(&o.stderr)
    );
    o
}

/// Every file a sweep writes under `dir` (`sweep.csv`, `sweep_summary.csv`, `sweep_points/`), by
/// relative path.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path.strip_prefix(root).unwrap().display().to_string();
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out.retain(|name, _| name.starts_with("sweep"));
    out
}

fn assert_same_tree(a: &Path, b: &Path, what: &str) {
    let (ta, tb) = (tree(a), tree(b));
    assert_eq!(
        ta.keys().collect::<Vec<_>>(),
        tb.keys().collect::<Vec<_>>(),
        "{what}: different files"
    );
    for (name, bytes) in &ta {
        assert!(bytes == &tb[name], "{what}: {name} differs");
    }
    for f in ["sweep.csv", "sweep_summary.csv"] {
        assert!(ta.contains_key(f), "{what}: no {f}");
    }
}

fn csv_rows(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::Reader::from_path(path).unwrap();
    let header = r.headers().unwrap().iter().map(String::from).collect();
    let rows = r
        .records()
        .map(|rec| rec.unwrap().iter().map(String::from).collect())
        .collect();
    (header, rows)
}

#[test]
fn one_thread_and_two_threads_write_identical_bytes() {
    let (dir, file) = swept_file();
    let one = dir.path().join("one");
    let two = dir.path().join("two");
    sweep_ok(&file, &["--threads", "1"], &one);
    sweep_ok(&file, &["--threads", "2"], &two);
    assert_same_tree(&one, &two, "--threads 1 against --threads 2");
}

#[test]
fn shards_one_and_two_of_two_merged_equal_the_unsharded_sweep_byte_for_byte() {
    let (dir, file) = swept_file();
    let whole = dir.path().join("whole");
    let s1 = dir.path().join("s1");
    let s2 = dir.path().join("s2");
    let merged = dir.path().join("merged");
    sweep_ok(&file, &[], &whole);
    let o = sweep_ok(&file, &["--shard", "1/2"], &s1);
    assert!(
        text(&o.stdout).contains("3 of 6 points"),
        "{}",
        text(&o.stdout)
    );
    assert!(
        !s1.join("sweep.csv").exists(),
        "a shard wrote a partial sweep.csv"
    );
    sweep_ok(&file, &["--shard", "2/2"], &s2);
    // Round robin: shard 1/2 has the even points, 2/2 the odd ones.
    assert!(s1.join("sweep_points/point-000004.csv").exists());
    assert!(s2.join("sweep_points/point-000005.csv").exists());
    assert!(!s2.join("sweep_points/point-000004.csv").exists());
    let o = stampede()
        .arg("merge")
        .args([&s1, &s2])
        .arg("--out")
        .arg(&merged)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_same_tree(&whole, &merged, "merged shards against one run");
}

#[test]
fn merge_with_a_shard_missing_exits_2_naming_the_missing_points() {
    let (dir, file) = swept_file();
    let s1 = dir.path().join("s1");
    sweep_ok(&file, &["--shard", "1/2"], &s1);
    let o = stampede()
        .arg("merge")
        .arg(&s1)
        .arg("--out")
        .arg(dir.path().join("merged"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    let err = text(&o.stderr);
    assert!(
        err.contains("3 of 6 points") && err.contains("1, 3, 5"),
        "{err}"
    );
}

#[test]
fn resume_after_deleting_one_point_recomputes_only_that_point_and_gives_the_same_bytes() {
    let (dir, file) = swept_file();
    let out = dir.path().join("out");
    sweep_ok(&file, &[], &out);
    let before = tree(&out);
    let points = out.join("sweep_points");
    std::fs::remove_file(points.join("point-000003.csv")).unwrap();
    // Backdate the other points: a recomputed point would be rewritten with a new time.
    let old = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
    for i in [0, 1, 2, 4, 5] {
        let f = std::fs::File::options()
            .write(true)
            .open(points.join(format!("point-{i:06}.csv")))
            .unwrap();
        f.set_modified(old).unwrap();
    }
    let o = sweep_ok(&file, &["--resume"], &out);
    let stdout = text(&o.stdout);
    assert!(
        stdout.contains("resumed: 5 of 6 points were already finished; ran the remaining 1\n"),
        "{stdout}"
    );
    for i in [0, 1, 2, 4, 5] {
        let modified = std::fs::metadata(points.join(format!("point-{i:06}.csv")))
            .unwrap()
            .modified()
            .unwrap();
        assert_eq!(modified, old, "point {i} was rewritten");
    }
    let after = tree(&out);
    assert!(before == after, "the resumed sweep's files differ");
}

#[test]
fn resume_refuses_a_directory_of_another_sweep() {
    let (dir, file) = swept_file();
    let out = dir.path().join("out");
    sweep_ok(&file, &[], &out);
    let o = stampede()
        .arg("sweep")
        .arg(&file)
        .args(["--resume", "--replications", "2", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("holds another sweep"));
}

#[test]
fn a_sweep_point_equals_stampede_run_with_its_parameters_written_in_the_file() {
    let (dir, file) = swept_file();
    let out = dir.path().join("sweep");
    sweep_ok(&file, &[], &out);
    // The point agents = 8, rate = 10_000, written into a plain scenario file.
    let plain = dir.path().join("plain.toml");
    std::fs::write(&plain, scenario(8, 10_000, false)).unwrap();
    let run_dir = dir.path().join("run");
    let o = stampede()
        .arg("run")
        .arg(&plain)
        .args(["--replications", "3", "--out"])
        .arg(&run_dir)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));

    let (sweep_header, sweep_rows) = csv_rows(&out.join("sweep.csv"));
    let (runs_header, runs_rows) = csv_rows(&run_dir.join("runs.csv"));
    assert_eq!(
        &sweep_header[..5],
        [
            "source.0.job.agents",
            "policy.bucket.bucket.rate",
            "policy",
            "replication",
            "seed"
        ]
    );
    // runs.csv: scenario, policy, replication, seed, metrics; sweep.csv: 2 parameters, policy,
    // replication, seed, the same metrics.
    assert_eq!(sweep_header[5..], runs_header[4..]);
    let point: Vec<&Vec<String>> = sweep_rows
        .iter()
        .filter(|r| r[0] == "8" && r[1] == "10000")
        .collect();
    assert_eq!(point.len(), runs_rows.len());
    assert_eq!(point.len(), 6, "2 policies x 3 replications");
    for (s, r) in point.iter().zip(&runs_rows) {
        assert_eq!(s[2..], r[1..], "a sweep row differs from the run's");
    }

    let (summary_header, summary_rows) = csv_rows(&out.join("sweep_summary.csv"));
    let (run_summary_header, run_summary) = csv_rows(&run_dir.join("summary.csv"));
    let metrics = runs_header.len() - 4;
    for run_row in &run_summary {
        let policy = &run_row[3];
        let row = summary_rows
            .iter()
            .find(|r| r[0] == "8" && r[1] == "10000" && &r[2] == policy)
            .unwrap();
        for j in 0..metrics {
            let name = &run_summary_header[4 + j];
            assert_eq!(summary_header[3 + 2 * j], format!("{name}_mean"));
            assert_eq!(row[3 + 2 * j], run_row[4 + j], "{policy} {name} mean");
            assert_eq!(
                row[4 + 2 * j],
                run_row[4 + metrics + j],
                "{policy} {name} ci95"
            );
        }
    }
}

#[test]
fn sweep_csv_is_tidy_in_grid_then_policy_then_replication_order() {
    let (dir, file) = swept_file();
    let out = dir.path().join("out");
    sweep_ok(&file, &[], &out);
    let (header, rows) = csv_rows(&out.join("sweep.csv"));
    assert_eq!(header[5], "makespan_s");
    assert_eq!(rows.len(), 6 * 2 * 3);
    let keys: Vec<String> = rows.iter().map(|r| r[..4].join(" ")).collect();
    assert_eq!(keys[0], "2 10000 naive 0");
    assert_eq!(keys[1], "2 10000 naive 1");
    assert_eq!(keys[3], "2 10000 bucket 0");
    assert_eq!(keys[6], "2 18000 naive 0");
    assert_eq!(keys[35], "8 18000 bucket 2");
    let (sheader, srows) = csv_rows(&out.join("sweep_summary.csv"));
    assert_eq!(
        sheader[..5],
        [
            "source.0.job.agents",
            "policy.bucket.bucket.rate",
            "policy",
            "makespan_s_mean",
            "makespan_s_ci95"
        ]
    );
    assert_eq!(sheader.len(), 3 + 2 * (header.len() - 5));
    assert_eq!(srows.len(), 6 * 2);
    // More agents through the same limit take longer.
    let makespan = |agents: &str| -> f64 {
        srows
            .iter()
            .find(|r| r[0] == agents && r[1] == "18000" && r[2] == "bucket")
            .unwrap()[3]
            .parse()
            .unwrap()
    };
    assert!(
        makespan("8") > makespan("2"),
        "{} vs {}",
        makespan("8"),
        makespan("2")
    );
}

#[test]
fn command_line_axes_replace_the_files_and_add_new_ones() {
    let (dir, file) = swept_file();
    let out = dir.path().join("out");
    sweep_ok(
        &file,
        &[
            "--set",
            "source.0.job.agents=3",
            "--set",
            "policy.naive.agent_restarts=0,1",
            "--replications",
            "1",
        ],
        &out,
    );
    let (header, rows) = csv_rows(&out.join("sweep_summary.csv"));
    assert_eq!(
        header[..4],
        [
            "source.0.job.agents",
            "policy.bucket.bucket.rate",
            "policy.naive.agent_restarts",
            "policy"
        ]
    );
    assert_eq!(rows.len(), 2 * 2 * 2);
    assert!(rows.iter().all(|r| r[0] == "3"));
}

#[test]
fn a_bad_path_exits_2_and_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    let bad =
        scenario(4, 18_000, true).replace("policy.bucket.bucket.rate", "policy.bucket.bukket.rate");
    let line = bad.lines().position(|l| l.contains("bukket")).unwrap() + 1;
    std::fs::write(&file, &bad).unwrap();
    for command in ["sweep", "validate", "run"] {
        let o = stampede().arg(command).arg(&file).output().unwrap();
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{command}: {err}");
        assert!(
            err.contains("policy.bucket.bukket.rate"),
            "{command}: {err}"
        );
        assert!(
            err.contains("no `bukket` in `policy.bucket`"),
            "{command}: {err}"
        );
        assert!(
            err.contains(&format!(":{line}:1:")),
            "{command}: not at the key's line {line}: {err}"
        );
    }
    let (_dir, file) = swept_file();
    let o = stampede()
        .args(["sweep", "--set", "source.0.job.agnets=1,2"])
        .arg(&file)
        .output()
        .unwrap();
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("source.0.job.agnets") && err.contains("no `agnets`"),
        "{err}"
    );
}

#[test]
fn a_value_that_makes_the_scenario_invalid_exits_2_naming_the_parameter() {
    let (dir, file) = swept_file();
    let o = stampede()
        .args([
            "sweep",
            "--set",
            "policy.bucket.bucket.rate=5000,-1",
            "--out",
        ])
        .arg(dir.path().join("out"))
        .arg(&file)
        .output()
        .unwrap();
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("policy.bucket.bucket.rate = -1"), "{err}");
    assert!(err.contains("policy[1].bucket.rate"), "{err}");
    assert!(
        !dir.path().join("out").exists(),
        "nothing runs before every point is valid"
    );
}

#[test]
fn a_guard_in_one_point_exits_3_and_keeps_the_points_that_finished() {
    let (dir, file) = swept_file();
    let guarded = std::fs::read_to_string(&file)
        .unwrap()
        .replace("[provider]", "[guards]\nmax_events = 60\n\n[provider]");
    std::fs::write(&file, guarded).unwrap();
    let out = dir.path().join("out");
    let o = stampede()
        .args(["sweep", "--threads", "1", "--out"])
        .arg(&out)
        .arg(&file)
        .output()
        .unwrap();
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(
        err.contains("sweep point") && err.contains("source.0.job.agents = 8"),
        "{err}"
    );
    assert!(err.contains("--seed"), "{err}");
    assert!(out.join("sweep_points/point-000000.csv").exists(), "{err}");
    assert!(!out.join("sweep.csv").exists());
}

#[test]
fn the_shipped_cascade_sweep_is_valid_and_run_ignores_its_sweep_table() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/cascade_sweep.toml");
    let o = stampede().arg("validate").arg(&file).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let dir = tempfile::tempdir().unwrap();
    let o = stampede()
        .arg("run")
        .arg(&file)
        .args(["--policy", "fixed", "--format", "csv", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
}

/// Issue 11, class 8: `merge` took a point file computed with another seed (only `--resume`
/// checked), so a joined sweep could mix two experiments.
#[test]
fn merge_refuses_a_point_computed_with_another_seed() {
    let (dir, file) = swept_file();
    let s1 = dir.path().join("s1");
    let s2 = dir.path().join("s2");
    sweep_ok(&file, &["--shard", "1/2"], &s1);
    sweep_ok(&file, &["--shard", "2/2"], &s2);
    let other = dir.path().join("other_seed.toml");
    let text_other = scenario(4, 18_000, true).replace("seed = 7", "seed = 8");
    std::fs::write(&other, text_other).unwrap();
    let s3 = dir.path().join("s3");
    sweep_ok(&other, &["--shard", "2/2"], &s3);
    std::fs::copy(
        s3.join("sweep_points/point-000001.csv"),
        s2.join("sweep_points/point-000001.csv"),
    )
    .unwrap();
    let o = stampede()
        .arg("merge")
        .args([&s1, &s2])
        .arg("--no-charts")
        .arg("--out")
        .arg(dir.path().join("merged"))
        .output()
        .unwrap();
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("point 1 (") && err.contains("seed"), "{err}");
    assert!(!dir.path().join("merged/sweep.csv").exists());
}

/// Issue 11, class 7: temporary files a killed sweep left were never removed. The next sweep
/// removes those over an hour old (younger ones may be another shard's, writing now).
#[test]
fn a_sweep_removes_temporary_files_that_killed_sweeps_left() {
    let (dir, file) = swept_file();
    let out = dir.path().join("out");
    sweep_ok(&file, &["--shard", "1/2"], &out);
    let points = out.join("sweep_points");
    let (old, young) = (
        points.join(".stampede-tmpOld123"),
        points.join(".stampede-tmpNew456"),
    );
    for f in [&old, &young] {
        std::fs::write(f, "half a point").unwrap();
    }
    let two_hours_ago = SystemTime::now() - Duration::from_secs(7200);
    std::fs::File::options()
        .write(true)
        .open(&old)
        .unwrap()
        .set_modified(two_hours_ago)
        .unwrap();
    sweep_ok(&file, &["--shard", "2/2"], &out);
    assert!(!old.exists(), "an hour-old temporary file survived");
    assert!(
        young.exists(),
        "a temporary file that may be another shard's was removed"
    );
}

/// `stampede sweep ARGS...` run in `cwd` (for the default output directory), not asserted.
fn sweep_in(cwd: &Path, args: &[&std::ffi::OsStr]) -> Output {
    stampede()
        .current_dir(cwd)
        .arg("sweep")
        .args(args)
        .arg("--no-charts")
        .output()
        .expect("the binary runs")
}

#[test]
fn a_fresh_sweep_says_what_it_ran_and_a_resume_how_many_points_were_already_there() {
    let (dir, file) = swept_file();
    let out = dir.path().join("out");
    let o = sweep_ok(&file, &[], &out);
    let stdout = text(&o.stdout);
    assert!(
        stdout.starts_with("sweep sweep_test: 6 points, 36 runs\nran 6 points\n"),
        "{stdout}"
    );
    assert!(!stdout.contains("kept"), "{stdout}");
    let o = sweep_ok(&file, &["--resume"], &out);
    let stdout = text(&o.stdout);
    assert!(
        stdout.contains("resumed: 6 of 6 points were already finished; ran the remaining 0\n"),
        "{stdout}"
    );
    let fresh = dir.path().join("fresh");
    let o = sweep_ok(&file, &["--resume"], &fresh);
    let stdout = text(&o.stdout);
    assert!(
        stdout.contains("resumed: 0 of 6 points were already finished; ran the remaining 6\n"),
        "{stdout}"
    );
}

#[test]
fn sweep_policy_runs_only_that_policy_with_the_rows_of_the_full_sweep() {
    let (dir, file) = swept_file();
    let all = dir.path().join("all");
    sweep_ok(&file, &[], &all);
    let one = dir.path().join("one");
    let o = sweep_ok(&file, &["--policy", "bucket", "--policy", "bucket"], &one);
    assert!(
        text(&o.stdout).contains("6 points, 18 runs"),
        "{}",
        text(&o.stdout)
    );
    let (header, rows) = csv_rows(&one.join("sweep_summary.csv"));
    assert_eq!(header[2], "policy");
    assert_eq!(rows.len(), 6);
    assert!(rows.iter().all(|r| r[2] == "bucket"), "{rows:?}");
    // A policy runs on the same draws whatever the others: its rows are the full sweep's.
    let (_, all_rows) = csv_rows(&all.join("sweep.csv"));
    let (_, one_rows) = csv_rows(&one.join("sweep.csv"));
    let bucket_rows: Vec<_> = all_rows.into_iter().filter(|r| r[2] == "bucket").collect();
    assert_eq!(one_rows, bucket_rows);
    // The selection is in the sweep's manifest.
    let manifest = std::fs::read_to_string(one.join("sweep_points/scenario.toml")).unwrap();
    assert!(manifest.contains("policies = [\"bucket\"]"), "{manifest}");
}

#[test]
fn sweep_with_an_unknown_policy_exits_2_naming_the_available_ones() {
    let (dir, file) = swept_file();
    let out = dir.path().join("out");
    let o = stampede()
        .arg("sweep")
        .arg(&file)
        .args(["--policy", "nope", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    let stderr = text(&o.stderr);
    assert!(stderr.contains("no policy named \"nope\""), "{stderr}");
    assert!(stderr.contains("naive, bucket"), "{stderr}");
    assert!(!out.exists(), "nothing is written for a refused sweep");
}

#[test]
fn resume_refuses_another_policy_selection_and_merge_refuses_to_mix_them() {
    let (dir, file) = swept_file();
    let out = dir.path().join("out");
    sweep_ok(&file, &["--policy", "bucket"], &out);
    for other in [&["--policy", "naive"][..], &[]] {
        let mut args = vec!["--resume"];
        args.extend_from_slice(other);
        let o = stampede()
            .arg("sweep")
            .arg(&file)
            .args(&args)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o.stderr));
        assert!(
            text(&o.stderr).contains("holds another sweep"),
            "{}",
            text(&o.stderr)
        );
    }
    // The same selection resumes.
    let o = sweep_ok(&file, &["--resume", "--policy", "bucket"], &out);
    assert!(
        text(&o.stdout).contains("6 of 6 points"),
        "{}",
        text(&o.stdout)
    );
    // Shards of two selections are not one sweep.
    let a = dir.path().join("a");
    let b = dir.path().join("b");
    sweep_ok(&file, &["--shard", "1/2", "--policy", "bucket"], &a);
    sweep_ok(&file, &["--shard", "2/2"], &b);
    let o = stampede()
        .arg("merge")
        .arg(&a)
        .arg(&b)
        .arg("--out")
        .arg(dir.path().join("m"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("different sweeps"),
        "{}",
        text(&o.stderr)
    );
    // Shards of the same selection merge into what one sweep writes.
    sweep_ok(&file, &["--shard", "2/2", "--policy", "bucket"], &b);
    let m = dir.path().join("m");
    let o = stampede()
        .arg("merge")
        .arg(&a)
        .arg(&b)
        .args(["--no-charts", "--out"])
        .arg(&m)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_same_tree(&out, &m, "merged shards of one policy");
}

#[test]
fn a_sweep_writes_into_output_name_sweep_by_default_apart_from_the_run() {
    let (dir, file) = swept_file();
    let o = sweep_in(dir.path(), &[file.as_os_str()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let sweep_dir = dir.path().join("output/sweep_test-sweep");
    assert!(sweep_dir.join("sweep_summary.csv").is_file());
    assert!(
        text(&o.stdout).contains("results in output/sweep_test-sweep:"),
        "{}",
        text(&o.stdout)
    );
    let o = stampede()
        .current_dir(dir.path())
        .arg("run")
        .arg(&file)
        .args(["--no-charts", "--replications", "1"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let run_dir = dir.path().join("output/sweep_test");
    assert!(run_dir.join("summary.json").is_file());
    assert!(!run_dir.join("sweep_summary.csv").exists());
    assert!(!sweep_dir.join("summary.json").exists());
}

#[test]
fn run_and_sweep_each_refuse_a_directory_holding_the_others_results() {
    let (dir, file) = swept_file();
    let sweep_dir = dir.path().join("swept");
    sweep_ok(&file, &[], &sweep_dir);
    let before = tree(&sweep_dir);
    let o = stampede()
        .arg("run")
        .arg(&file)
        .args(["--no-charts", "--out"])
        .arg(&sweep_dir)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    let stderr = text(&o.stderr);
    assert!(stderr.contains("holds a sweep's results"), "{stderr}");
    assert!(stderr.contains("choose another --out"), "{stderr}");
    assert!(!sweep_dir.join("summary.json").exists());
    assert!(before == tree(&sweep_dir), "the sweep's files were changed");

    let run_dir = dir.path().join("ran");
    let o = stampede()
        .arg("run")
        .arg(&file)
        .args(["--no-charts", "--out"])
        .arg(&run_dir)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    for args in [&[][..], &["--resume"][..]] {
        let o = stampede()
            .arg("sweep")
            .arg(&file)
            .args(args)
            .arg("--out")
            .arg(&run_dir)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
        let stderr = text(&o.stderr);
        assert!(stderr.contains("holds a run's results"), "{stderr}");
        assert!(stderr.contains("choose another --out"), "{stderr}");
        assert!(!run_dir.join("sweep_points").exists());
    }
    let o = stampede()
        .arg("merge")
        .arg(&sweep_dir)
        .arg("--out")
        .arg(&run_dir)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("holds a run's results"),
        "{}",
        text(&o.stderr)
    );
}
