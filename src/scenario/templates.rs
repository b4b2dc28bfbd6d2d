//! Job templates as written: `[templates.NAME]` tables that refer to each other by name, compiled
//! into the model's node list with every name resolved and every cycle checked.

use super::raw::{Invalid, invalid};
use super::units::{Quantity, TokenCount};
use super::values::{Of, Secs, check_count};
use crate::model::config::{MAX_AGENT_CALLS, MAX_WIDTH};
use crate::model::dist::Dist;
use crate::model::workload::{CallSpec, Node};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::ops::Range;
use toml::Spanned;

#[derive(Deserialize, Clone, Copy, PartialEq)]
#[serde(rename_all = "snake_case")]
pub(super) enum NodeKind {
    Call,
    Agent,
    Seq,
    Parallel,
    Fanout,
    Spawn,
    Wait,
}

/// One `[templates.NAME]` table.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawNode {
    kind: Spanned<NodeKind>,
    prompt_tokens: Option<Spanned<Of<Quantity>>>,
    max_tokens: Option<Spanned<TokenCount>>,
    output_tokens: Option<Spanned<Of<Quantity>>>,
    cached_prompt_tokens: Option<Spanned<Of<Quantity>>>,
    cache_hit_rate: Option<Spanned<f64>>,
    calls: Option<Spanned<Of<f64>>>,
    think_time: Option<Spanned<Of<Secs>>>,
    steps: Option<Spanned<Vec<Spanned<String>>>>,
    branches: Option<Spanned<Vec<Spanned<String>>>>,
    width: Option<Spanned<Of<f64>>>,
    child: Option<Spanned<String>>,
    probability: Option<Spanned<f64>>,
    max_depth: Option<Spanned<u32>>,
    duration: Option<Spanned<Of<Secs>>>,
}

fn span<T>(v: &Option<Spanned<T>>) -> Option<Range<usize>> {
    v.as_ref().map(|s| s.span())
}

