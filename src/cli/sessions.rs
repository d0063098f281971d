//! `roost who [-1] [-f table|tab|flow|json] [MASK…]` and `roost kick MASK…`: ask anvil over the
//! control socket (`WHO`, `KICK`) and print what `doveadm who` and `doveadm kick` print.

use std::net::IpAddr;
use std::path::Path;

use anyhow::Context;

use roost::master::control::Client;
use roost::runtime::SessionRow;
use roost::service::anvil::format::{render, Format};
use roost::service::anvil::print::{self, WHO, WHO_LINES};
use roost::service::anvil::Filter;

/// The width doveadm's table formatter fills: the terminal's, else 80 (at least 30).
fn columns() -> usize {
    // SAFETY: TIOCGWINSZ writes a winsize into the struct we pass and nothing else.
    unsafe {
        let mut ws: libc::winsize = std::mem::zeroed();
        if libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut ws) == 0 {
            return (ws.ws_col as usize).max(30);
        }
    }
    80
}

fn parse_row(r: &[String]) -> Option<SessionRow> {
    let ip = |s: &String| s.parse::<IpAddr>().ok();
    Some(SessionRow {
        user: r.first()?.clone(),
        service: r.get(1)?.clone(),
        vproc: r.get(2)?.parse().ok()?,
        rip: ip(r.get(3)?),
        lip: ip(r.get(4)?),
        since: r.get(5)?.parse().ok()?,
        session_id: r.get(6).cloned().unwrap_or_default(),
    })
}

pub fn who(control: &Path, separate: bool, format: Format, masks: &[String]) -> anyhow::Result<()> {
    let filter = Filter::parse(masks).map_err(anyhow::Error::msg)?;
    let mut c = Client::connect(control)?;
    let rows: Vec<SessionRow> = c
        .listing("WHO")
        .context("who failed")?
        .iter()
        .filter_map(|r| parse_row(r))
        .collect();
    let out = if separate {
        render(
            format,
            &WHO_LINES,
            &print::who_lines(&rows, &filter),
            columns(),
        )
    } else {
        render(format, &WHO, &print::who_users(&rows, &filter), columns())
    };
    print!("{out}");
    Ok(())
}

/// Returns the exit code: 0, or 68 when nobody was kicked (doveadm's `EX_NOHOST`).
pub fn kick(control: &Path, masks: &[String]) -> anyhow::Result<i32> {
    let mut c = Client::connect(control)?;
    let mut cmd = String::from("KICK");
    for m in masks {
        cmd.push('\t');
        cmd.push_str(&roost::protocol::auth::tab_escape(m));
    }
    let users: Vec<String> = c
        .listing(&cmd)
        .context("kick failed")?
        .into_iter()
        .filter_map(|r| r.into_iter().next())
        .collect();
    let (out, code) = print::kicked(&users);
    print!("{out}");
    Ok(code)
}
