//! The admin commands of the `roost` binary that talk to a running server's control socket
//! about its sessions: `roost who` and `roost kick` (doveadm's `who` and `kick`).

pub mod sessions;