/// Compiles the templates into `nodes` (appended), returning each template's index by name.
pub(super) fn compile(
    templates: BTreeMap<String, Spanned<RawNode>>,
    nodes: &mut Vec<Node>,
) -> Result<BTreeMap<String, usize>, Invalid> {
    let base = nodes.len();
    let index: BTreeMap<String, usize> = templates
        .keys()
        .enumerate()
        .map(|(i, name)| (name.clone(), base + i))
        .collect();
    let resolve = |name: &Spanned<String>, path: &str| -> Result<usize, Invalid> {
        index.get(name.get_ref()).copied().ok_or_else(|| Invalid {
            span: Some(name.span()),
            field: path.to_string(),
            message: format!(
                "no template named \"{}\" (templates: {})",
                name.get_ref(),
                index
                    .keys()
                    .map(String::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })
    };
    for (name, raw) in &templates {
        let path = format!("templates.{name}");
        let r = raw.get_ref();
        let fields = [
            ("prompt_tokens", span(&r.prompt_tokens)),
            ("max_tokens", span(&r.max_tokens)),
            ("output_tokens", span(&r.output_tokens)),
            ("cached_prompt_tokens", span(&r.cached_prompt_tokens)),
            ("cache_hit_rate", span(&r.cache_hit_rate)),
            ("calls", span(&r.calls)),
            ("think_time", span(&r.think_time)),
            ("steps", span(&r.steps)),
            ("branches", span(&r.branches)),
            ("width", span(&r.width)),
            ("child", span(&r.child)),
            ("probability", span(&r.probability)),
            ("max_depth", span(&r.max_depth)),
            ("duration", span(&r.duration)),
        ];
        let kind_span = r.kind.span();
        let call_spec = || -> Result<CallSpec, Invalid> {
            let prompt_tokens = r
                .prompt_tokens
                .as_ref()
                .map_or(Dist::Constant(0.0), |d| d.get_ref().0.clone());
            let cache = super::raw::prompt_cache(
                &path,
                &prompt_tokens,
                r.cached_prompt_tokens.as_ref(),
                r.cache_hit_rate.as_ref(),
            )?;
            Ok(CallSpec {
                prompt_tokens,
                max_tokens: r.max_tokens.as_ref().map_or(0, |m| m.get_ref().0),
                output_tokens: r
                    .output_tokens
                    .as_ref()
                    .map_or(Dist::Constant(0.0), |d| d.get_ref().0.clone()),
                cache,
            })
        };
        let sizes = ["prompt_tokens", "max_tokens", "output_tokens"];
        let call_fields = [
            "prompt_tokens",
            "max_tokens",
            "output_tokens",
            "cached_prompt_tokens",
            "cache_hit_rate",
        ];
        // A count (a width, a number of calls): checked against its range, where it is written.
        let count = |v: &Option<Spanned<Of<f64>>>, field: &str, max: u32| match v {
            None => Ok(Dist::Constant(1.0)),
            Some(d) => match check_count(&d.get_ref().0, 0, max) {
                Ok(()) => Ok(d.get_ref().0.clone()),
                Err(message) => invalid(Some(d.span()), format!("{path}.{field}"), message),
            },
        };
        let node = match *r.kind.get_ref() {
            NodeKind::Call => {
                super::raw::kind_fields(&path, ("call", kind_span), &fields, &sizes, &call_fields)?;
                Node::Call(call_spec()?)
            }
            NodeKind::Agent => {
                let allowed = [
                    "prompt_tokens",
                    "max_tokens",
                    "output_tokens",
                    "cached_prompt_tokens",
                    "cache_hit_rate",
                    "calls",
                    "think_time",
                ];
                super::raw::kind_fields(&path, ("agent", kind_span), &fields, &sizes, &allowed)?;
                Node::Agent {
                    calls: count(&r.calls, "calls", MAX_AGENT_CALLS)?,
                    think_time_s: r
                        .think_time
                        .as_ref()
                        .map_or(Dist::Constant(0.0), |d| d.get_ref().0.clone()),
                    call: call_spec()?,
                }
            }
            NodeKind::Seq => {
                super::raw::kind_fields(
                    &path,
                    ("seq", kind_span),
                    &fields,
                    &["steps"],
                    &["steps"],
                )?;
                let steps = r.steps.as_ref().map_or(&[][..], |s| s.get_ref());
                Node::Seq {
                    steps: steps
                        .iter()
                        .map(|s| resolve(s, &format!("{path}.steps")))
                        .collect::<Result<_, _>>()?,
                }
            }
            NodeKind::Parallel => {
                super::raw::kind_fields(
                    &path,
                    ("parallel", kind_span),
                    &fields,
                    &["branches"],
                    &["branches"],
                )?;
                let branches = r.branches.as_ref().map_or(&[][..], |s| s.get_ref());
                Node::Parallel {
                    branches: branches
                        .iter()
                        .map(|s| resolve(s, &format!("{path}.branches")))
                        .collect::<Result<_, _>>()?,
                }
            }
            NodeKind::Fanout => {
                super::raw::kind_fields(
                    &path,
                    ("fanout", kind_span),
                    &fields,
                    &["width", "child"],
                    &["width", "child"],
                )?;
                let child = resolve(
                    r.child.as_ref().expect("checked: fanout has a child"),
                    &format!("{path}.child"),
                )?;
                Node::Fanout {
                    width: count(&r.width, "width", MAX_WIDTH)?,
                    child,
                }
            }
            NodeKind::Spawn => {
                let allowed = ["probability", "width", "child", "max_depth"];
                super::raw::kind_fields(
                    &path,
                    ("spawn", kind_span),
                    &fields,
                    &["probability", "child", "max_depth"],
                    &allowed,
                )?;
                let p = r
                    .probability
                    .as_ref()
                    .expect("checked: spawn has a probability");
                if !(0.0..=1.0).contains(p.get_ref()) {
                    return invalid(
                        Some(p.span()),
                        format!("{path}.probability"),
                        format!("expected a probability in [0, 1], found {}", p.get_ref()),
                    );
                }
                let max_depth = r
                    .max_depth
                    .as_ref()
                    .expect("checked: spawn has a max_depth");
                if *max_depth.get_ref() > 10_000 {
                    return invalid(
                        Some(max_depth.span()),
                        format!("{path}.max_depth"),
                        format!("expected at most 10000, found {}", max_depth.get_ref()),
                    );
                }
                let child = resolve(
                    r.child.as_ref().expect("checked: spawn has a child"),
                    &format!("{path}.child"),
                )?;
                Node::Spawn {
                    probability: *p.get_ref(),
                    width: count(&r.width, "width", MAX_WIDTH)?,
                    child,
                    max_depth: *max_depth.get_ref(),
                }
            }
            NodeKind::Wait => {
                super::raw::kind_fields(
                    &path,
                    ("wait", kind_span),
                    &fields,
                    &["duration"],
                    &["duration"],
                )?;
                Node::Wait {
                    secs: r
                        .duration
                        .as_ref()
                        .expect("checked: wait has a duration")
                        .get_ref()
                        .0
                        .clone(),
                }
            }
        };
        nodes.push(node);
    }
    check_cycles(&templates, &index, nodes)?;
    Ok(index)
}

/// Every cycle must pass through a `spawn` node, whose `max_depth` bounds it: a sequence or
/// fan-out that contains itself would start itself forever at one instant.
///
/// A depth-first search with an explicit stack: a chain of templates is as deep as the user
/// writes it (100,000 is a valid file), and recursion that deep would overflow the stack.
fn check_cycles(
    templates: &BTreeMap<String, Spanned<RawNode>>,
    index: &BTreeMap<String, usize>,
    nodes: &[Node],
) -> Result<(), Invalid> {
    fn children(n: &Node) -> &[usize] {
        match n {
            Node::Seq { steps } => steps,
            Node::Parallel { branches } => branches,
            Node::Fanout { child, .. } => std::slice::from_ref(child),
            _ => &[], // calls and agents have none; a spawn's child is one level deeper
        }
    }
    // 0 unvisited, 1 on the current path, 2 done.
    let mut state = vec![0u8; nodes.len()];
    // The current path: each node with the position of the next child to look at.
    let mut path: Vec<(usize, usize)> = Vec::new();
    for (name, &root) in index {
        if state[root] != 0 {
            continue;
        }
        state[root] = 1;
        path.push((root, 0));
        while let Some(top) = path.last_mut() {
            let (n, next) = *top;
            let Some(&c) = children(&nodes[n]).get(next) else {
                state[n] = 2;
                path.pop();
                continue;
            };
            top.1 += 1;
            match state[c] {
                0 => {
                    state[c] = 1;
                    path.push((c, 0));
                }
                1 => {
                    return invalid(
                        Some(templates[name].span()),
                        format!("templates.{name}"),
                        "this template contains itself through seq/fanout steps only; recursion must go through a `spawn` (which has a max_depth)",
                    );
                }
                _ => {}
            }
        }
    }
    Ok(())
}
