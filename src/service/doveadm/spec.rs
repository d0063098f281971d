//! The types of the doveadm command table (re-exported by `command`): [`CommandSpec`], its
//! [`Param`]s, the [`Context`] a command runs with, [`CommandError`] with doveadm's exit codes,
//! and the parameter readers. Command modules (`ops/`, `mail/`) import them from here, so that
//! `command` (which lists them all) and they do not import each other.

use std::sync::Arc;

use crate::runtime::{BoxFuture, Hub};
use crate::settings::Settings;

/// A command's parameters: the JSON object of the request, keyed by the API's camelCase names.
pub type Params = serde_json::Map<String, serde_json::Value>;

/// What a command may use: the server's hub (anvil, auth, status views, …) and settings,
/// and the room left for the answers of the request it belongs to.
#[derive(Clone)]
pub struct Context {
    pub hub: Arc<Hub>,
    pub settings: Arc<Settings>,
    pub budget: Arc<AnswerBudget>,
}

impl Context {
    pub fn new(hub: Arc<Hub>, settings: Arc<Settings>) -> Context {
        Context {
            hub,
            settings,
            budget: Arc::new(AnswerBudget::new(MAX_ANSWER_BYTES)),
        }
    }

    /// The same, with a fresh budget (one per request).
    pub fn for_request(&self) -> Context {
        Context::new(self.hub.clone(), self.settings.clone())
    }
}

/// The most one request's answers may hold (their JSON). Dovecot streams its answer; roost
/// builds it whole, so the answers of a request share this budget: per-user results are
/// counted as they come in ([`AnswerBudget::spend`]), and once it is used up the command fails
/// and the request's later commands are not run (exit code 2, DOVEADM_EX_NOTPOSSIBLE).
pub const MAX_ANSWER_BYTES: usize = 96 << 20;

/// The bytes a request's answers may still take.
pub struct AnswerBudget(std::sync::atomic::AtomicUsize);

impl AnswerBudget {
    pub fn new(bytes: usize) -> AnswerBudget {
        AnswerBudget(std::sync::atomic::AtomicUsize::new(bytes))
    }

    /// Takes `bytes`; exit code 2 when they do not fit (the budget is then used up).
    pub fn spend(&self, bytes: usize) -> Result<(), CommandError> {
        use std::sync::atomic::Ordering;
        let r = self
            .0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                left.checked_sub(bytes)
            });
        if r.is_err() {
            self.0.store(0, Ordering::Relaxed);
            return Err(CommandError::NotPossible(format!(
                "the answer passed {} MiB: narrow the users, mailboxes or fields",
                MAX_ANSWER_BYTES >> 20
            )));
        }
        Ok(())
    }

    pub fn used_up(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::Relaxed) == 0
    }
}

/// How a parameter is typed in `GET /doveadm/v1` (Dovecot's names for the JSON types).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    /// `"boolean"`
    Bool,
    /// `"integer"`
    Integer,
    /// `"string"`
    String,
    /// `"array"` (of strings)
    Array,
    /// `"search_query"`: an array of search words, as `doveadm search` takes them.
    SearchQuery,
}

impl ParamKind {
    pub fn api_name(self) -> &'static str {
        match self {
            ParamKind::Bool => "boolean",
            ParamKind::Integer => "integer",
            ParamKind::String => "string",
            ParamKind::Array => "array",
            ParamKind::SearchQuery => "search_query",
        }
    }
}

/// One parameter of a command.
#[derive(Debug, Clone, Copy)]
pub struct Param {
    /// The API's camelCase name (`separateConnections`); the CLI spells it `--separate-connections`.
    pub name: &'static str,
    pub kind: ParamKind,
    /// Taken from the CLI's bare arguments, in table order (an `Array` one takes the rest).
    pub positional: bool,
    /// The CLI's short option (`-u` for `user`), if doveadm has one.
    pub short: Option<char>,
}

/// The future a command returns.
pub type CommandFuture = BoxFuture<Result<serde_json::Value, CommandError>>;

