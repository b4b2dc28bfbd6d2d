//! A run's results as files machines read: one JSON document, CSV tables, written whole or
//! not at all. The formats are the contract `stampede plot`, `report` and `check` read back.

use super::Report;
use crate::io::write_atomic;
use crate::metrics::{Metrics, ProviderMetrics, TenantMetrics};
use serde::Serialize;
use std::path::Path;

#[derive(Serialize)]
struct JsonReport<'a> {
    scenario: &'a str,
    seed: u64,
    replications: u32,
    policies: Vec<JsonPolicy<'a>>,
}

#[derive(Serialize)]
struct JsonPolicy<'a> {
    name: &'a str,
    metrics: &'a Metrics,
    #[serde(skip_serializing_if = "Option::is_none")]
    ci95: Option<&'a Metrics>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tenants: Vec<JsonTenant<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    providers: Vec<JsonProvider<'a>>,
}

#[derive(Serialize)]
struct JsonProvider<'a> {
    name: &'a str,
    metrics: &'a ProviderMetrics,
    #[serde(skip_serializing_if = "Option::is_none")]
    ci95: Option<&'a ProviderMetrics>,
}

#[derive(Serialize)]
struct JsonTenant<'a> {
    name: &'a str,
    metrics: &'a TenantMetrics,
    #[serde(skip_serializing_if = "Option::is_none")]
    ci95: Option<&'a TenantMetrics>,
}

/// The report as one JSON document: scenario, seed, and each policy's metrics (means over
/// replications, with `ci95` half-widths when there are several).
pub fn to_json(report: &Report) -> String {
    let doc = JsonReport {
        scenario: &report.scenario,
        seed: report.seed,
        replications: report.replications,
        policies: report
            .policies
            .iter()
            .map(|p| JsonPolicy {
                name: &p.name,
                metrics: &p.aggregate.mean,
                ci95: (report.replications > 1).then_some(&p.aggregate.ci95),
                tenants: p
                    .tenants
                    .iter()
                    .map(|t| JsonTenant {
                        name: &t.name,
                        metrics: &t.aggregate.mean,
                        ci95: (report.replications > 1).then_some(&t.aggregate.ci95),
                    })
                    .collect(),
                providers: p
                    .providers
                    .iter()
                    .map(|x| JsonProvider {
                        name: &x.name,
                        metrics: &x.aggregate.mean,
                        ci95: (report.replications > 1).then_some(&x.aggregate.ci95),
                    })
                    .collect(),
            })
            .collect(),
    };
    let mut s = serde_json::to_string_pretty(&doc).expect("metrics serialise");
    s.push('\n');
    s
}

/// The report as CSV: one row per policy with its mean metrics, then their 95% half-widths.
pub fn to_csv(report: &Report) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = vec![
        "scenario".to_string(),
        "seed".into(),
        "replications".into(),
        "policy".into(),
    ];
    header.extend(Metrics::NAMES.iter().map(|n| n.to_string()));
    header.extend(Metrics::NAMES.iter().map(|n| format!("{n}_ci95")));
    w.write_record(&header).expect("in-memory CSV");
    for p in &report.policies {
        let mut row = vec![
            report.scenario.clone(),
            report.seed.to_string(),
            report.replications.to_string(),
            p.name.clone(),
        ];
        row.extend(p.aggregate.mean.values().iter().map(|v| v.to_string()));
        row.extend(p.aggregate.ci95.values().iter().map(|v| v.to_string()));
        w.write_record(&row).expect("in-memory CSV");
    }
    String::from_utf8(w.into_inner().expect("in-memory CSV")).expect("CSV of UTF-8 fields")
}

/// The per-replication CSV: one row per policy and replication.
pub fn runs_csv(report: &Report) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = vec![
        "scenario".to_string(),
        "policy".into(),
        "replication".into(),
        "seed".into(),
    ];
    header.extend(Metrics::NAMES.iter().map(|n| n.to_string()));
    w.write_record(&header).expect("in-memory CSV");
    for p in &report.policies {
        for (r, m) in p.runs.iter().enumerate() {
            let mut row = vec![
                report.scenario.clone(),
                p.name.clone(),
                r.to_string(),
                crate::run::replication_seed(report.seed, r as u32).to_string(),
            ];
            row.extend(m.values().iter().map(|v| v.to_string()));
            w.write_record(&row).expect("in-memory CSV");
        }
    }
    String::from_utf8(w.into_inner().expect("in-memory CSV")).expect("CSV of UTF-8 fields")
}

/// The time series of every policy that has one (replication 0), one row per policy and
/// interval; `None` when the scenario asks for none.
pub fn timeseries_csv(report: &Report) -> Option<String> {
    if report.policies.iter().all(|p| p.series.is_none()) {
        return None;
    }
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::new());
    let mut header: Vec<String> = [
        "policy",
        "t_s",
        "in_flight",
        "provider_queue",
        "client_queue",
        "admitted_tokens_per_s",
        "limit_tokens_per_s",
        "rate_limited_per_s",
        "errors_per_s",
        "timeouts_per_s",
        "goodput_calls_per_s",
        "spend_usd",
    ]
    .map(String::from)
    .to_vec();
    // With several providers, three columns per provider: `provider.<name>.<gauge or rate>`.
    let providers: Vec<&str> = report
        .policies
        .iter()
        .find(|p| !p.providers.is_empty())
        .map(|p| p.providers.iter().map(|x| x.name.as_str()).collect())
        .unwrap_or_default();
    for name in &providers {
        for column in PROVIDER_SERIES_COLUMNS {
            header.push(format!("provider.{name}.{column}"));
        }
    }
    w.write_record(&header).expect("in-memory CSV");
    for p in &report.policies {
        for s in p.series.iter().flatten() {
            if providers.is_empty() {
                w.serialize((&p.name, s)).expect("in-memory CSV");
                continue;
            }
            let mut row = vec![
                p.name.clone(),
                s.t_s.to_string(),
                s.in_flight.to_string(),
                s.provider_queue.to_string(),
                s.client_queue.to_string(),
                s.admitted_tokens_per_s.to_string(),
                s.limit_tokens_per_s.to_string(),
                s.rate_limited_per_s.to_string(),
                s.errors_per_s.to_string(),
                s.timeouts_per_s.to_string(),
                s.goodput_calls_per_s.to_string(),
                s.spend_usd.to_string(),
            ];
            for k in 0..providers.len() {
                let x = s.providers.get(k).copied().unwrap_or_default();
                row.push(x.in_flight.to_string());
                row.push(x.rate_limited_per_s.to_string());
                row.push(x.goodput_calls_per_s.to_string());
            }
            w.write_record(&row).expect("in-memory CSV");
        }
    }
    Some(String::from_utf8(w.into_inner().expect("in-memory CSV")).expect("CSV of UTF-8 fields"))
}

