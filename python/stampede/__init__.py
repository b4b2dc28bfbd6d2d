"""stampede: simulate retry, rate-limit and backpressure policies for LLM agent pipelines.

The same Rust core as the ``stampede`` command line, with the same numbers: every DataFrame here
is read from the very CSV text the command line writes (``summary.csv``, ``runs.csv``, ...).

    >>> import stampede
    >>> result = stampede.run("scenarios/cascade_12_agents.toml")
    >>> result.summary[["job_latency_p99_s", "rate_limited", "cost_usd"]]

Long runs release the GIL, run on all cores (``threads=`` to choose) and stop at Ctrl-C.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

import pandas as pd

from . import _stampede
from ._stampede import GuardTripped, ScenarioError, __version__

__all__ = [
    "Scenario",
    "Result",
    "SweepResult",
    "CheckResult",
    "ScenarioError",
    "GuardTripped",
    "load",
    "loads",
    "run",
    "sweep",
    "check",
    "presets",
    "calibrate",
    "import_trace",
    "tune",
    "TuneResult",
    "__version__",
]

PathLike = Union[str, "os.PathLike[str]"]

# Columns of summary.csv that describe the run rather than a policy's metrics.
_RUN_COLUMNS = ["scenario", "seed", "replications"]


class Scenario:
    """A validated scenario: its text, the file it came from, and overrides by dotted path.

    Build one with :func:`load` or :func:`loads`; :meth:`with_overrides` returns a copy with
    values replaced by the sweep's dotted paths (``"source.0.job.agents"``,
    ``"policy.fixed.bucket.rate"``), validated at once.
    """

    def __init__(self, text: str, file: str, overrides: Optional[Mapping[str, Any]] = None):
        self.text = text
        self.file = file
        self.overrides: Dict[str, Any] = dict(overrides or {})
        self.name, self.policies = _stampede.validate(text, file, self.overrides or None)

    def with_overrides(self, overrides: Mapping[str, Any]) -> "Scenario":
        """A copy with the values at these dotted paths replaced (later ones win)."""
        merged = dict(self.overrides)
        merged.update(overrides)
        return Scenario(self.text, self.file, merged)

    def explain(self) -> Dict[str, Any]:
        """What ``stampede validate --format json`` prints: limits, demand, utilisation, warnings."""
        return json.loads(_stampede.explain(self.text, self.file, self.overrides or None))

    def __repr__(self) -> str:
        extra = f", overrides={self.overrides!r}" if self.overrides else ""
        return f"Scenario({self.name!r}, file={self.file!r}, policies={self.policies!r}{extra})"


def load(path: PathLike) -> Scenario:
    """Reads and validates the scenario file at ``path`` (errors raise :class:`ScenarioError`)."""
    file = os.fspath(path)
    return Scenario(_stampede.read_scenario(file), file)


def loads(text: str, file: str = "<string>") -> Scenario:
    """Validates scenario ``text``; ``file`` names it in errors and anchors relative paths (traces)."""
    return Scenario(text, file)


def _scenario(scenario: Union[Scenario, PathLike]) -> Scenario:
    return scenario if isinstance(scenario, Scenario) else load(scenario)


def _frame(text: Optional[str]) -> pd.DataFrame:
    if not text:
        return pd.DataFrame()
    return pd.read_csv(io.StringIO(text))


class Result:
    """The results of :func:`run`, as ``stampede run`` writes them.

    Attributes:
        summary: one row per policy (the index), the metrics of ``summary.csv`` with their
            ``_ci95`` half-widths.
        runs: one row per policy and replication (``runs.csv``).
        latency: call and job latency per policy at a list of quantiles (``latency.csv``).
        timeseries: the time series of replication 0 (``timeseries.csv``; empty when the
            scenario records none).
        tenants: per-tenant metrics (``tenants.csv``; empty with one tenant).
        providers: per-provider metrics, one row per policy and provider (``providers.csv``:
            attempts, answered, rate_limited, fallbacks_in, cooldowns, cost_usd, ... with their
            ``_ci95``; empty with one provider).
        warnings: e.g. a replication a guard stopped early.
        files: every result file by name, with the bytes ``stampede run --out`` writes.
    """

    def __init__(self, report: "_stampede.RunReport", scenario: Scenario):
        self._report = report
        self._scenario = scenario
        self.scenario: str = report.scenario
        self.seed: int = report.seed
        self.replications: int = report.replications
        self.warnings: List[str] = list(report.warnings)
        self.files: Dict[str, str] = dict(report.files())
        summary = _frame(self.files["summary.csv"])
        self.summary: pd.DataFrame = summary.drop(
            columns=[c for c in _RUN_COLUMNS if c in summary.columns]
        ).set_index("policy")
        self.runs: pd.DataFrame = _frame(self.files["runs.csv"])
        self.latency: pd.DataFrame = _frame(self.files["latency.csv"])
        self.timeseries: pd.DataFrame = _frame(self.files.get("timeseries.csv"))
        self.tenants: pd.DataFrame = _frame(self.files.get("tenants.csv"))
        self.providers: pd.DataFrame = _frame(self.files.get("providers.csv"))

    def to_json(self) -> str:
        """``summary.json``: every policy's metrics and intervals, as the CLI writes it."""
        return self.files["summary.json"]

    def table(self) -> str:
        """The table ``stampede run`` prints on a terminal."""
        return self._report.table()

    def write(self, dir: PathLike) -> Path:
        """Writes the result files into ``dir`` (as ``stampede run --out DIR``)."""
        self._report.write(os.fspath(dir), self._scenario.text)
        return Path(dir)

    def plot(self, dir: PathLike) -> List[Path]:
        """Writes the result files and the charts (``dir/charts/*.svg``, ``*.png``); returns the charts."""
        return [Path(p) for p in self._report.plot(os.fspath(dir), self._scenario.text)]

    def report(self, dir: PathLike) -> List[Path]:
        """Writes the result files, charts and the design-review report (``report.html``, ``report.md``)."""
        return [Path(p) for p in self._report.report(os.fspath(dir), self._scenario.text)]

    def _repr_html_(self) -> str:
        columns = [c for c in ["job_latency_p99_s", "jobs_failed", "rate_limited", "cost_usd"]
                   if c in self.summary.columns]
        return (
            f"<p><b>{self.scenario}</b> (seed {self.seed}, {self.replications} replication(s))</p>"
            + self.summary[columns].to_html()
        )

    def __repr__(self) -> str:
        return f"<stampede.Result {self.scenario!r}: {len(self.summary)} policies, seed {self.seed}>"