/// One doveadm command: its name as doveadm spells it (`"mailbox status"`), its parameters, and
/// the function that runs it.
#[derive(Clone, Copy)]
pub struct CommandSpec {
    pub name: &'static str,
    pub params: &'static [Param],
    pub run: fn(Context, Params) -> CommandFuture,
}

/// Why a command failed; `exit_code` is what doveadm exits with (sysexits.h and doveadm.h).
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// Wrong or missing parameters (EX_USAGE, 64).
    #[error("{0}")]
    Usage(String),
    /// Bad input data (EX_DATAERR, 65).
    #[error("{0}")]
    Data(String),
    /// The user does not exist (EX_NOUSER, 67).
    #[error("{0}")]
    NoUser(String),
    /// The mailbox, message or session does not exist (DOVEADM_EX_NOTFOUND = EX_NOHOST, 68).
    #[error("{0}")]
    NotFound(String),
    /// Internal error (EX_SOFTWARE, 70).
    #[error("{0}")]
    Software(String),
    /// Temporary failure (EX_TEMPFAIL, 75).
    #[error("{0}")]
    TempFail(String),
    /// Not allowed (EX_NOPERM, 77).
    #[error("{0}")]
    NoPerm(String),
    /// Configuration error (EX_CONFIG, 78).
    #[error("{0}")]
    Config(String),
    /// Valid request that cannot be done (DOVEADM_EX_NOTPOSSIBLE, 2).
    #[error("{0}")]
    NotPossible(String),
}

impl CommandError {
    pub fn exit_code(&self) -> i32 {
        match self {
            CommandError::Usage(_) => 64,
            CommandError::Data(_) => 65,
            CommandError::NoUser(_) => 67,
            CommandError::NotFound(_) => 68,
            CommandError::Software(_) => 70,
            CommandError::TempFail(_) => 75,
            CommandError::NoPerm(_) => 77,
            CommandError::Config(_) => 78,
            CommandError::NotPossible(_) => 2,
        }
    }

    /// The error doveadm's `code` stands for (an unknown code is an internal error).
    pub fn from_exit_code(code: i32, message: String) -> CommandError {
        match code {
            64 => CommandError::Usage(message),
            65 => CommandError::Data(message),
            67 => CommandError::NoUser(message),
            68 => CommandError::NotFound(message),
            75 => CommandError::TempFail(message),
            77 => CommandError::NoPerm(message),
            78 => CommandError::Config(message),
            2 => CommandError::NotPossible(message),
            _ => CommandError::Software(message),
        }
    }
}

/// Reads a string parameter.
pub fn string_param<'a>(params: &'a Params, name: &str) -> Option<&'a str> {
    params.get(name).and_then(|v| v.as_str())
}

/// Reads a string parameter that must be there (EX_USAGE otherwise).
pub fn required_string<'a>(params: &'a Params, name: &str) -> Result<&'a str, CommandError> {
    string_param(params, name)
        .ok_or_else(|| CommandError::Usage(format!("missing parameter {name}")))
}

/// Reads an array-of-strings parameter (a lone string counts as one element; absent = empty).
pub fn string_array(params: &Params, name: &str) -> Result<Vec<String>, CommandError> {
    match params.get(name) {
        None | Some(serde_json::Value::Null) => Ok(Vec::new()),
        Some(serde_json::Value::String(s)) => Ok(vec![s.clone()]),
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| CommandError::Usage(format!("{name}: expected strings")))
            })
            .collect(),
        Some(_) => Err(CommandError::Usage(format!("{name}: expected an array"))),
    }
}

/// Reads a boolean parameter (absent = false).
pub fn bool_param(params: &Params, name: &str) -> Result<bool, CommandError> {
    match params.get(name) {
        None | Some(serde_json::Value::Null) => Ok(false),
        Some(serde_json::Value::Bool(b)) => Ok(*b),
        Some(_) => Err(CommandError::Usage(format!("{name}: expected a boolean"))),
    }
}
