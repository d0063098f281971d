//! The metric families of one scrape as data, and their two text forms. The recorder renders
//! the Prometheus text format; [`parse`] reads that back into [`Family`]s so aliases can be
//! added and the OpenMetrics form written: family names of counters without `_total`, a
//! `# UNIT` line where the family name ends in a unit, `info` as its own type, `# EOF` last.

use std::fmt::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
    Summary,
    /// OpenMetrics' info type (written as a gauge in the Prometheus text format, which has
    /// none); family name without the `_info` its sample carries.
    Info,
    Untyped,
}

impl Kind {
    fn parse(s: &str) -> Kind {
        match s {
            "counter" => Kind::Counter,
            "gauge" => Kind::Gauge,
            "histogram" => Kind::Histogram,
            "summary" => Kind::Summary,
            "info" => Kind::Info,
            _ => Kind::Untyped,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The full sample name (`x_total`, `x_bucket`, …).
    pub name: String,
    /// Label pairs, values unescaped.
    pub labels: Vec<(String, String)>,
    /// The value as written (`1`, `0.25`, `+Inf`, …).
    pub value: String,
}

impl Sample {
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn number(&self) -> f64 {
        self.value.parse().unwrap_or(0.0)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    /// The name in `# TYPE` of the Prometheus text format (counters keep `_total`).
    pub name: String,
    /// HELP text, escaped as the Prometheus text format escapes it (`\\`, `\n`).
    pub help: Option<String>,
    pub kind: Kind,
    pub samples: Vec<Sample>,
}

/// Reads the Prometheus text format as the recorder writes it (HELP, TYPE, then the samples
/// of that family). Lines that are neither are skipped.
pub fn parse(text: &str) -> Vec<Family> {
    let mut out: Vec<Family> = Vec::new();
    let mut help: Option<(String, String)> = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, h) = rest.split_once(' ').unwrap_or((rest, ""));
            help = Some((name.to_string(), h.to_string()));
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or((rest, ""));
            let help = help.take().filter(|(n, _)| n == name).map(|(_, h)| h);
            out.push(Family {
                name: name.to_string(),
                help,
                kind: Kind::parse(kind.trim()),
                samples: Vec::new(),
            });
        } else if line.starts_with('#') || line.trim().is_empty() {
            continue;
        } else if let Some(sample) = parse_sample(line) {
            match out.last_mut() {
                Some(f) if belongs(&f.name, &sample.name) => f.samples.push(sample),
                _ => out.push(Family {
                    name: sample.name.clone(),
                    help: None,
                    kind: Kind::Untyped,
                    samples: vec![sample],
                }),
            }
        }
    }
    out
}

fn belongs(family: &str, sample: &str) -> bool {
    sample == family
        || sample
            .strip_prefix(family)
            .is_some_and(|rest| ["_bucket", "_sum", "_count", "_total", "_info"].contains(&rest))
}

/// `name{k="v",…} value [timestamp]`.
fn parse_sample(line: &str) -> Option<Sample> {
    let name_end = line.find(['{', ' '])?;
    let name = line[..name_end].to_string();
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(body) = rest.strip_prefix('{') {
        let mut chars = body.char_indices().peekable();
        loop {
            // Skip separators.
            while let Some((_, c)) = chars.peek() {
                if *c == ',' || *c == ' ' {
                    chars.next();
                } else {
                    break;
                }
            }
            let (start, c) = *chars.peek()?;
            if c == '}' {
                rest = &body[start + 1..];
                break;
            }
            let eq = body[start..].find('=')? + start;
            let key = body[start..eq].trim().to_string();
            while chars.peek()?.0 <= eq {
                chars.next();
            }
            if chars.next()?.1 != '"' {
                return None;
            }
            let mut value = String::new();
            loop {
                match chars.next()?.1 {
                    '"' => break,
                    '\\' => match chars.next()?.1 {
                        'n' => value.push('\n'),
                        other => value.push(other),
                    },
                    c => value.push(c),
                }
            }
            labels.push((key, value));
        }
    }
    let value = rest.split_whitespace().next()?.to_string();
    Some(Sample {
        name,
        labels,
        value,
    })
}

fn write_labels(out: &mut String, labels: &[(String, String)]) {
    if labels.is_empty() {
        return;
    }
    out.push('{');
    for (i, (k, v)) in labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(k);
        out.push_str("=\"");
        for c in v.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                '\n' => out.push_str("\\n"),
                c => out.push(c),
            }
        }
        out.push('"');
    }
    out.push('}');
}