def run(
    scenario: Union[Scenario, PathLike],
    policies: Optional[Sequence[str]] = None,
    seed: Optional[int] = None,
    replications: Optional[int] = None,
    threads: Optional[int] = None,
) -> Result:
    """Runs the scenario's policies side by side on identical random draws (``stampede run``).

    Args:
        scenario: a :class:`Scenario` or the path of a scenario file.
        policies: only these policies, in this order (all by default).
        seed: overrides the scenario's seed.
        replications: overrides the scenario's replications per policy.
        threads: worker threads (all cores by default); the results do not depend on it.

    Raises:
        ScenarioError: the scenario is invalid.
        GuardTripped: a simulation guard stopped a runaway model.
        ValueError: an unknown policy, or replications out of range.
        KeyboardInterrupt: interrupted; the replications not yet started were skipped.
    """
    s = _scenario(scenario)
    report = _stampede.run_scenario(
        s.text,
        s.file,
        s.overrides or None,
        list(policies) if policies is not None else None,
        seed,
        replications,
        threads,
    )
    return Result(report, s)


class SweepResult:
    """The results of :func:`sweep`, as ``stampede sweep`` writes them.

    Attributes:
        points: one row per grid point, policy and replication (``sweep.csv``).
        summary: one row per grid point and policy, means and 95% half-widths
            (``sweep_summary.csv``).
        files: both files by name, with the bytes the CLI writes.
    """

    def __init__(self, files: Mapping[str, str]):
        self.files: Dict[str, str] = dict(files)
        self.points: pd.DataFrame = _frame(self.files["sweep.csv"])
        self.summary: pd.DataFrame = _frame(self.files["sweep_summary.csv"])

    def __repr__(self) -> str:
        return f"<stampede.SweepResult: {len(self.summary)} point x policy rows>"


def sweep(
    scenario: Union[Scenario, PathLike],
    grid: Optional[Mapping[str, Sequence[Any]]] = None,
    replications: Optional[int] = None,
    threads: Optional[int] = None,
    policies: Optional[Sequence[str]] = None,
) -> SweepResult:
    """Runs the scenario over a grid of values (``stampede sweep``).

    Args:
        scenario: a :class:`Scenario` (its overrides apply at every point) or a path.
        grid: ``{dotted path: [values]}``, replacing the file's ``[sweep]`` axis of the same path
            or added after them, e.g. ``{"source.0.job.agents": [4, 8, 12]}``.
        replications: per point and policy, overriding the sweep's.
        threads: worker threads (all cores by default); the results do not depend on it.
        policies: only these policies at every point.
    """
    s = _scenario(scenario)
    text = s.text
    if s.overrides:
        # A scenario with overrides sweeps as if they were written in the file: each becomes an
        # axis of one value, which the grid then replaces where it names the same path.
        merged: Dict[str, Any] = {path: [value] for path, value in s.overrides.items()}
        merged.update(grid or {})
        grid = merged
    files = _stampede.sweep_scenario(
        text,
        s.file,
        dict(grid) if grid else None,
        replications,
        threads,
        list(policies) if policies is not None else None,
    )
    return SweepResult(files)


class CheckResult:
    """The results of :func:`check`: one row per expectation and policy it applies to.

    Attributes:
        expectations: ``scenario``, ``file``, then every field of the check's outcome
            (``policy``, ``metric``, ``op``, ``bound``, ``mean``, ``ci95``, ``pass``, ...).
        passed: every expectation held and no baseline comparison regressed.
        report: the whole ``stampede check --format json`` document.
    """

    def __init__(self, document: str):
        self.report: Dict[str, Any] = json.loads(document)
        self.passed: bool = bool(self.report["passed"])
        rows = []
        for s in self.report["scenarios"]:
            for e in s["expectations"]:
                rows.append({"scenario": s["scenario"], "file": s["file"], **e})
        self.expectations: pd.DataFrame = pd.DataFrame(rows)

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        verdict = "passed" if self.passed else "FAILED"
        return f"<stampede.CheckResult {verdict}: {len(self.expectations)} expectation checks>"


