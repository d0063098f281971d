//! The `roost` command line: `serve` runs the server; `config` prints the effective settings;
//! `ps`, `reload`, `stop` and `log reopen` talk to a running server over its control socket in base_dir;
//! `doveadm …`, `who`, `kick` and any other doveadm command (`roost mailbox status …`) over its
//! `doveadm-server` socket (`cli/`).

mod cli;

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};

use roost::master::control::Client;
use roost::settings::{self, load, ConfigSource};

#[derive(Parser)]
#[command(
    name = "roost",
    version,
    about = "Dovecot's service model as one async binary"
)]
struct Cli {
    /// Configuration file (TOML). Default: $ROOST_CONFIG, else the embedded config/roost.toml.
    #[arg(short = 'c', long = "config", global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the server in the foreground.
    Serve,
    /// Print the effective configuration as TOML (secrets hidden unless -P).
    Config {
        /// Only settings that differ from Dovecot 2.3's built-in defaults (like doveconf -n).
        #[arg(short = 'n', conflicts_with = "all")]
        changed: bool,
        /// Every setting with its value, defaults included, in doveconf's layout (doveconf -a).
        #[arg(short = 'a')]
        all: bool,
        /// Show secrets (passwords, keys) instead of hiding them (doveconf -P).
        #[arg(short = 'P')]
        show_secrets: bool,
    },
    /// List virtual processes of a running server.
    Ps,
    /// List the logged-in IMAP and POP3 sessions (like `doveadm who`).
    Who {
        /// One line per connection instead of one per user and protocol.
        #[arg(short = '1')]
        separate: bool,
        /// Output format: table, tab, flow or json.
        #[arg(short = 'f', default_value = "table")]
        format: roost::service::anvil::format::Format,
        /// A user mask (`*`, `?` wildcards) and/or an ip[/bits].
        masks: Vec<String>,
    },
    /// Disconnect sessions by user mask and/or ip[/bits] (like `doveadm kick`).
    Kick {
        /// A user mask (`*`, `?` wildcards) and/or an ip[/bits].
        #[arg(required = true)]
        masks: Vec<String>,
    },
    /// Reload the configuration of a running server (like SIGHUP).
    Reload,
    /// Log commands of a running server (like `doveadm log`).
    Log {
        #[command(subcommand)]
        action: LogCmd,
    },
    /// Stop a running server.
    Stop,
    /// Generate a password hash, or test one with -t (like `doveadm pw`).
    Pw {
        /// Scheme, optionally with .b64/.hex (default CRYPT).
        #[arg(short = 's', default_value = "CRYPT")]
        scheme: String,
        /// The password (prompted for on stdin when omitted).
        #[arg(short = 'p')]
        password: Option<String>,
        /// Test that this hash matches the password instead of making one.
        #[arg(short = 't')]
        test: Option<String>,
        /// Username, for user-salted schemes.
        #[arg(short = 'u', default_value = "")]
        user: String,
        /// Rounds / cost for schemes that have one.
        #[arg(short = 'r')]
        rounds: Option<u32>,
    },
    /// Run a doveadm command on the running server: `roost doveadm [-f table|tab|flow|json]
    /// COMMAND [ARGS]` (also without `doveadm`: `roost mailbox status …`).
    #[command(disable_help_flag = true)]
    Doveadm {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Any other doveadm command, e.g. `roost service status`.
    #[command(external_subcommand)]
    External(Vec<String>),
    /// Internal: a privsep helper process (started by the launcher).
    #[command(name = "__helper", hide = true)]
    Helper { spec: String },
    /// Internal: the root-kept launcher process.
    #[command(name = "__launcher", hide = true)]
    Launcher,
}

#[derive(Subcommand)]
enum LogCmd {
    /// Reopen the log files (after logrotate renamed them), like `doveadm log reopen` or SIGUSR1.
    Reopen,
    /// The server's last warnings and errors (up to 1000), like `doveadm log errors`.
    Errors {
        /// Only those logged at or after this unix time.
        #[arg(short = 's')]
        since: Option<String>,
    },
}

/// Runs a privsep helper: applies its restrictions first, then serves fd 3.
fn helper(spec: &str) -> anyhow::Result<()> {
    use roost::privsep::{self, HelperSpec};
    let spec = HelperSpec::decode(spec).map_err(|e| anyhow::anyhow!("{e}"))?;
    privsep::restrict::apply(&spec).map_err(|e| anyhow::anyhow!("helper {}: {e}", spec.kind))?;
    match spec.kind.as_str() {
        "auth-worker" => privsep::auth_worker::serve_fd3(&spec).map_err(|e| anyhow::anyhow!("{e}")),
        "mail" => {
            privsep::imap_helper::set_session_runner(roost::service::imap::session::serve_owned);
            privsep::mail_helper::serve_fd3(&spec).map_err(|e| anyhow::anyhow!("{e}"))
        }
        other => bail!("unknown helper kind '{other}'"),
    }
}

/// Reads a password from stdin after printing `prompt` on stderr.
fn read_password(prompt: &str) -> anyhow::Result<String> {
    use std::io::{BufRead, Write};
    eprint!("{prompt}");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

fn pw(
    scheme: &str,
    password: Option<String>,
    test: Option<&str>,
    user: &str,
    rounds: Option<u32>,
) -> anyhow::Result<()> {
    let password = match password {
        Some(p) => p,
        None if test.is_some() => read_password("Enter password to verify: ")?,
        None => {
            let a = read_password("Enter new password: ")?;
            let b = read_password("Retype new password: ")?;
            if a != b {
                bail!("Passwords don't match!");
            }
            a
        }
    };
    let out = roost::service::auth::pw_command_full(scheme, &password, test, user, rounds)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("{out}");
    Ok(())
}

/// A doveadm command of the table (the CLI's own subcommands name existing ones).
fn command(name: &str) -> roost::service::doveadm::command::CommandSpec {
    roost::service::doveadm::command::find(name).expect("command in the doveadm table")
}

/// Exits with a doveadm exit code (returns for 0).
fn doveadm_exit(code: i32) -> anyhow::Result<()> {
    if code != 0 {
        std::process::exit(code);
    }
    Ok(())
}

fn main() {
    let cli = Cli::parse();
    if let Err(e) = run(cli) {
        eprintln!("roost: {e:#}");
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match &cli.command {
        Cmd::Helper { spec } => return helper(spec),
        Cmd::Launcher => {
            let source = ConfigSource::from_cli(cli.config.clone());
            return roost::privsep::launcher::launcher_main(source)
                .map_err(|e| anyhow::anyhow!("{e}"));
        }
        _ => {}
    }
    if let Cmd::Pw {
        scheme,
        password,
        test,
        user,
        rounds,
    } = &cli.command
    {
        return pw(scheme, password.clone(), test.as_deref(), user, *rounds);
    }
    if matches!(
        cli.command,
        Cmd::Config { .. }
            | Cmd::Ps
            | Cmd::Pw { .. }
            | Cmd::Who { .. }
            | Cmd::Kick { .. }
            | Cmd::Doveadm { .. }
            | Cmd::External(_)
    ) {
        // Printing commands: `roost config | head` ends quietly, like any Unix filter. The
        // server keeps Rust's ignored SIGPIPE so a vanished client is an EPIPE error.
        // SAFETY: restoring a default signal disposition before any thread is started.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    let mut cli = cli;
    if let Cmd::Doveadm { args } | Cmd::External(args) = &mut cli.command {
        // The global `-c FILE` may come after the command's words.
        if let Some(config) = cli::doveadm::take_config(args) {
            cli.config = Some(config);
        }
    }
    let source = ConfigSource::from_cli(cli.config);
    let loaded = load(&source).map_err(|e| anyhow::anyhow!("{e}"))?;
    match cli.command {
        Cmd::Serve => {
            roost::log::init(&loaded.settings.core)?;
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("cannot start the async runtime")?;
            rt.block_on(roost::master::run::serve(
                source,
                loaded,
                roost::service::registry(),
            ))?;
            // Sessions of a draining generation may still hold tasks; do not wait for them.
            rt.shutdown_timeout(std::time::Duration::from_secs(1));
            Ok(())
        }
        Cmd::Config {
            changed,
            all,
            show_secrets,
        } => {
            if all {
                println!(
                    "# roost {}: {}",
                    env!("CARGO_PKG_VERSION"),
                    source.display_name()
                );
                println!("# NOTE: Send roost config -n output instead when asking for help.");
                print!(
                    "{}",
                    settings::doveconf::to_doveconf(&loaded.settings, show_secrets)
                        .map_err(anyhow::Error::msg)?
                );
                return Ok(());
            }
            let states = roost::master::generation::service_states(
                &loaded.settings,
                &roost::service::registry(),
            );
            println!("# roost configuration from {}", source.display_name());
            for (name, st) in &states {
                if *st == roost::runtime::ServiceState::NotImplemented {
                    println!("# service {name}: not implemented in roost yet (its listeners stay closed)");
                }
            }
            for w in &loaded.warnings {
                println!("# warning: {w}");
            }
            print!(
                "{}",
                settings::print::to_toml_hiding(&loaded.settings, changed, show_secrets)
                    .map_err(anyhow::Error::msg)?
            );
            Ok(())
        }
        Cmd::Ps => {
            let mut c = Client::connect(&loaded.settings.core.base_dir.join("master"))?;
            let procs = c.listing("PROCESS-STATUS")?;
            let services = c.listing("SERVICE-STATUS")?;
            println!(
                "{:<20} {:>8} {:>8} {:>10} {:>8} {:>8}",
                "SERVICE", "VPROC", "CLIENTS", "SERVED", "IDLE", "AGE"
            );
            for row in &procs {
                if row.len() < 6 {
                    continue;
                }
                let idle = if row[4] == "-" {
                    "-".to_string()
                } else {
                    format!("{}s", row[4])
                };
                println!(
                    "{:<20} {:>8} {:>8} {:>10} {:>8} {:>8}{}",
                    row[0],
                    row[1],
                    row[2],
                    row[3],
                    idle,
                    format!("{}s", row[5]),
                    if row.get(6).is_some_and(|s| !s.is_empty()) {
                        " retiring"
                    } else {
                        ""
                    }
                );
            }
            let missing: Vec<&str> = services
                .iter()
                .filter(|r| r.get(8).map(String::as_str) == Some("not-implemented"))
                .map(|r| r[0].as_str())
                .collect();
            if !missing.is_empty() {
                println!("not implemented in roost yet: {}", missing.join(", "));
            }
            Ok(())
        }
        Cmd::Who {
            separate,
            format,
            masks,
        } => {
            let mut params = serde_json::Map::new();
            if separate {
                params.insert("separateConnections".into(), true.into());
            }
            params.insert("mask".into(), masks.into());
            doveadm_exit(cli::doveadm::run(
                &loaded.settings,
                format,
                &command("who"),
                params,
            )?)
        }
        Cmd::Kick { masks } => {
            let mut params = serde_json::Map::new();
            params.insert("mask".into(), masks.into());
            let format = roost::service::anvil::format::Format::Table;
            doveadm_exit(cli::doveadm::run(
                &loaded.settings,
                format,
                &command("kick"),
                params,
            )?)
        }
        Cmd::Doveadm { args } | Cmd::External(args) => {
            doveadm_exit(cli::doveadm::main(&loaded.settings, &args)?)
        }
        Cmd::Reload => {
            let mut c = Client::connect(&loaded.settings.core.base_dir.join("master"))?;
            c.simple("RELOAD").context("reload failed")?;
            println!("configuration reloaded");
            Ok(())
        }
        Cmd::Log {
            action: LogCmd::Errors { since },
        } => {
            let mut params = serde_json::Map::new();
            if let Some(s) = since {
                params.insert("since".into(), s.into());
            }
            doveadm_exit(cli::doveadm::run(
                &loaded.settings,
                roost::service::anvil::format::Format::Formatted,
                &command("log errors"),
                params,
            )?)
        }
        Cmd::Log {
            action: LogCmd::Reopen,
        } => {
            let mut c = Client::connect(&loaded.settings.core.base_dir.join("master"))?;
            c.simple("LOG-REOPEN").context("log reopen failed")?;
            Ok(())
        }
        Cmd::Pw { .. } | Cmd::Helper { .. } | Cmd::Launcher => {
            unreachable!("handled before loading the configuration")
        }
        Cmd::Stop => {
            let base = loaded.settings.core.base_dir.clone();
            let pid_file = roost::master::run::pid_file(&base);
            let mut c = Client::connect(&base.join("master"))?;
            c.simple("STOP")?;
            // The server removes its pid file as the last step of a clean stop.
            for _ in 0..150 {
                if !pid_file.exists() {
                    return Ok(());
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            bail!(
                "roost is still running after 15 s ({} still exists)",
                pid_file.display()
            );
        }
    }
}
