//! The one integration-test harness, shared by every test target (`mod common;`): the real
//! `roost serve` started on a temp config ([`Launch`], [`Server`]), loopback ports and
//! connections, `/metrics` over HTTP, log and file polling, the health-check client, TLS
//! clients and certificate files, running `roost` and the real peer tools, Python helpers
//! holding client sessions open, and a throw-away Dovecot 2.3 to compare with.

#![allow(dead_code, unused_imports)]

mod dirs;
mod dovecot;
mod health;
mod holder;
mod http;
mod imap;
mod ports;
mod privs;
mod proc;
mod promql;
mod schemes;
mod server;
mod tls;
mod tools;
mod traffic;
mod wait;

pub use dirs::TempDir;
pub use dovecot::Dovecot;
pub use health::{assert_closed_silently, health_check, ping, Pinger};
pub use holder::Holder;
pub use http::{http_get, metric_value};
pub use imap::{python_transcript, roost_imap, RoostImap};
pub use nix::sys::signal::Signal;
pub use ports::{connect, connect_from, connect_port, free_port, port_open};
pub use privs::{connect_as, connect_child};
pub use proc::rss_bytes;
pub use promql::{dashboard, dashboard_queries, metric_names};
pub use schemes::{schemes_and, SCHEMES};
pub use server::{Launch, Server, KEEP_ROOT};
pub use tls::{tls_client, tls_connect, write_pair};
pub use tools::{doveadm, require_tool, roost, roost_ok, run, run_tool, Ran, BIN};
pub use traffic::MailServer;
pub use wait::{read_text, wait_file_contains, wait_until};
