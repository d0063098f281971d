//! doveadm's print formatters as `roost who` uses them: `table` (column widths from the
//! values, shrunk from the right to fit, the spare width of an 80-column or terminal line given
//! to one column; no title line when every title is hidden), `tab`, `flow` (`title=value`, or
//! the value alone for a hidden title), `pager` (`title: value` lines, a streamed field as
//! `title:` and its raw text, `\f` between rows) and `json` (an array of objects by key).

use std::fmt::Write;

/// doveadm's `-f` formatters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Table,
    Tab,
    Flow,
    Json,
    /// One `title: value` line per field, rows separated by a form feed (`doveadm fetch`).
    Pager,
    /// doveadm's formatted printer with the command's own line format (`log errors` picks it
    /// when no `-f` is given; not a `-f` choice). Other answers print as `flow`.
    Formatted,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Format, String> {
        match s {
            "table" => Ok(Format::Table),
            "tab" => Ok(Format::Tab),
            "flow" => Ok(Format::Flow),
            "json" => Ok(Format::Json),
            "pager" => Ok(Format::Pager),
            other => Err(format!(
                "Unknown print formatter: {other} (table, tab, flow, pager or json)"
            )),
        }
    }
}

/// A column: its key (json), its title (table, tab, flow, pager) and doveadm's header flags.
#[derive(Clone, Copy, Debug)]
pub struct Header {
    pub key: &'static str,
    pub title: &'static str,
    pub right_justify: bool,
    pub expand: bool,
    /// DOVEADM_PRINT_HEADER_FLAG_HIDE_TITLE: flow and pager print the value alone, and a table
    /// whose titles are all hidden has no title line.
    pub hide_title: bool,
    /// A value doveadm streams (a message's `hdr`, `body`, `text`): the pager prints
    /// `title:` on its own line, then the text as it is.
    pub streamed: bool,
}

impl Header {
    pub const fn hidden(mut self) -> Header {
        self.hide_title = true;
        self
    }

    pub const fn streamed(mut self) -> Header {
        self.streamed = true;
        self
    }
}

pub const fn h(
    key: &'static str,
    title: &'static str,
    right_justify: bool,
    expand: bool,
) -> Header {
    Header {
        key,
        title,
        right_justify,
        expand,
        hide_title: false,
        streamed: false,
    }
}
/// A command's columns, and whether the table formatter sizes them from the first row only
/// (doveadm 2.3.19's `who`, as observed on the reference instance) or from every row.
#[derive(Clone, Copy, Debug)]
pub struct Columns {
    pub headers: &'static [Header],
    pub size_from_first_row: bool,
}

/// Renders `rows` under `headers` with a formatter; `columns` is the table width.
pub fn render(format: Format, cols: &Columns, rows: &[Vec<String>], columns: usize) -> String {
    let headers = cols.headers;
    match format {
        Format::Table => {
            let measured = if cols.size_from_first_row {
                1
            } else {
                usize::MAX
            };
            table(headers, rows, measured, columns)
        }
        Format::Tab => {
            let mut out = String::new();
            let titles: Vec<&str> = headers.iter().map(|h| h.title).collect();
            out.push_str(&titles.join("\t"));
            out.push('\n');
            for r in rows {
                out.push_str(&r.join("\t"));
                out.push('\n');
            }
            out
        }
        Format::Flow | Format::Formatted => {
            let mut out = String::new();
            for r in rows {
                let pairs: Vec<String> = headers
                    .iter()
                    .zip(r)
                    .map(|(h, v)| {
                        if h.hide_title {
                            v.clone()
                        } else {
                            format!("{}={v}", h.title)
                        }
                    })
                    .collect();
                out.push_str(&pairs.join(" "));
                out.push('\n');
            }
            out
        }
        Format::Pager => {
            let mut out = String::new();
            for (i, r) in rows.iter().enumerate() {
                if i > 0 {
                    out.push_str("\x0c\n");
                }
                for (h, v) in headers.iter().zip(r) {
                    match (h.hide_title, h.streamed) {
                        (true, _) => {}
                        (false, true) => {
                            out.push_str(h.title);
                            out.push_str(":\n");
                        }
                        (false, false) => {
                            out.push_str(h.title);
                            out.push_str(": ");
                        }
                    }
                    out.push_str(v);
                    if !h.streamed {
                        out.push('\n');
                    }
                }
            }
            out
        }
        Format::Json => {
            let objects: Vec<String> = rows
                .iter()
                .map(|r| {
                    let fields: Vec<String> = headers
                        .iter()
                        .zip(r)
                        .map(|(h, v)| format!("{}:{}", json_string(h.key), json_string(v)))
                        .collect();
                    format!("{{{}}}", fields.join(","))
                })
                .collect();
            // No newline after the array, as doveadm prints it.
            format!("[{}]", objects.join(","))
        }
    }
}

fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// doveadm's table formatter: each column as wide as its longest value or title (among the
/// first `measured` rows), shrunk from the right when the line is wider than `columns`, and
/// half the spare width given to the first `expand` column (else the last). Every cell is
/// padded, the last one too; a longer value is printed whole.
fn table(headers: &[Header], rows: &[Vec<String>], measured: usize, columns: usize) -> String {
    let n = headers.len();
    let mut min: Vec<usize> = headers.iter().map(|h| h.title.chars().count()).collect();
    let mut max = min.clone();
    for r in rows.iter().take(measured) {
        for (i, v) in r.iter().enumerate().take(n) {
            let len = v.chars().count();
            min[i] = min[i].min(len);
            max[i] = max[i].max(len);
        }
    }
    let mut len = max.clone();
    let mut total: usize = max.iter().map(|l| l + 1).sum::<usize>() - 1;
    while total > columns {
        let orig = total;
        for i in (0..n).rev() {
            let diff = len[i] - min[i];
            if total - diff <= columns {
                let diff = total - columns;
                len[i] -= diff;
                total -= diff;
                break;
            }
            if diff > 0 {
                len[i] -= if diff == 1 { 1 } else { diff / 2 };
            }
        }
        if total == orig {
            break;
        }
    }
    if total < columns {
        let i = headers.iter().position(|h| h.expand).unwrap_or(n - 1);
        len[i] += (columns - total) / 2;
    }
    let cell = |out: &mut String, i: usize, v: &str| {
        let pad = len[i].saturating_sub(v.chars().count());
        if headers[i].right_justify {
            out.extend(std::iter::repeat_n(' ', pad));
            out.push_str(v);
        } else {
            out.push_str(v);
            out.extend(std::iter::repeat_n(' ', pad));
        }
    };
    let mut out = String::new();
    if !headers.iter().all(|h| h.hide_title) {
        for (i, h) in headers.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            cell(&mut out, i, h.title);
        }
        out.push('\n');
    }
    for r in rows {
        for (i, v) in r.iter().enumerate().take(n) {
            if i > 0 {
                out.push(' ');
            }
            cell(&mut out, i, v);
        }
        out.push('\n');
    }
    out
}