fn write_samples(out: &mut String, f: &Family) {
    for s in &f.samples {
        out.push_str(&s.name);
        write_labels(out, &s.labels);
        out.push(' ');
        out.push_str(&s.value);
        out.push('\n');
    }
}

/// The Prometheus text format 0.0.4.
pub fn write_text(families: &[Family]) -> String {
    let mut out = String::with_capacity(families.len() * 256);
    for f in families {
        if let Some(h) = &f.help {
            let _ = writeln!(out, "# HELP {} {h}", f.name);
        }
        let kind = match f.kind {
            Kind::Counter => "counter",
            Kind::Gauge | Kind::Info => "gauge",
            Kind::Histogram => "histogram",
            Kind::Summary => "summary",
            Kind::Untyped => "untyped",
        };
        let _ = writeln!(out, "# TYPE {} {kind}", f.name);
        write_samples(&mut out, f);
    }
    out
}

/// OpenMetrics 1.0.0 text.
pub fn write_openmetrics(families: &[Family]) -> String {
    let mut out = String::with_capacity(families.len() * 256);
    let names: std::collections::HashSet<&str> = families.iter().map(|f| f.name.as_str()).collect();
    for f in families {
        // A counter family is named without `_total`; one whose samples lack it, or whose
        // base name another family has (Dovecot's `NAME_total` beside its `NAME` histogram),
        // cannot be a counter in OpenMetrics without renaming its series: it stays `unknown`.
        let (name, kind) = match f.kind {
            Kind::Counter => match f.name.strip_suffix("_total") {
                Some(base) if !names.contains(base) => (base, "counter"),
                _ => (f.name.as_str(), "unknown"),
            },
            Kind::Gauge => (f.name.as_str(), "gauge"),
            Kind::Histogram => (f.name.as_str(), "histogram"),
            Kind::Summary => (f.name.as_str(), "summary"),
            Kind::Info => (f.name.strip_suffix("_info").unwrap_or(&f.name), "info"),
            Kind::Untyped => (f.name.as_str(), "unknown"),
        };
        let _ = writeln!(out, "# TYPE {name} {kind}");
        // A UNIT must be the family name's suffix.
        for unit in ["seconds", "bytes"] {
            if name.ends_with(&format!("_{unit}")) {
                let _ = writeln!(out, "# UNIT {name} {unit}");
            }
        }
        if let Some(h) = &f.help {
            // OpenMetrics escapes `"` in HELP too.
            let _ = writeln!(out, "# HELP {name} {}", h.replace('"', "\\\""));
        }
        write_samples(&mut out, f);
    }
    out.push_str("# EOF\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "# HELP roost_x_total Things \"counted\" \\\\ here.\n\
# TYPE roost_x_total counter\n\
roost_x_total{service=\"a\\\"b\",le=\"x,y\"} 3\n\
roost_x_total 0\n\
\n\
# TYPE roost_g gauge\n\
roost_g -1.5\n\
\n\
# HELP roost_d_seconds Durations.\n\
# TYPE roost_d_seconds histogram\n\
roost_d_seconds_bucket{le=\"0.5\"} 1\n\
roost_d_seconds_bucket{le=\"+Inf\"} 2\n\
roost_d_seconds_sum 3.25\n\
roost_d_seconds_count 2\n\
# TYPE roost_odd counter\n\
roost_odd 4\n";

    #[test]
    fn parse_and_rewrite_text_round_trips() {
        let fams = parse(TEXT);
        assert_eq!(fams.len(), 4);
        assert_eq!(fams[0].samples[0].label("service"), Some("a\"b"));
        assert_eq!(fams[0].samples[0].label("le"), Some("x,y"));
        assert_eq!(fams[2].samples.len(), 4);
        let again = write_text(&fams);
        assert_eq!(parse(&again), fams);
        assert!(again.contains("roost_x_total{service=\"a\\\"b\",le=\"x,y\"} 3\n"));
    }

    #[test]
    fn openmetrics_names_units_and_eof() {
        let om = write_openmetrics(&parse(TEXT));
        assert!(om.contains("# TYPE roost_x counter\n"), "{om}");
        assert!(om.contains("# HELP roost_x Things \\\"counted\\\" \\\\ here.\n"));
        assert!(om.contains("\nroost_x_total 0\n"));
        assert!(om.contains("# TYPE roost_d_seconds histogram\n# UNIT roost_d_seconds seconds\n"));
        assert!(om.contains("# TYPE roost_odd unknown\nroost_odd 4\n"));
        assert!(om.ends_with("roost_odd 4\n# EOF\n"));
        assert!(!om.contains("\n\n"));
    }
}
