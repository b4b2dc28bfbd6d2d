//! The reading of a run's results, generated from the numbers alone.

use super::data::{PolicySummary, Summary};
use super::table::{Format, format};
use super::text::{Span, and_list, plural, secs, usd};

/// The reading of the results: the winner, what it costs against the cheapest, who was refused
/// how often, and who failed. Built from the numbers only.
pub(super) fn reading(summary: &Summary) -> Vec<Span> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::text::spans_md;
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
}
