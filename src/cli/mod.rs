//! The admin commands of the `roost` binary that run doveadm commands on a running server over
//! its `doveadm-server` socket: `roost doveadm …` and the top-level mirrors (`roost who`,
//! `roost kick`, `roost mailbox status …`).

pub mod doveadm;
