//! The findings of a sweep, generated from `sweep_summary.csv` alone: what was swept, where each
//! policy breaks, and the best settings found, with their confidence intervals.
//!
//! A point "fails" for a policy when some of its runs there had failed jobs (`jobs_failed` mean
//! above 0). Parameters whose path starts with `policy.` are settings a team chooses; the others
//! (`source.`, `provider.`, ...) are conditions the team faces. The first swept parameter is the
//! one a policy is walked along to find where it breaks, since sweeps list the load first.

use super::data::{Sweep, SweepPoint};
use super::table::{Format, RowStyle};
use super::text::{Span, and_list, plural};

/// The metric a setting is judged by, and the one it pays in.
const LATENCY: &str = "job_latency_p99_s";
const COST: &str = "cost_usd";

/// Whether some runs at this point had failed jobs.
pub(super) fn point_failed(p: &SweepPoint) -> bool {
    p.mean.get("jobs_failed").is_some_and(|&f| f > 0.0)
}

fn mean(p: &SweepPoint, metric: &str) -> f64 {
    p.mean.get(metric).copied().unwrap_or(f64::NAN)
}

fn ci(p: &SweepPoint, metric: &str) -> f64 {
    p.ci95
        .get(metric)
        .copied()
        .filter(|v| v.is_finite())
        .unwrap_or(0.0)
}

/// One unit for a metric across the whole sweep (a column of its tables), chosen from every
/// point's mean, as the terminal table chooses one per row.
pub(super) fn unit(sweep: &Sweep, metric: &str) -> RowStyle {
    let kind = if metric.ends_with("_usd") {
        Format::Usd
    } else if metric.ends_with("_s") {
        Format::Secs
    } else {
        Format::Count
    };
    let means: Vec<f64> = sweep.points.iter().map(|p| mean(p, metric)).collect();
    RowStyle::for_row(&means, kind)
}

/// `value ± ci` in `unit`; no ± when the interval is zero.
pub(super) fn with_ci(p: &SweepPoint, metric: &str, unit: &RowStyle) -> String {
    let (m, c) = (mean(p, metric), ci(p, metric));
    unit.show(m, (c > 0.0).then_some(c))
}

/// Each parameter's values in the order the grid lists them.
pub(super) fn values(sweep: &Sweep) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = vec![Vec::new(); sweep.params.len()];
    for p in &sweep.points {
        for (i, v) in p.params.iter().enumerate() {
            if !out[i].contains(v) {
                out[i].push(v.clone());
            }
        }
    }
    out
}

/// `path = value` for the given parameters of a point.
fn setting(sweep: &Sweep, p: &SweepPoint, params: &[usize]) -> String {
    params
        .iter()
        .map(|&i| format!("{} = {}", sweep.params[i], p.params[i]))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One policy's walk along the first parameter at one combination of the others: the first
/// value where it fails, and the last value before that.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Walk {
    /// The other parameters' values, as `path = value, ...` (empty with one parameter).
    pub at: String,
    /// The first value of the walked parameter where some runs failed jobs.
    pub breaks_at: Option<String>,
    /// The last value before it (or the last value of all when it never breaks), with the job
    /// latency p99 there.
    pub holds_to: Option<(String, String)>,
}

/// The parameter a policy is walked along: the first that takes two values or more.
pub(super) fn walked(sweep: &Sweep) -> usize {
    let values = values(sweep);
    (0..sweep.params.len())
        .find(|&i| values[i].len() > 1)
        .unwrap_or(0)
}

/// Whether the parameter at `path` can change what `policy` (the `index`-th) does: every
/// condition does; a setting (`policy.NAME.…` or `policy.INDEX.…`) only its own policy's.
fn concerns(path: &str, policy: &str, index: usize) -> bool {
    match path.strip_prefix("policy.") {
        None => true,
        Some(rest) => {
            let first = rest.split('.').next().unwrap_or("");
            first == policy || first.parse::<usize>().is_ok_and(|i| i == index)
        }
    }
}

