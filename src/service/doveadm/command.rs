//! The doveadm command layer: one table of commands (`CommandSpec`) that every transport runs
//! the same way — the HTTP API on the doveadm service's `inet_listener http`
//! (`POST /doveadm/v1`), the `doveadm-server` unix socket the `roost` CLI talks to, and tests.
//! A command takes its parameters as the JSON object of Dovecot's HTTP API (camelCase names,
//! e.g. `separateConnections`, `mailbox`, `user`) and returns the JSON value that goes inside
//! `["doveadmResponse", <value>, "tag"]`; a failure carries doveadm's exit code, which the API
//! answers as `["error", {"type": "exitCode", "exitCode": N}, "tag"]`.

pub use super::spec::{
    bool_param, required_string, string_array, string_param, CommandError, CommandFuture,
    CommandSpec, Context, Param, ParamKind, Params,
};

/// Every command roost implements: the operational ones (`ops`) and the mail and user ones
/// (`mail`).
pub fn commands() -> Vec<CommandSpec> {
    let mut all = super::ops::commands();
    all.extend(super::mail::commands());
    all
}

/// The command named `name` (doveadm's spelling, words separated by one space).
pub fn find(name: &str) -> Option<CommandSpec> {
    commands().into_iter().find(|c| c.name == name)
}
