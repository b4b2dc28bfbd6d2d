"""Compare retry and rate-limit policies on the 12-agent cascade, as a notebook would.

Run from the repository root after `pip install ./python` (matplotlib optional):

    python examples/python/compare_policies.py

Each block is a notebook cell: load the scenario, run its policies on identical random draws,
look at the table, widen the fan-out with an override, sweep the shared bucket's rate, and plot.
"""

from pathlib import Path

import pandas as pd

import stampede

pd.set_option("display.width", 200)
pd.set_option("display.max_columns", 12)

ROOT = Path(__file__).resolve().parents[2]

# %% The incident: 12 sub-agents x 5 calls against a 4M tokens/minute limit.
cascade = stampede.load(ROOT / "scenarios" / "cascade_12_agents.toml")
print(cascade)
result = stampede.run(cascade, replications=5)
print(result.table())
cols = ["job_latency_p99_s", "job_latency_p99_s_ci95", "rate_limited", "jobs_failed", "cost_usd"]
print(result.summary[cols].round(2))

# %% The same question at twice the fan-out: a dotted-path override, validated at once.
wide = cascade.with_overrides({"source.0.job.agents": 24})
wide_result = stampede.run(wide, policies=["jitter_only", "fixed"], replications=5)
print(wide_result.summary[cols].round(2))

# %% How fast may the shared bucket run? Sweep its rate (tokens/s, or with units: "3.6M/min").
rates = [45_000, 55_000, 60_000, 65_000, 70_000]
sweep = stampede.sweep(
    cascade,
    grid={"policy.fixed.bucket.rate": rates},
    replications=5,
    policies=["fixed"],
)
table = sweep.summary.set_index("policy.fixed.bucket.rate")[
    ["job_latency_p99_s_mean", "job_latency_p99_s_ci95", "jobs_failed_mean", "rate_limited_mean"]
]
print(table.round(2))

# %% The charts and the design-review report the CLI writes, from the same results.
out = ROOT / "output" / "python_cascade"
written = result.report(out)
print("report:", written[0])

# %% A plot of the sweep, when matplotlib is installed.
try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    print("matplotlib is not installed: skipping the plot (pip install matplotlib)")
else:
    fig, ax = plt.subplots(figsize=(7, 4))
    ok = table["jobs_failed_mean"] == 0
    ax.errorbar(
        table.index, table["job_latency_p99_s_mean"], yerr=table["job_latency_p99_s_ci95"],
        marker="o", label="fixed: job p99 (95% CI)",
    )
    ax.scatter(table.index[~ok], table["job_latency_p99_s_mean"][~ok], color="#c81e1e",
               marker="x", s=120, zorder=3, label="some runs FAILED jobs")
    ax.axvline(66_667, color="grey", linestyle="--", label="provider limit (4M/min)")
    ax.set_xlabel("shared bucket rate (tokens/s)")
    ax.set_ylabel("job latency p99 (s)")
    ax.legend()
    fig.tight_layout()
    png = out / "bucket_rate.png"
    fig.savefig(png, dpi=120)
    print("plot:", png)