/// Where each policy breaks: per policy, a [`Walk`] along the first parameter for every
/// combination of the values of the other parameters that concern it (another policy's
/// settings do not, and would only repeat its walk).
pub(super) fn breaking_points(sweep: &Sweep) -> Vec<(String, Vec<Walk>)> {
    let values = values(sweep);
    let latency = unit(sweep, LATENCY);
    let walked = walked(sweep);
    let mut out = Vec::new();
    for (pi, name) in sweep.policies.iter().enumerate() {
        let others: Vec<usize> = (0..sweep.params.len())
            .filter(|&i| i != walked && values[i].len() > 1)
            .filter(|&i| concerns(&sweep.params[i], name, pi))
            .collect();
        let mut combos: Vec<Vec<String>> = Vec::new();
        for p in sweep.points.iter().filter(|p| p.policy == pi) {
            let c: Vec<String> = others.iter().map(|&i| p.params[i].clone()).collect();
            if !combos.contains(&c) {
                combos.push(c);
            }
        }
        let mut walks = Vec::new();
        for combo in &combos {
            let line: Vec<&SweepPoint> = values
                .get(walked)
                .into_iter()
                .flatten()
                .filter_map(|v| {
                    sweep.points.iter().find(|p| {
                        p.policy == pi
                            && &p.params[walked] == v
                            && others.iter().zip(combo).all(|(&i, c)| &p.params[i] == c)
                    })
                })
                .collect();
            let Some(first) = line.first() else {
                continue;
            };
            let at = setting(sweep, first, &others);
            let broken = line.iter().position(|p| point_failed(p));
            let last_ok = match broken {
                Some(0) => None,
                Some(k) => Some(line[k - 1]),
                None => line.last().copied(),
            };
            walks.push(Walk {
                at,
                breaks_at: broken.map(|k| line[k].params[walked].clone()),
                holds_to: last_ok
                    .map(|p| (p.params[walked].clone(), with_ci(p, LATENCY, &latency))),
            });
        }
        out.push((name.clone(), walks));
    }
    out
}

/// The best choice at one combination of the conditions: the policy and settings with the
/// lowest job latency p99 among those that never failed there.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Best {
    /// The conditions, as `path = value, ...` (empty when no condition was swept).
    pub at: String,
    /// The policy, with its swept settings when there are any.
    pub choice: String,
    /// Job latency p99 ± its interval.
    pub latency: String,
    /// Cost ± its interval.
    pub cost: String,
    /// How many other choices there finished every job within the winner's interval.
    pub close: usize,
}

/// The best setting per combination of the swept conditions.
pub(super) fn best_settings(sweep: &Sweep) -> Vec<Best> {
    let units = (unit(sweep, LATENCY), unit(sweep, COST));
    let (settings, conditions): (Vec<usize>, Vec<usize>) =
        (0..sweep.params.len()).partition(|&i| sweep.params[i].starts_with("policy."));
    let mut combos: Vec<Vec<String>> = Vec::new();
    for p in &sweep.points {
        let c: Vec<String> = conditions.iter().map(|&i| p.params[i].clone()).collect();
        if !combos.contains(&c) {
            combos.push(c);
        }
    }
    let mut out = Vec::new();
    for combo in combos {
        let here: Vec<&SweepPoint> = sweep
            .points
            .iter()
            .filter(|p| {
                conditions
                    .iter()
                    .zip(&combo)
                    .all(|(&i, c)| &p.params[i] == c)
                    && !point_failed(p)
                    && mean(p, LATENCY).is_finite()
            })
            .collect();
        let at = conditions
            .iter()
            .zip(&combo)
            .map(|(&i, c)| format!("{} = {c}", sweep.params[i]))
            .collect::<Vec<_>>()
            .join(", ");
        // Lowest p99, then lowest cost among equals.
        let Some(best) = here.iter().min_by(|a, b| {
            mean(a, LATENCY)
                .total_cmp(&mean(b, LATENCY))
                .then(mean(a, COST).total_cmp(&mean(b, COST)))
        }) else {
            out.push(Best {
                at,
                choice: "none: every policy failed jobs here".into(),
                latency: String::new(),
                cost: String::new(),
                close: 0,
            });
            continue;
        };
        // Settings that only concern another policy say nothing about this one's choice.
        let own: Vec<usize> = settings
            .iter()
            .copied()
            .filter(|&i| concerns(&sweep.params[i], &sweep.policies[best.policy], best.policy))
            .collect();
        let mut choice = sweep.policies[best.policy].clone();
        if !own.is_empty() {
            choice = format!("{choice} ({})", setting(sweep, best, &own));
        }
        let top = mean(best, LATENCY) + ci(best, LATENCY);
        let close = here
            .iter()
            .filter(|p| !std::ptr::eq(**p, *best))
            .filter(|p| mean(p, LATENCY) - ci(p, LATENCY) <= top)
            .count();
        out.push(Best {
            at,
            choice,
            latency: with_ci(best, LATENCY, &units.0),
            cost: with_ci(best, COST, &units.1),
            close,
        });
    }
    out
}

