//! The reading of a run's results, generated from the numbers alone.

use super::data::{PolicySummary, Summary};
use super::table::{Format, format};
use super::text::{Span, and_list, plural, secs, usd};

/// Whether some of the policy's jobs failed (in any replication): its cost and latency then
/// measure a run that stopped early, not a better policy.
pub(super) fn failed(p: &PolicySummary) -> bool {
    p.get("jobs_failed") > 0.0
}

/// "failed 1 of 1 jobs", with the mean over replications when there are several.
pub(super) fn failed_jobs(p: &PolicySummary) -> String {
    format!(
        "failed {} of {} jobs",
        format(p.get("jobs_failed"), Format::Count),
        format(p.get("jobs"), Format::Count)
    )
}

/// The reading of the results: first who failed (their low cost and latency only mean they
/// stopped early, so they are compared with nothing), then the winner among the policies that
/// finished every job, what it costs against the cheapest of those, the trade-off between
/// them, and who was refused how often. Built from the numbers only.
pub(super) fn reading(summary: &Summary) -> Vec<Span> {
    let mut s: Vec<Span> = Vec::new();
    let text = |s: &mut Vec<Span>, t: String| s.push(Span::Text(t));
    let ps = &summary.policies;
    let reps = summary.replications.unwrap_or(1);
    let p99 = |p: &PolicySummary| p.get("job_latency_p99_s");
    let cost = |p: &PolicySummary| p.get("cost_usd");
    let ok: Vec<&PolicySummary> = ps
        .iter()
        .filter(|p| !failed(p) && p99(p).is_finite())
        .collect();
    let cheapest = ok
        .iter()
        .copied()
        .filter(|p| cost(p).is_finite())
        .min_by(|a, b| cost(a).total_cmp(&cost(b)));
    let failures: Vec<&PolicySummary> = ps.iter().filter(|p| failed(p)).collect();
    if !failures.is_empty() && !ok.is_empty() {
        let named: Vec<String> = failures
            .iter()
            .map(|p| {
                format!(
                    "{} {} ({} calls gave up)",
                    p.name,
                    failed_jobs(p),
                    format(p.get("gave_up"), Format::Count)
                )
            })
            .collect();
        s.push(Span::Strong(format!("Failed: {}.", and_list(&named))));
        text(
            &mut s,
            format!(
                " {} low cost and latency only mean {} stopped early: {} left out of every comparison below. ",
                if failures.len() > 1 { "Their" } else { "Its" },
                if failures.len() > 1 { "they" } else { "it" },
                if failures.len() > 1 {
                    "they are"
                } else {
                    "it is"
                },
            ),
        );
    }
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
        let among = if ok.len() == ps.len() {
            "of any policy"
        } else {
            "of the policies that finished every job"
        };
        if let Some(c) = cheapest {
            if cost(c) >= cost(best) {
                text(
                    &mut s,
                    format!("{it} {}, the least {among}. ", usd(cost(best))),
                );
            } else {
                text(
                    &mut s,
                    format!(
                        "{it} {}, {:.1}x the cheapest {}, {} at {} (job latency p99 {}). ",
                        usd(cost(best)),
                        cost(best) / cost(c),
                        if ok.len() == ps.len() {
                            "policy"
                        } else {
                            "policy that finished every job"
                        },
                        c.name,
                        usd(cost(c)),
                        secs(p99(c))
                    ),
                );
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
        let named: Vec<String> = ps
            .iter()
            .map(|p| format!("{} {}", p.name, failed_jobs(p)))
            .collect();
        s.push(Span::Strong(format!(
            "No policy finished every job: {}.",
            and_list(&named)
        )));
        text(
            &mut s,
            format!(
                " Costs and latencies below measure runs that stopped early. {} failed the fewest, at {} with a job latency p99 of {}. ",
                least.name,
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
            text.starts_with("**Failed: naive failed 1 of 1 jobs (10 calls gave up).** Its low cost and latency only mean it stopped early: it is left out of every comparison below. **bucket_only and fixed** share the lowest job latency p99 among the policies that finished every job: 38.3 s"),
            "{text}"
        );
        assert!(
            text.contains("They cost $6.05, the least of the policies that finished every job."),
            "{text}"
        );
        assert!(!text.contains("cheapest policy, naive"), "{text}");
        assert!(
            text.contains(
                "429s per policy: naive 5,586, jitter_only 5,058, bucket_only 0 and fixed 0."
            ),
            "{text}"
        );
    }

    #[test]
    fn a_failed_policy_is_named_first_and_never_the_yardstick() {
        let s = Summary {
            replications: Some(1),
            policies: vec![
                policy("fast", 10.0, 5.0, 0.0, 0.0),
                policy("cheap", 20.0, 2.0, 0.0, 3.0),
                policy("broken", 1.0, 0.5, 1.0, 900.0),
            ],
            ..Summary::default()
        };
        let text = spans_md(&reading(&s));
        assert!(
            text.starts_with("**Failed: broken failed 1 of 1 jobs (10 calls gave up).**"),
            "{text}"
        );
        assert!(
            text.contains("It costs $5.00, 2.5x the cheapest policy that finished every job, cheap at $2.00 (job latency p99 20.0 s)."),
            "{text}"
        );
        assert!(!text.contains("broken at"), "{text}");
        assert!(
            text.contains("The trade-off, from fastest to cheapest, among the policies that finished every job (none of them beaten on both job p99 and cost): fast (10.0 s, $5.00) and cheap (20.0 s, $2.00)."),
            "{text}"
        );
    }

    #[test]
    fn when_every_policy_failed_the_reading_says_so_first() {
        let s = Summary {
            replications: Some(1),
            policies: vec![
                policy("a", 10.0, 5.0, 1.0, 0.0),
                policy("b", 20.0, 2.0, 1.0, 3.0),
            ],
            ..Summary::default()
        };
        let text = spans_md(&reading(&s));
        assert!(
            text.starts_with("**No policy finished every job: a failed 1 of 1 jobs and b failed 1 of 1 jobs.** Costs and latencies below measure runs that stopped early."),
            "{text}"
        );
    }
}
