//! roost's metrics in the row shape of Dovecot's `stats dump` (`metric_name`, `field`, `count`,
//! `sum`, `avg`, numbers unquoted), shared by the doveadm `stats dump` command and the
//! `stats-reader` socket. roost's metrics are Prometheus series, not Dovecot event metrics: a
//! histogram series gives `count`, `sum` and `avg` of its observations (`field` is `duration`
//! for `_seconds` histograms), a counter or gauge its value as `count` (`field` empty);
//! `metric_name` is the series name with its labels.

use serde_json::{Map, Number, Value};

fn number(v: f64) -> Value {
    if v.fract() == 0.0 && v.abs() < 9e15 {
        Value::from(v as i64)
    } else {
        Number::from_f64(v)
            .map(Value::Number)
            .unwrap_or(Value::Null)
    }
}

/// Rows from a Prometheus text scrape.
pub fn rows(scrape: &str) -> Vec<Map<String, Value>> {
    struct Hist {
        name: String,
        field: &'static str,
        count: f64,
        sum: f64,
    }
    let mut out: Vec<Map<String, Value>> = Vec::new();
    let mut hists: Vec<Hist> = Vec::new();
    // The histogram and summary families, from their TYPE lines (one pass).
    let hist_families: std::collections::HashSet<&str> = scrape
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.rsplit_once(' '))
        .filter(|(_, t)| *t == "histogram" || *t == "summary")
        .map(|(name, _)| name)
        .collect();
    for line in scrape.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(value) = value.parse::<f64>() else {
            continue;
        };
        let (name, labels) = match series.split_once('{') {
            Some((n, l)) => (n, format!("{{{l}")),
            None => (series, String::new()),
        };
        if name.ends_with("_bucket") {
            continue;
        }
        let hist_part = name
            .strip_suffix("_count")
            .map(|b| (b, true))
            .or_else(|| name.strip_suffix("_sum").map(|b| (b, false)));
        if let Some((base, is_count)) = hist_part {
            if hist_families.contains(base) {
                let key = format!("{base}{labels}");
                let i = match hists.iter().position(|h| h.name == key) {
                    Some(i) => i,
                    None => {
                        hists.push(Hist {
                            name: key,
                            field: if base.ends_with("_seconds") {
                                "duration"
                            } else {
                                ""
                            },
                            count: 0.0,
                            sum: 0.0,
                        });
                        hists.len() - 1
                    }
                };
                if is_count {
                    hists[i].count = value;
                } else {
                    hists[i].sum = value;
                }
                continue;
            }
        }
        let mut row = Map::new();
        row.insert(
            "metric_name".into(),
            Value::String(format!("{name}{labels}")),
        );
        row.insert("field".into(), Value::String(String::new()));
        row.insert("count".into(), number(value));
        out.push(row);
    }
    for h in hists {
        let mut row = Map::new();
        row.insert("metric_name".into(), Value::String(h.name));
        row.insert("field".into(), Value::String(h.field.into()));
        row.insert("count".into(), number(h.count));
        row.insert("sum".into(), number(h.sum));
        let avg = if h.count > 0.0 { h.sum / h.count } else { 0.0 };
        row.insert("avg".into(), number(avg));
        out.push(row);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_counters_and_gauges_become_rows() {
        let scrape = "# TYPE roost_x_seconds histogram\nroost_x_seconds_bucket{le=\"1\"} 2\nroost_x_seconds_sum 3\nroost_x_seconds_count 2\n# TYPE roost_y_total counter\nroost_y_total{a=\"b\"} 5\n";
        let r = rows(scrape);
        assert_eq!(
            Value::Array(r.into_iter().map(Value::Object).collect()).to_string(),
            r#"[{"metric_name":"roost_y_total{a=\"b\"}","field":"","count":5},{"metric_name":"roost_x_seconds","field":"duration","count":2,"sum":3,"avg":1.5}]"#
        );
    }
}
