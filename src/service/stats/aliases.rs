//! `dovecot_` aliases (`metrics_dovecot_aliases = yes`): roost's series again under the names
//! Dovecot 2.3's OpenMetrics exporter gives them, so dashboards built on Dovecot keep working.
//! Dovecot exports `dovecot_build_info` on its own and a family per configured `metric NAME`
//! block: `dovecot_NAME_total` and `dovecot_NAME_duration_seconds_total`, labels from
//! `group_by`, and a histogram for a quantized `group_by`. The aliases are the metric blocks
//! of Dovecot's documented example configuration: `auth_success`, `auth_failures`,
//! `imap_command` (by `cmd_name`, `tagged_reply_state`) and `mail_delivery` (with its
//! `duration:exponential` histogram, whose bucket bounds Dovecot writes in microseconds).

use std::collections::BTreeMap;

use super::exposition::{Family, Kind, Sample};

fn family(name: &str, kind: Kind, help: &str, samples: Vec<Sample>) -> Family {
    Family {
        name: name.to_string(),
        help: Some(help.to_string()),
        kind,
        samples,
    }
}

fn sample(name: &str, labels: Vec<(String, String)>, value: f64) -> Sample {
    Sample {
        name: name.to_string(),
        labels,
        value: format_value(value),
    }
}

fn format_value(v: f64) -> String {
    if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.to_string()
    } else {
        format!("{v}")
    }
}

fn find<'a>(families: &'a [Family], name: &str) -> Option<&'a Family> {
    families.iter().find(|f| f.name == name)
}

/// Sum of the samples named `sample` in family `family` that `keep` accepts.
fn sum(families: &[Family], family: &str, sample: &str, keep: impl Fn(&Sample) -> bool) -> f64 {
    find(families, family)
        .map(|f| {
            f.samples
                .iter()
                .filter(|s| s.name == sample && keep(s))
                .map(Sample::number)
                .sum()
        })
        .unwrap_or(0.0)
}

/// A pair of Dovecot count/duration counters for one metric block.
fn counters(
    out: &mut Vec<Family>,
    metric: &str,
    count: Vec<Sample>,
    duration: Option<Vec<Sample>>,
) {
    out.push(family(
        &format!("dovecot_{metric}_total"),
        Kind::Counter,
        "Total number of all events of this kind",
        count,
    ));
    if let Some(duration) = duration {
        out.push(family(
            &format!("dovecot_{metric}_duration_seconds_total"),
            Kind::Counter,
            "Total duration of all events of this kind",
            duration,
        ));
    }
}

/// The alias families for one scrape's families.
pub fn dovecot(families: &[Family]) -> Vec<Family> {
    let mut out = Vec::new();
    out.push(family(
        "dovecot_build_info",
        Kind::Info,
        "Dovecot build information",
        vec![sample(
            "dovecot_build_info",
            vec![("version".into(), env!("CARGO_PKG_VERSION").into())],
            1.0,
        )],
    ));

    // auth_request_finished with success=yes / not.
    let auth = "roost_auth_requests_total";
    let ok = sum(families, auth, auth, |s| s.label("result") == Some("ok"));
    let all = sum(families, auth, auth, |_| true);
    counters(
        &mut out,
        "auth_success",
        vec![sample("dovecot_auth_success_total", vec![], ok)],
        None,
    );
    counters(
        &mut out,
        "auth_failures",
        vec![sample("dovecot_auth_failures_total", vec![], all - ok)],
        None,
    );

    // imap_command_finished by cmd_name (and tagged_reply_state once commands carry a result).
    if let Some(f) = find(families, "roost_imap_commands_total") {
        let mut counts: BTreeMap<Vec<(String, String)>, f64> = BTreeMap::new();
        for s in &f.samples {
            *counts.entry(imap_labels(s)).or_default() += s.number();
        }
        let durations = find(families, "roost_imap_command_duration_seconds").map(|d| {
            let mut sums: BTreeMap<Vec<(String, String)>, f64> = BTreeMap::new();
            for s in d
                .samples
                .iter()
                .filter(|s| s.name == "roost_imap_command_duration_seconds_sum")
            {
                *sums.entry(imap_labels(s)).or_default() += s.number();
            }
            sums.into_iter()
                .map(|(l, v)| sample("dovecot_imap_command_duration_seconds_total", l, v))
                .collect()
        });
        counters(
            &mut out,
            "imap_command",
            counts
                .into_iter()
                .map(|(l, v)| sample("dovecot_imap_command_total", l, v))
                .collect(),
            durations,
        );
    }

    // mail_delivery_finished, with `group_by = duration:exponential:…` as a histogram.
    let deliveries = "roost_lmtp_deliveries_total";
    if find(families, deliveries).is_some() {
        let n = sum(families, deliveries, deliveries, |_| true);
        let hist = find(families, "roost_lmtp_delivery_duration_seconds");
        let seconds = sum(
            families,
            "roost_lmtp_delivery_duration_seconds",
            "roost_lmtp_delivery_duration_seconds_sum",
            |_| true,
        );
        counters(
            &mut out,
            "mail_delivery",
            vec![sample("dovecot_mail_delivery_total", vec![], n)],
            Some(vec![sample(
                "dovecot_mail_delivery_duration_seconds_total",
                vec![],
                seconds,
            )]),
        );
        if let Some(h) = hist {
            let mut samples = Vec::new();
            for s in h
                .samples
                .iter()
                .filter(|s| s.name == "roost_lmtp_delivery_duration_seconds_bucket")
            {
                let le = match s.label("le") {
                    Some("+Inf") | None => "+Inf".to_string(),
                    Some(v) => {
                        format_value((v.parse::<f64>().unwrap_or(f64::INFINITY) * 1e6).round())
                    }
                };
                samples.push(sample(
                    "dovecot_mail_delivery_bucket",
                    vec![("le".into(), le)],
                    s.number(),
                ));
            }
            samples.push(sample("dovecot_mail_delivery_sum", vec![], seconds));
            let count = sum(
                families,
                "roost_lmtp_delivery_duration_seconds",
                "roost_lmtp_delivery_duration_seconds_count",
                |_| true,
            );
            samples.push(sample("dovecot_mail_delivery_count", vec![], count));
            out.push(family(
                "dovecot_mail_delivery",
                Kind::Histogram,
                "Histogram",
                samples,
            ));
        }
    }
    out
}