/// The per-provider columns of `timeseries.csv`, after `provider.<name>.`.
pub const PROVIDER_SERIES_COLUMNS: [&str; 3] =
    ["in_flight", "rate_limited_per_s", "goodput_calls_per_s"];

/// Per-provider numbers: one row per policy and provider, the means then their `_ci95`
/// half-widths; `None` for a scenario with a single provider.
pub fn providers_csv(report: &Report) -> Option<String> {
    if report.policies.iter().all(|p| p.providers.is_empty()) {
        return None;
    }
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["policy".to_string(), "provider".into()];
    header.extend(ProviderMetrics::NAMES.iter().map(|n| n.to_string()));
    header.extend(ProviderMetrics::NAMES.iter().map(|n| format!("{n}_ci95")));
    w.write_record(&header).expect("in-memory CSV");
    for p in &report.policies {
        for x in &p.providers {
            let mut row = vec![p.name.clone(), x.name.clone()];
            row.extend(x.aggregate.mean.values().iter().map(|v| v.to_string()));
            row.extend(x.aggregate.ci95.values().iter().map(|v| v.to_string()));
            w.write_record(&row).expect("in-memory CSV");
        }
    }
    Some(String::from_utf8(w.into_inner().expect("in-memory CSV")).expect("CSV of UTF-8 fields"))
}

/// Per-tenant numbers: one row per policy and tenant, the means then their `_ci95` half-widths;
/// `None` for a scenario with a single tenant.
pub fn tenants_csv(report: &Report) -> Option<String> {
    if report.policies.iter().all(|p| p.tenants.is_empty()) {
        return None;
    }
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["policy".to_string(), "tenant".into()];
    header.extend(TenantMetrics::NAMES.iter().map(|n| n.to_string()));
    header.extend(TenantMetrics::NAMES.iter().map(|n| format!("{n}_ci95")));
    w.write_record(&header).expect("in-memory CSV");
    for p in &report.policies {
        for t in &p.tenants {
            let mut row = vec![p.name.clone(), t.name.clone()];
            row.extend(t.aggregate.mean.values().iter().map(|v| v.to_string()));
            row.extend(t.aggregate.ci95.values().iter().map(|v| v.to_string()));
            w.write_record(&row).expect("in-memory CSV");
        }
    }
    Some(String::from_utf8(w.into_inner().expect("in-memory CSV")).expect("CSV of UTF-8 fields"))
}

/// Replication 0's latency quantiles per policy: `policy, quantile, call_latency_s,
/// job_latency_s`, for CDF charts.
pub fn latency_csv(report: &Report) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["policy", "quantile", "call_latency_s", "job_latency_s"])
        .expect("in-memory CSV");
    for p in &report.policies {
        if let Some(d) = &p.distribution {
            for i in 0..d.quantiles.len() {
                w.write_record([
                    p.name.clone(),
                    d.quantiles[i].to_string(),
                    d.call_s[i].to_string(),
                    d.job_s[i].to_string(),
                ])
                .expect("in-memory CSV");
            }
        }
    }
    String::from_utf8(w.into_inner().expect("in-memory CSV")).expect("CSV of UTF-8 fields")
}

/// Writes the run's files (`summary.json`, `summary.csv`, `runs.csv`, `latency.csv` and, when
/// there are some, `tenants.csv`, `providers.csv` and `timeseries.csv`) into `dir` as one set with its manifest
/// (see [`crate::io::Staging`]): the files of an earlier run there are replaced, never mixed in.
pub fn write_outputs(report: &Report, dir: &Path) -> std::io::Result<()> {
    let staging = crate::io::Staging::new(dir)?;
    write_files(report, staging.path())?;
    staging.commit()
}

/// Writes the run's files into `dir`, an existing folder (a staging folder, to be moved into
/// place whole).
pub fn write_files(report: &Report, dir: &Path) -> std::io::Result<()> {
    write_atomic(&dir.join("summary.json"), to_json(report).as_bytes())?;
    write_atomic(&dir.join("summary.csv"), to_csv(report).as_bytes())?;
    write_atomic(&dir.join("runs.csv"), runs_csv(report).as_bytes())?;
    write_atomic(&dir.join("latency.csv"), latency_csv(report).as_bytes())?;
    if let Some(t) = tenants_csv(report) {
        write_atomic(&dir.join("tenants.csv"), t.as_bytes())?;
    }
    if let Some(t) = providers_csv(report) {
        write_atomic(&dir.join("providers.csv"), t.as_bytes())?;
    }
    if let Some(ts) = timeseries_csv(report) {
        write_atomic(&dir.join("timeseries.csv"), ts.as_bytes())?;
    }
    Ok(())
}
