//! Content negotiation for `/metrics`, as Prometheus' client libraries do it: the `Accept`
//! media ranges are ordered by q-value (q=0 ranges are refused, ties keep their order), and the
//! first one naming a format roost writes wins: `application/openmetrics-text` (version 1.0.0,
//! 0.0.1 or none) or `text/plain` (the Prometheus text format). Anything else, including a
//! missing header, `*/*` alone or protobuf, gets the Prometheus text format.

/// What one scrape is answered with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text exposition format 0.0.4.
    Text,
    /// OpenMetrics text 1.0.0 (`version` is what the scraper asked for: 1.0.0 or 0.0.1, the
    /// draft Prometheus also accepts; the body is the same).
    OpenMetrics { version: &'static str },
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics { version: "0.0.1" } => {
                "application/openmetrics-text; version=0.0.1; charset=utf-8"
            }
            Format::OpenMetrics { .. } => {
                "application/openmetrics-text; version=1.0.0; charset=utf-8"
            }
        }
    }

    /// The `format` label of `roost_stats_scrapes_total`.
    pub fn label(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::OpenMetrics { .. } => "openmetrics",
        }
    }
}

/// Longest `Accept` value looked at, and most media ranges considered; beyond that the rest
/// is ignored (the head size limit of the HTTP layer bounds it anyway).
const MAX_ACCEPT: usize = 4096;
const MAX_RANGES: usize = 32;

/// Picks the answer format for an `Accept` header value.
pub fn negotiate(accept: Option<&str>) -> Format {
    let Some(accept) = accept else {
        return Format::Text;
    };
    let accept = accept.get(..MAX_ACCEPT).unwrap_or(accept);
    let mut ranges: Vec<(f32, Option<Format>)> = accept
        .split(',')
        .take(MAX_RANGES)
        .filter_map(media_range)
        .filter(|(q, _)| *q > 0.0)
        .collect();
    // Stable: equal q-values keep the client's order.
    ranges.sort_by(|a, b| b.0.total_cmp(&a.0));
    ranges
        .into_iter()
        .find_map(|(_, f)| f)
        .unwrap_or(Format::Text)
}

/// One media range: its q-value and the format it names (None: none roost writes).
fn media_range(range: &str) -> Option<(f32, Option<Format>)> {
    let mut parts = range.split(';');
    let media = parts.next()?.trim().to_ascii_lowercase();
    if media.is_empty() {
        return None;
    }
    let mut q = 1.0f32;
    let mut version: Option<String> = None;
    for param in parts {
        let Some((k, v)) = param.split_once('=') else {
            continue;
        };
        let v = v.trim().trim_matches('"');
        match k.trim().to_ascii_lowercase().as_str() {
            "q" => q = v.parse().ok().filter(|q: &f32| q.is_finite())?,
            "version" => version = Some(v.to_string()),
            _ => {}
        }
    }
    let format = match (media.as_str(), version.as_deref()) {
        ("application/openmetrics-text", None | Some("1.0.0")) => {
            Some(Format::OpenMetrics { version: "1.0.0" })
        }
        ("application/openmetrics-text", Some("0.0.1")) => {
            Some(Format::OpenMetrics { version: "0.0.1" })
        }
        // 0.0.4 is the text format; 1.0.0 (Prometheus 3) only adds UTF-8 names, which roost's
        // legacy-valid names never need.
        ("text/plain", None | Some("0.0.4") | Some("1.0.0")) => Some(Format::Text),
        _ => None,
    };
    Some((q.clamp(0.0, 1.0), format))
}

#[cfg(test)]
mod tests {
    use super::*;

    const OM: Format = Format::OpenMetrics { version: "1.0.0" };

    #[test]
    fn prometheus_scrape_headers() {
        // Prometheus 2.42 (Debian bookworm).
        assert_eq!(negotiate(Some("application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1")), OM);
        // Prometheus 2.49+ default scrape_protocols.
        assert_eq!(negotiate(Some("application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2")), OM);
        // scrape_protocols: [PrometheusText0.0.4].
        assert_eq!(
            negotiate(Some("text/plain;version=0.0.4;q=0.5,*/*;q=0.1")),
            Format::Text
        );
    }

    #[test]
    fn q_values_order_and_refuse() {
        assert_eq!(
            negotiate(Some(
                "application/openmetrics-text;q=0.2, text/plain;version=0.0.4;q=0.9"
            )),
            Format::Text
        );
        assert_eq!(
            negotiate(Some("text/plain;q=0.3,application/openmetrics-text;q=0.4")),
            OM
        );
        assert_eq!(
            negotiate(Some("application/openmetrics-text;q=0,text/plain;q=0.1")),
            Format::Text
        );
        assert_eq!(
            negotiate(Some("application/openmetrics-text; version=0.0.1")),
            Format::OpenMetrics { version: "0.0.1" }
        );
        // An unknown version is not acceptable; a wildcard alone is the default.
        assert_eq!(
            negotiate(Some("application/openmetrics-text;version=2.0.0")),
            Format::Text
        );
        assert_eq!(
            negotiate(Some("*/*;q=0.9,application/openmetrics-text;q=0.5")),
            OM
        );
        assert_eq!(negotiate(Some("*/*")), Format::Text);
        assert_eq!(negotiate(None), Format::Text);
        assert_eq!(negotiate(Some("")), Format::Text);
        assert_eq!(negotiate(Some(",;,;q=x,")), Format::Text);
        assert_eq!(
            negotiate(Some("Application/OpenMetrics-Text; Version=\"1.0.0\"")),
            OM
        );
    }
}