/// The sweep's findings as prose: what was swept, which policies fail where, and the best
/// settings in a sentence each.
pub(super) fn reading(sweep: &Sweep, replications: Option<u32>) -> Vec<Span> {
    let mut s = Vec::new();
    let values = values(sweep);
    let axes: Vec<String> = sweep
        .params
        .iter()
        .zip(&values)
        .filter(|(_, v)| v.len() > 1)
        .map(|(p, v)| format!("{p} over {}", and_list(v)))
        .collect();
    let fixed: Vec<String> = sweep
        .params
        .iter()
        .zip(&values)
        .filter(|(_, v)| v.len() == 1)
        .map(|(p, v)| format!("{p} = {}", v[0]))
        .collect();
    let points = values.iter().map(Vec::len).product::<usize>();
    s.push(Span::Text(format!(
        "Swept {}{} for {} ({}): {}{}. ",
        and_list(&axes),
        if fixed.is_empty() {
            String::new()
        } else {
            format!(" with {}", and_list(&fixed))
        },
        plural(sweep.policies.len() as f64, "policy", "policies"),
        and_list(&sweep.policies),
        plural(points as f64, "grid point", "grid points"),
        replications
            .map(|r| format!(", {} each", plural(r as f64, "replication", "replications")))
            .unwrap_or_default(),
    )));
    let walked_at = walked(sweep);
    let walked = sweep.params.get(walked_at).cloned().unwrap_or_default();
    for (policy, walks) in breaking_points(sweep) {
        let broken: Vec<&Walk> = walks.iter().filter(|w| w.breaks_at.is_some()).collect();
        if broken.is_empty() {
            s.push(Span::Text(format!(
                "{policy} finished every job at every point. "
            )));
            continue;
        }
        let first = broken
            .iter()
            .filter_map(|w| w.breaks_at.as_ref())
            .filter_map(|v| values[walked_at].iter().position(|x| x == v))
            .min()
            .unwrap_or(0);
        let index = sweep
            .policies
            .iter()
            .position(|p| *p == policy)
            .unwrap_or(0);
        if !concerns(&walked, &policy, index) {
            // Another policy's setting: this one's results are the same at every value.
            s.push(Span::Strong(format!("{policy} fails jobs")));
            s.push(Span::Text(". ".into()));
            continue;
        }
        s.push(Span::Strong(format!(
            "{policy} fails jobs from {walked} = {}",
            values[walked_at][first]
        )));
        s.push(Span::Text(if walks.len() == 1 {
            ". ".to_string()
        } else {
            format!(
                " at {} of its {} settings of the other parameters. ",
                broken.len(),
                walks.len()
            )
        }));
    }
    let best = best_settings(sweep);
    if let [only] = best.as_slice() {
        if only.latency.is_empty() {
            s.push(Span::Text(format!("{}. ", only.choice)));
        } else {
            s.push(Span::Text("The best setting found: ".into()));
            s.push(Span::Strong(only.choice.clone()));
            s.push(Span::Text(format!(
                ", job latency p99 {} at {}{}.",
                only.latency,
                only.cost,
                close_note(only.close)
            )));
        }
    } else if !best.is_empty() {
        s.push(Span::Text(
            "The best choice at each point of the conditions is in the table below.".into(),
        ));
    }
    s
}

