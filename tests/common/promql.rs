//! The metric names a PromQL expression (or a Grafana `label_values(…)` variable query) reads,
//! and the Grafana dashboard in `config/`: what its panels' queries are.

use std::collections::BTreeSet;

/// Operators and modifiers that look like identifiers.
const KEYWORDS: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "and",
    "or",
    "unless",
    "offset",
    "atan2",
    "Inf",
    "NaN",
    "inf",
    "nan",
];

/// Metric names in `expr`: identifiers outside label matchers, ranges and strings that are
/// neither functions (followed by `(`), keywords nor the label lists of `by (…)` and friends.
pub fn metric_names(expr: &str) -> BTreeSet<String> {
    // Grafana's `label_values(selector, label)`: only the selector reads a metric.
    if let Some(inner) = expr
        .trim()
        .strip_prefix("label_values(")
        .and_then(|r| r.strip_suffix(')'))
    {
        let selector = inner.rsplit_once(',').map(|(s, _)| s).unwrap_or(inner);
        return metric_names(selector);
    }
    let chars: Vec<char> = expr.chars().collect();
    let mut names = BTreeSet::new();
    let mut i = 0;
    let mut skip_label_list = false;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '{' | '[' => {
                let close = if c == '{' { '}' } else { ']' };
                let mut quote = None;
                while i < chars.len() {
                    let d = chars[i];
                    match quote {
                        Some(_) if d == '\\' => i += 1,
                        Some(q) if d == q => quote = None,
                        Some(_) => {}
                        None if d == '"' || d == '\'' || d == '`' => quote = Some(d),
                        None if d == close => break,
                        None => {}
                    }
                    i += 1;
                }
                i += 1;
            }
            '"' | '\'' | '`' => {
                i += 1;
                while i < chars.len() && chars[i] != c {
                    if chars[i] == '\\' {
                        i += 1;
                    }
                    i += 1;
                }
                i += 1;
            }
            '(' if skip_label_list => {
                while i < chars.len() && chars[i] != ')' {
                    i += 1;
                }
                skip_label_list = false;
                i += 1;
            }
            c if c.is_ascii_digit() || c == '.' => {
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                    i += 1;
                }
            }
            c if c.is_ascii_alphabetic() || c == '_' || c == ':' || c == '$' => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric() || matches!(chars[i], '_' | ':' | '$'))
                {
                    i += 1;
                }
                let ident: String = chars[start..i].iter().collect();
                let mut j = i;
                while j < chars.len() && chars[j].is_whitespace() {
                    j += 1;
                }
                // A call: `f(`, or an aggregation with its grouping first (`sum by (…) (`).
                let next: String = chars[j..]
                    .iter()
                    .take_while(|c| c.is_ascii_alphanumeric() || **c == '_')
                    .collect();
                let call =
                    (j < chars.len() && chars[j] == '(') || next == "by" || next == "without";
                if matches!(
                    ident.as_str(),
                    "by" | "without" | "on" | "ignoring" | "group_left" | "group_right"
                ) {
                    skip_label_list = true;
                } else if !call && !KEYWORDS.contains(&ident.as_str()) && !ident.starts_with('$') {
                    names.insert(ident);
                }
            }
            _ => i += 1,
        }
    }
    names
}

/// `config/grafana-roost.json`, parsed.
pub fn dashboard() -> serde_json::Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/config/grafana-roost.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("config/grafana-roost.json"))
        .expect("the dashboard is JSON")
}

/// Every query of the dashboard: each panel target's `expr` and each query variable's query.
pub fn dashboard_queries(d: &serde_json::Value) -> Vec<String> {
    let mut out = Vec::new();
    for p in d["panels"].as_array().into_iter().flatten() {
        for t in p["targets"].as_array().into_iter().flatten() {
            if let Some(e) = t["expr"].as_str() {
                out.push(e.to_string());
            }
        }
    }
    for v in d["templating"]["list"].as_array().into_iter().flatten() {
        if v["type"] == "query" {
            let q = v["query"]["query"].as_str().or(v["query"].as_str());
            out.extend(q.map(str::to_string));
        }
    }
    out
}