def check(
    paths: Union[PathLike, Sequence[PathLike]],
    baseline: Optional[str] = None,
    tolerance: Optional[float] = None,
    baseline_dir: Optional[PathLike] = None,
    out: Optional[PathLike] = None,
    save_baseline: Optional[str] = None,
) -> CheckResult:
    """Runs scenario files and checks their ``[[expect]]`` entries (``stampede check``).

    Args:
        paths: one scenario file or several.
        baseline: also compare with this saved baseline (``baselines/<name>/`` by default).
        tolerance: a regression is a change beyond this fraction of the baseline (0.05).
        baseline_dir: where baselines live.
        out: where each scenario's results are written (a temporary directory by default).
        save_baseline: save this run as a baseline of that name.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    files = [os.fspath(p) for p in paths]
    out_dir = os.fspath(out) if out is not None else tempfile.mkdtemp(prefix="stampede-check-")
    document = _stampede.check_scenarios(
        files,
        out_dir,
        baseline,
        tolerance,
        os.fspath(baseline_dir) if baseline_dir is not None else None,
        save_baseline,
    )
    return CheckResult(document)


def presets() -> pd.DataFrame:
    """The provider presets ``stampede presets`` lists: name, source and as_of."""
    return pd.DataFrame(_stampede.presets(), columns=["name", "source", "as_of"])


def calibrate(trace: PathLike) -> str:
    """``stampede calibrate TRACE``: a ``[[provider]]`` section per model of an OpenTelemetry GenAI
    trace (OTLP JSON), its time to first token, decode speed and error rate fitted with their
    intervals in comments; ready to paste into a scenario (docs/traces.md)."""
    return _stampede.calibrate(os.fspath(trace))


def import_trace(
    input: PathLike,
    out: PathLike,
    tenant_attribute: Optional[str] = None,
    job_by: str = "root",
    force: bool = False,
) -> Path:
    """``stampede import``: writes ``out`` (a scenario) and its trace CSV beside it, the jobs of a
    trace (or of a scenario's ``otel`` sources) as editable templates that replay to the same
    numbers. Returns ``out``; the reader's warnings are emitted as :class:`UserWarning`."""
    import warnings

    _, _, _, notes = _stampede.import_trace(
        os.fspath(input), os.fspath(out), tenant_attribute, job_by, force
    )
    for note in notes:
        warnings.warn(note, UserWarning, stacklevel=2)
    return Path(out)


class TuneResult:
    """The results of :func:`tune`, as ``stampede tune`` writes them.

    Attributes:
        candidates: every candidate, its stage, replications and metrics (``tune.csv``).
        pareto: the feasible, non-dominated settings (``pareto.csv``).
        validation: the frontier and the policies as written on unseen seeds (``validation.csv``).
        recommended: the ``[[policy]]`` snippet to paste (``recommended.toml``), or ``None`` when
            no frontier point passed re-validation.
        text: what the command line prints.
        files: the files by name, with the bytes the CLI writes.
    """

    def __init__(self, files: Mapping[str, str]):
        self.files: Dict[str, str] = {k: v for k, v in files.items() if k != "summary"}
        self.text: str = files["summary"]
        self.candidates: pd.DataFrame = _frame(self.files["tune.csv"])
        self.pareto: pd.DataFrame = _frame(self.files["pareto.csv"])
        self.validation: pd.DataFrame = _frame(self.files["validation.csv"])
        self.recommended: Optional[str] = self.files.get("recommended.toml")

    def __repr__(self) -> str:
        return (
            f"<stampede.TuneResult: {len(self.candidates)} candidates, "
            f"{len(self.pareto)} on the frontier, "
            f"{'a' if self.recommended else 'no'} recommendation>"
        )


def tune(
    scenario: Union[Scenario, PathLike],
    threads: Optional[int] = None,
    seed: Optional[int] = None,
    budget: Optional[int] = None,
) -> TuneResult:
    """Searches the ``[tune]`` table's parameters for the frontier of its objectives
    (``stampede tune``, docs/tune.md); the same files for any number of threads.

    Args:
        scenario: a :class:`Scenario` without overrides, or a path; it needs a ``[tune]`` table.
        threads: worker threads (all cores by default).
        seed: the search's seed, overriding the table's.
        budget: simulated replications the search may spend, overriding the table's.

    Raises:
        ScenarioError: the scenario or its ``[tune]`` table is invalid.
        GuardTripped: a simulation guard stopped a runaway model.
        ValueError: overrides on the scenario, a budget out of range.
    """
    s = _scenario(scenario)
    if s.overrides:
        raise ValueError("tune reads the scenario as written: write the overrides into the file")
    return TuneResult(_stampede.tune_scenario(s.text, s.file, threads, seed, budget))