/// "; 2 other choices are within its interval" when some are.
pub(super) fn close_note(close: usize) -> String {
    match close {
        0 => String::new(),
        n => format!(
            "; {} within its 95% interval",
            plural(n as f64, "other choice is", "other choices are")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::text::spans_md;
    use std::collections::BTreeMap;

    fn point(params: &[&str], policy: usize, p99: f64, cost: f64, failed: f64) -> SweepPoint {
        let m = |pairs: &[(&str, f64)]| -> BTreeMap<String, f64> {
            pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
        };
        SweepPoint {
            params: params.iter().map(|s| s.to_string()).collect(),
            policy,
            mean: m(&[(LATENCY, p99), (COST, cost), ("jobs_failed", failed)]),
            ci95: m(&[(LATENCY, 1.0), (COST, 0.0), ("jobs_failed", 0.0)]),
        }
    }

    /// Two policies over agents (condition) x rate (a setting of `fixed`).
    fn grid() -> Sweep {
        let mut points = Vec::new();
        for agents in ["4", "12", "24"] {
            for rate in ["30000", "60000"] {
                let a: f64 = agents.parse().unwrap();
                // naive fails from 12 agents on; fixed fails at 24 agents with the fast rate.
                points.push(point(
                    &[agents, rate],
                    0,
                    10.0 * a,
                    1.0,
                    (a >= 12.0) as u8 as f64,
                ));
                let slow = rate == "30000";
                let p99 = if slow { 4.0 * a } else { 3.0 * a };
                let failed = (!slow && a >= 24.0) as u8 as f64;
                points.push(point(&[agents, rate], 1, p99, 2.0, failed));
            }
        }
        Sweep {
            params: vec![
                "source.0.job.agents".into(),
                "policy.fixed.bucket.rate".into(),
            ],
            metrics: vec![LATENCY.into(), COST.into(), "jobs_failed".into()],
            policies: vec!["naive".into(), "fixed".into()],
            points,
        }
    }

    #[test]
    fn each_policy_breaks_at_the_first_value_with_failed_jobs_on_each_line() {
        let b = breaking_points(&grid());
        assert_eq!(b[0].0, "naive");
        // The rate is fixed's setting: naive has one walk, not one per rate.
        assert_eq!(b[0].1.len(), 1);
        assert_eq!(
            b[0].1[0],
            Walk {
                at: "".into(),
                breaks_at: Some("12".into()),
                holds_to: Some(("4".into(), "40.0 ± 1.0 s".into())),
            }
        );
        assert_eq!(b[1].0, "fixed");
        assert_eq!(b[1].1[0].breaks_at, None);
        assert_eq!(
            b[1].1[0].holds_to,
            Some(("24".into(), "96.0 ± 1.0 s".into()))
        );
        assert_eq!(b[1].1[1].breaks_at, Some("24".into()));
        assert_eq!(
            b[1].1[1].holds_to,
            Some(("12".into(), "36.0 ± 1.0 s".into()))
        );
    }

    #[test]
    fn the_best_setting_per_condition_never_is_a_failed_point() {
        let best = best_settings(&grid());
        assert_eq!(best.len(), 3);
        assert_eq!(best[0].at, "source.0.job.agents = 4");
        assert_eq!(best[0].choice, "fixed (policy.fixed.bucket.rate = 60000)");
        assert_eq!(best[0].latency, "12.0 ± 1.0 s");
        // At 24 agents the fast rate fails: the slow one is best although slower.
        assert_eq!(best[2].choice, "fixed (policy.fixed.bucket.rate = 30000)");
        assert_eq!(best[2].latency, "96.0 ± 1.0 s");
    }

    #[test]
    fn the_reading_says_what_was_swept_and_where_policies_fail() {
        let text = spans_md(&reading(&grid(), Some(10)));
        assert!(
            text.starts_with("Swept source.0.job.agents over 4, 12 and 24 and policy.fixed.bucket.rate over 30000 and 60000 for 2 policies (naive and fixed): 6 grid points, 10 replications each. "),
            "{text}"
        );
        assert!(
            text.contains("**naive fails jobs from source.0.job.agents = 12**. "),
            "{text}"
        );
        assert!(
            text.contains(
                "**fixed fails jobs from source.0.job.agents = 24** at 1 of its 2 settings"
            ),
            "{text}"
        );
    }

    #[test]
    fn a_parameter_held_at_one_value_is_a_condition_not_an_axis() {
        let mut g = grid();
        g.points.retain(|p| p.params[0] == "24");
        assert_eq!(walked(&g), 1);
        let text = spans_md(&reading(&g, None));
        assert!(
            text.starts_with("Swept policy.fixed.bucket.rate over 30000 and 60000 with source.0.job.agents = 24 for 2 policies"),
            "{text}"
        );
        assert!(
            text.contains("**fixed fails jobs from policy.fixed.bucket.rate = 60000**. "),
            "{text}"
        );
        assert!(text.contains("**naive fails jobs**. "), "{text}");
        let b = breaking_points(&g);
        assert_eq!(b[1].1.len(), 1, "one walk along the rate: {b:?}");
    }
}