/// Dovecot's labels for an IMAP command series: `cmd_name`, and `tagged_reply_state`
/// (`OK`/`NO`/`BAD`) where roost's series has a `result`.
fn imap_labels(s: &Sample) -> Vec<(String, String)> {
    let mut l = vec![(
        "cmd_name".to_string(),
        s.label("command").unwrap_or("unknown").to_string(),
    )];
    if let Some(r) = s.label("result") {
        l.push(("tagged_reply_state".into(), r.to_ascii_uppercase()));
    }
    l
}

#[cfg(test)]
mod tests {
    use super::super::exposition::{parse, write_openmetrics, write_text};
    use super::*;

    #[test]
    fn aliases_sum_roost_series() {
        let fams = parse(
            "# TYPE roost_auth_requests_total counter\n\
roost_auth_requests_total{mechanism=\"PLAIN\",result=\"ok\"} 3\n\
roost_auth_requests_total{mechanism=\"PLAIN\",result=\"fail\"} 2\n\
roost_auth_requests_total{mechanism=\"LOGIN\",result=\"ok\"} 1\n\
# TYPE roost_imap_commands_total counter\n\
roost_imap_commands_total{command=\"NOOP\"} 4\n\
roost_imap_commands_total{command=\"UID FETCH\"} 1\n\
# TYPE roost_lmtp_deliveries_total counter\n\
roost_lmtp_deliveries_total{result=\"ok\"} 2\n\
roost_lmtp_deliveries_total{result=\"tempfail\"} 1\n\
# TYPE roost_lmtp_delivery_duration_seconds histogram\n\
roost_lmtp_delivery_duration_seconds_bucket{le=\"0.0005\"} 1\n\
roost_lmtp_delivery_duration_seconds_bucket{le=\"+Inf\"} 3\n\
roost_lmtp_delivery_duration_seconds_sum 0.5\n\
roost_lmtp_delivery_duration_seconds_count 3\n",
        );
        let text = write_text(&dovecot(&fams));
        for line in [
            "dovecot_build_info{version=",
            "dovecot_auth_success_total 4\n",
            "dovecot_auth_failures_total 2\n",
            "dovecot_imap_command_total{cmd_name=\"NOOP\"} 4\n",
            "dovecot_imap_command_total{cmd_name=\"UID FETCH\"} 1\n",
            "dovecot_mail_delivery_total 3\n",
            "dovecot_mail_delivery_duration_seconds_total 0.5\n",
            "dovecot_mail_delivery_bucket{le=\"500\"} 1\n",
            "dovecot_mail_delivery_bucket{le=\"+Inf\"} 3\n",
            "dovecot_mail_delivery_count 3\n",
            "# TYPE dovecot_build_info gauge\n",
        ] {
            assert!(text.contains(line), "{line}\n{text}");
        }
        let om = write_openmetrics(&dovecot(&fams));
        assert!(om.contains("# TYPE dovecot_build info\n"), "{om}");
        assert!(om.contains("# TYPE dovecot_auth_success counter\n"));
        // Beside the histogram family of the same name the counter cannot be `dovecot_mail_delivery`.
        assert!(
            om.contains("# TYPE dovecot_mail_delivery_total unknown\n"),
            "{om}"
        );
        assert!(om.contains("# TYPE dovecot_mail_delivery histogram\n"));
        assert!(om.contains("# TYPE dovecot_mail_delivery_duration_seconds counter\n# UNIT dovecot_mail_delivery_duration_seconds seconds\n"));
    }
}
