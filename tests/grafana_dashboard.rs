//! `config/grafana-roost.json` against Grafana's dashboard model and the real binary: every
//! panel has what Grafana needs to draw it (type, id, gridPos inside the 24-column grid,
//! the `${datasource}` Prometheus variable, targets with a refId and a PromQL `expr`), and
//! every metric name any query reads is in a live scrape of roost after real clients logged
//! in (once wrongly), delivered over LMTP, ran IMAP commands and logged in over imaps.

mod common;

use std::collections::{BTreeSet, HashSet};

use common::*;

#[test]
fn promql_name_extraction_skips_functions_labels_and_matchers() {
    let n = metric_names(
        "histogram_quantile(0.99, sum by (le, command) (rate(a_bucket{job=~\"$job\",x='}'}[$__rate_interval]))) / on (service) group_left (x) b * 1e3 > bool c offset 5m",
    );
    assert_eq!(n.into_iter().collect::<Vec<_>>(), ["a_bucket", "b", "c"]);
    assert_eq!(
        metric_names("label_values(roost_build_info{job=~\"$job\"}, instance)")
            .into_iter()
            .collect::<Vec<_>>(),
        ["roost_build_info"]
    );
    assert!(metric_names("time() - x").contains("x"));
}

#[test]
fn dashboard_has_grafanas_panel_structure() {
    let d = dashboard();
    assert!(
        d["title"].is_string() && d["uid"].is_string(),
        "title and uid"
    );
    assert!(
        d["schemaVersion"].as_u64().is_some_and(|v| v >= 36),
        "schemaVersion {}",
        d["schemaVersion"]
    );
    let vars = d["templating"]["list"].as_array().expect("templating.list");
    assert!(
        vars.iter().any(|v| v["name"] == "datasource"
            && v["type"] == "datasource"
            && v["query"] == "prometheus"),
        "a Prometheus datasource variable"
    );
    let panels = d["panels"].as_array().expect("panels");
    let mut ids = HashSet::new();
    let mut titles = BTreeSet::new();
    for p in panels {
        let title = p["title"].as_str().unwrap_or_default();
        let kind = p["type"].as_str().unwrap_or_default();
        assert!(!kind.is_empty() && !title.is_empty(), "type and title: {p}");
        assert!(
            ids.insert(p["id"].as_u64().expect("numeric id")),
            "duplicate id {p}"
        );
        let g = &p["gridPos"];
        let n = |k: &str| {
            g[k].as_u64()
                .unwrap_or_else(|| panic!("gridPos.{k} of {title}"))
        };
        assert!(
            n("h") > 0 && n("w") > 0 && n("x") + n("w") <= 24,
            "{title}: {g}"
        );
        let _ = n("y");
        if kind == "row" {
            continue;
        }
        titles.insert(title.to_string());
        assert_eq!(p["datasource"]["type"], "prometheus", "{title}");
        assert_eq!(p["datasource"]["uid"], "${datasource}", "{title}");
        let targets = p["targets"].as_array().expect("targets");
        assert!(!targets.is_empty(), "{title} has no targets");
        let mut refs = HashSet::new();
        for t in targets {
            let expr = t["expr"].as_str().unwrap_or_default();
            assert!(!expr.trim().is_empty(), "{title}: empty expr");
            assert!(
                refs.insert(t["refId"].as_str().expect("refId")),
                "{title}: duplicate refId"
            );
            assert!(
                !metric_names(expr).is_empty(),
                "{title}: {expr} reads no metric"
            );
        }
    }
    // The panels the operations issue asks for.
    for want in [
        "Connections per service",
        "Pool saturation",
        "Logins by result",
        "Auth latency",
        "Deliveries by result",
        "IMAP command latency",
        "TLS handshakes",
        "PROXY headers",
        "Memory",
    ] {
        assert!(titles.contains(want), "no panel {want:?} in {titles:?}");
    }
}

/// Sample names of a Prometheus text scrape.
fn sample_names(scrape: &str) -> BTreeSet<String> {
    scrape
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.split(['{', ' ']).next())
        .map(str::to_string)
        .collect()
}

#[test]
fn every_dashboard_metric_is_in_a_live_scrape_after_traffic() {
    let d = dashboard();
    let wanted: BTreeSet<String> = dashboard_queries(&d)
        .iter()
        .flat_map(|q| metric_names(q))
        .collect();
    assert!(wanted.len() >= 25, "too few names found: {wanted:?}");
    let m = MailServer::start("grafana", "");
    m.drive();
    let scrape = m.server.scrape();
    // The traffic really happened.
    let v = |name: &str, labels: &str| metric_value(&scrape, name, labels).unwrap_or(0.0);
    assert!(
        v(
            "roost_login_total",
            "service=\"imap-login\",result=\"success\""
        ) >= 2.0,
        "{scrape}"
    );
    assert!(
        v(
            "roost_login_total",
            "service=\"imap-login\",result=\"failed\""
        ) >= 1.0,
        "{scrape}"
    );
    assert!(
        v("roost_lmtp_deliveries_total", "result=\"ok\"") >= 1.0,
        "{scrape}"
    );
    assert!(
        v(
            "roost_imap_commands_total",
            "command=\"SELECT\",result=\"ok\""
        ) >= 1.0,
        "{scrape}"
    );
    let have = sample_names(&scrape);
    let missing: Vec<&String> = wanted.iter().filter(|n| !have.contains(*n)).collect();
    assert!(
        missing.is_empty(),
        "dashboard metrics not in the scrape: {missing:?}\n{scrape}"
    );
}
