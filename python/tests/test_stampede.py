"""The Python package against the command line: the same scenarios give the same bytes, the
DataFrames hold those numbers, and errors, overrides, sweeps, checks, charts and interrupts work
as documented (docs/python.md)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

import stampede

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.toml"))
RUN_FILES = [
    "summary.json",
    "summary.csv",
    "runs.csv",
    "latency.csv",
    "timeseries.csv",
    "tenants.csv",
    "providers.csv",
]


@pytest.fixture(scope="session")
def cli() -> Path:
    """The command line of this checkout (built with cargo when it is not there yet)."""
    for profile in ("debug", "release"):
        binary = ROOT / "target" / profile / "stampede"
        if binary.exists():
            return binary
    subprocess.run(["cargo", "build", "--quiet"], cwd=ROOT, check=True)
    return ROOT / "target" / "debug" / "stampede"


def cli_run(cli: Path, scenario: Path, out: Path, *args: str) -> None:
    subprocess.run(
        [str(cli), "run", str(scenario), "--out", str(out), "--no-charts", "--format", "csv", *args],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.stem for s in SCENARIOS])
def test_every_shipped_scenario_gives_the_cli_bytes(cli: Path, scenario: Path, tmp_path: Path) -> None:
    cli_run(cli, scenario, tmp_path)
    result = stampede.run(scenario)
    written = {f for f in RUN_FILES if (tmp_path / f).exists()}
    assert set(result.files) == written
    for name in written:
        assert result.files[name] == (tmp_path / name).read_text(), name


def test_the_summary_frame_holds_summary_json_values(tmp_path: Path) -> None:
    result = stampede.run(ROOT / "scenarios/cascade_12_agents.toml", replications=3)
    doc = json.loads(result.to_json())
    assert list(result.summary.index) == ["naive", "jitter_only", "bucket_only", "fixed"]
    assert result.summary.index.name == "policy"
    assert "scenario" not in result.summary.columns
    for p in doc["policies"]:
        row = result.summary.loc[p["name"]]
        for metric, value in p["metrics"].items():
            assert row[metric] == pytest.approx(value, rel=1e-12, abs=1e-12), metric
            assert row[f"{metric}_ci95"] == pytest.approx(p["ci95"][metric], rel=1e-12, abs=1e-12)
    assert result.replications == 3 and result.seed == 1
    assert len(result.runs) == 4 * 3
    assert set(result.latency["policy"]) == set(result.summary.index)
    assert result.tenants.empty and result.timeseries.empty
    assert result.providers.empty and "providers.csv" not in result.files


def test_the_providers_frame_shows_naive_fallback_swamping_the_secondary() -> None:
    result = stampede.run(ROOT / "scenarios/fallback_storm.toml")
    providers = result.providers
    assert len(providers) == 2 * 4
    assert list(providers["provider"].unique()) == ["primary", "secondary"]
    assert list(providers["policy"].unique()) == list(result.summary.index)
    frame = providers.set_index(["policy", "provider"])
    secondary = frame.loc[("naive_fallback", "secondary")]
    assert secondary["rate_limited"] > secondary["answered"]
    assert secondary["fallbacks_in"] > 0
    # The frame is providers.csv, and its attempts add up to the policy's.
    assert "providers.csv" in result.files
    for policy, rows in providers.groupby("policy"):
        assert rows["attempts"].sum() == pytest.approx(result.summary.loc[policy, "attempts"], rel=1e-9)


def test_seed_policies_and_threads(tmp_path: Path, cli: Path) -> None:
    scenario = ROOT / "scenarios/cascade_12_agents.toml"
    cli_run(cli, scenario, tmp_path, "--seed", "7", "--policy", "fixed", "--policy", "naive")
    one = stampede.run(scenario, seed=7, policies=["fixed", "naive"], threads=1)
    two = stampede.run(scenario, seed=7, policies=["fixed", "naive"], threads=2)
    assert one.files == two.files
    assert one.files["summary.csv"] == (tmp_path / "summary.csv").read_text()
    assert list(one.summary.index) == ["fixed", "naive"]


def test_a_bad_scenario_raises_with_file_line_column_and_field() -> None:
    text = (ROOT / "scenarios/cascade_12_agents.toml").read_text()
    broken = text.replace('wait = "1s"', 'wait = "one second"', 1)
    line = next(i for i, l in enumerate(broken.splitlines(), 1) if "one second" in l)
    with pytest.raises(stampede.ScenarioError) as e:
        stampede.loads(broken, "broken.toml")
    err = e.value
    assert err.file == "broken.toml"
    assert err.line == line
    assert err.column == broken.splitlines()[line - 1].index('"one second"') + 1
    assert err.field == "policy[0].retry.wait.wait"
    assert "one second" in err.message
    assert isinstance(err, ValueError)
    with pytest.raises(stampede.ScenarioError):
        stampede.load(ROOT / "no_such_file.toml")


def test_overrides_use_the_sweeps_dotted_paths_and_match_the_value_written_in_the_file() -> None:
    path = ROOT / "scenarios/cascade_12_agents.toml"
    base = stampede.load(path)
    wide = base.with_overrides({"source.0.job.agents": 24, "policy.fixed.bucket.rate": "3M/min"})
    assert wide.overrides == {"source.0.job.agents": 24, "policy.fixed.bucket.rate": "3M/min"}
    written = path.read_text().replace("agents = 12", "agents = 24", 1)
    assert "agents = 24" in written
    edited = stampede.loads(written, str(path)).with_overrides({"policy.fixed.bucket.rate": 50_000})
    a = stampede.run(wide, policies=["fixed"])
    b = stampede.run(edited, policies=["fixed"])
    assert a.files["summary.csv"] == b.files["summary.csv"]
    assert a.summary.loc["fixed", "calls"] == 24 * 5
    with pytest.raises(stampede.ScenarioError) as e:
        base.with_overrides({"source.0.job.nothing": 1})
    assert "nothing" in str(e.value)


def test_unknown_policy_and_a_tripped_guard_raise() -> None:
    with pytest.raises(ValueError, match="no policy named"):
        stampede.run(ROOT / "scenarios/cascade_12_agents.toml", policies=["nope"])
    loop = stampede.load(ROOT / "scenarios/runaway_loop.toml")
    # The uncapped policy trips its guard; the scenario stops with what it had and warns.
    result = stampede.run(loop)
    assert any("stopped early" in w for w in result.warnings)


def test_a_sweep_gives_the_cli_bytes(cli: Path, tmp_path: Path) -> None:
    scenario = ROOT / "scenarios/cascade_sweep.toml"
    subprocess.run(
        [str(cli), "sweep", str(scenario), "--set", "source.0.job.agents=4,12",
         "--set", "policy.fixed.bucket.rate=45000,60000", "--replications", "2",
         "--out", str(tmp_path), "--no-charts"],
        cwd=ROOT, check=True, capture_output=True,
    )
    result = stampede.sweep(
        scenario,
        grid={"source.0.job.agents": [4, 12], "policy.fixed.bucket.rate": [45000, 60000]},
        replications=2,
    )
    for name in ("sweep.csv", "sweep_summary.csv"):
        assert result.files[name] == (tmp_path / name).read_text(), name
    assert len(result.summary) == 2 * 2 * 3
    assert len(result.points) == 2 * 2 * 3 * 2
    assert {"source.0.job.agents", "policy", "job_latency_p99_s_mean"} <= set(result.summary.columns)


def test_check_reports_every_expectation_with_pass_and_the_verdict(tmp_path: Path, cli: Path) -> None:
    scenario = ROOT / "scenarios/cascade_12_agents.toml"
    result = stampede.check(scenario, out=tmp_path)
    assert result.passed and bool(result)
    cli_doc = json.loads(subprocess.run(
        [str(cli), "check", str(scenario), "--format", "json", "--out", str(tmp_path / "cli")],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout)
    assert len(result.expectations) == len(cli_doc["scenarios"][0]["expectations"])
    assert result.expectations["pass"].all()
    assert set(result.expectations["scenario"]) == {"cascade_12_agents"}
    failing = tmp_path / "failing.toml"
    # jitter_only's 429s are held to >= 100; ask for a million instead.
    failing.write_text(scenario.read_text().replace("value = 100\n", "value = 1000000\n"))
    assert "value = 1000000" in failing.read_text()
    assert not stampede.check(failing, out=tmp_path / "f").passed


def test_plot_and_report_write_the_clis_files(tmp_path: Path) -> None:
    result = stampede.run(ROOT / "scenarios/cascade_12_agents.toml")
    charts = result.plot(tmp_path / "run")
    assert sorted(p.name for p in charts) == [
        "latency_cdf.png", "latency_cdf.svg", "tradeoff.png", "tradeoff.svg",
    ]
    written = result.report(tmp_path / "rep")
    assert written[0].name == "report.html"
    html = written[0].read_text()
    assert "<h1>cascade_12_agents</h1>" in html
    assert "Assumptions" in html, "the scenario text is kept beside the results"
    assert (tmp_path / "rep" / "summary.csv").read_text() == result.files["summary.csv"]


def test_explain_and_presets() -> None:
    doc = stampede.load(ROOT / "scenarios/cascade_12_agents.toml").explain()
    assert doc["limits"][0]["per_s"] == 66667.0
    presets = stampede.presets()
    assert "anthropic/tier-2/claude-sonnet-4" in set(presets["name"])
    assert presets["source"].str.startswith("https://").all()


def test_ctrl_c_interrupts_a_long_run_promptly() -> None:
    # A long run: the M/M/1 scenario with many replications on one thread.
    mm1 = stampede.load(ROOT / "scenarios/mm1.toml")
    timer = threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT))
    started = time.monotonic()
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        stampede.run(mm1, replications=10_000, threads=1)
    assert time.monotonic() - started < 20
    # The package still works afterwards.
    assert stampede.run(ROOT / "scenarios/cascade_12_agents.toml", policies=["fixed"]).summary.shape[0] == 1


def test_ctrl_c_interrupts_a_long_sweep_promptly() -> None:
    timer = threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT))
    started = time.monotonic()
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        stampede.sweep(
            ROOT / "scenarios/mm1.toml",
            grid={"scenario.seed": list(range(1, 60))},
            replications=200,
            threads=1,
        )
    assert time.monotonic() - started < 20


def test_the_notebook_example_runs() -> None:
    import sys

    out = subprocess.run(
        [sys.executable, str(ROOT / "examples/python/compare_policies.py")],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout
    assert "report: " in out
    assert "policy.fixed.bucket.rate" in out


def test_calibrate_and_import_match_the_command_line(cli, tmp_path):
    trace = ROOT / "examples/otel/agents.jsonl"
    printed = subprocess.run(
        [str(cli), "calibrate", str(trace)], check=True, capture_output=True, text=True
    ).stdout
    assert stampede.calibrate(trace) == printed
    out = tmp_path / "replay.toml"
    with pytest.warns(UserWarning, match="skipped"):
        written = stampede.import_trace(ROOT / "scenarios/replay_otel.toml", out)
    assert written == out
    subprocess.run(
        [str(cli), "import", str(ROOT / "scenarios/replay_otel.toml"), "--out", str(tmp_path / "cli.toml")],
        check=True, capture_output=True,
    )
    assert (tmp_path / "replay.csv").read_bytes() == (tmp_path / "cli.csv").read_bytes()
    assert 'file = "replay.csv"' in out.read_text()
    with pytest.raises(ValueError, match="--force"):
        stampede.import_trace(ROOT / "scenarios/replay_otel.toml", out)
    with pytest.raises(ValueError, match="job_by"):
        stampede.import_trace(trace, tmp_path / "x.toml", job_by="span")


def test_tune_matches_the_command_line(cli, tmp_path):
    scenario = ROOT / "scenarios/cascade_tune.toml"
    subprocess.run(
        [str(cli), "tune", str(scenario), "--budget", "400", "--out", str(tmp_path), "--no-charts"],
        cwd=ROOT, check=True, capture_output=True,
    )
    result = stampede.tune(scenario, budget=400, threads=1)
    for name in ("tune.csv", "pareto.csv", "validation.csv"):
        assert result.files[name] == (tmp_path / name).read_text(), name
    assert (result.recommended is not None) == (tmp_path / "recommended.toml").exists()
    if result.recommended is not None:
        assert result.recommended == (tmp_path / "recommended.toml").read_text()
    assert "job_latency_p99_s" in result.pareto.columns
    assert len(result.candidates) > len(result.pareto) > 0
    with pytest.raises(ValueError, match="overrides"):
        stampede.tune(stampede.load(scenario).with_overrides({"policy.fixed.bucket.rate": 50000}))
