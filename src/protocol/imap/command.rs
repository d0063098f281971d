//! Roost's IMAP command types: every RFC 3501 command and the extensions roost announces
//! (IDLE, NAMESPACE, UIDPLUS, MOVE, UNSELECT, ENABLE, ID, LITERAL+, SASL-IR, LIST-EXTENDED,
//! LIST-STATUS, SPECIAL-USE, ESEARCH, SEARCHRES, WITHIN). Mailbox names are kept in their wire
//! form (modified UTF-7, see [`super::utf7`]); the session decodes and validates them so it can
//! answer with Dovecot's wording.

/// One `ID` field: name and value (`None` for NIL).
pub type IdField = (Vec<u8>, Option<Vec<u8>>);

/// A command with its tag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tagged {
    pub tag: String,
    pub command: Command,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    // Any state (RFC 3501 6.1).
    Capability,
    Noop,
    Logout,
    // Not authenticated (6.2).
    StartTls,
    /// SASL-IR: `initial` is the base64 initial response (`=` for an empty one).
    Authenticate {
        mechanism: String,
        initial: Option<Vec<u8>>,
    },
    Login {
        username: Vec<u8>,
        password: Vec<u8>,
    },
    // Authenticated (6.3).
    Select {
        mailbox: Vec<u8>,
    },
    Examine {
        mailbox: Vec<u8>,
    },
    /// SPECIAL-USE (RFC 6154) `USE (\Drafts ...)`.
    Create {
        mailbox: Vec<u8>,
        special_use: Vec<String>,
    },
    Delete {
        mailbox: Vec<u8>,
    },
    Rename {
        from: Vec<u8>,
        to: Vec<u8>,
    },
    Subscribe {
        mailbox: Vec<u8>,
    },
    Unsubscribe {
        mailbox: Vec<u8>,
    },
    List(List),
    Lsub {
        reference: Vec<u8>,
        pattern: Vec<u8>,
    },
    Namespace,
    Status {
        mailbox: Vec<u8>,
        items: Vec<StatusItem>,
    },
    /// MULTIAPPEND-shaped: one or more messages; their bytes were streamed by the receiver.
    Append {
        mailbox: Vec<u8>,
        messages: Vec<AppendMessage>,
    },
    Idle,
    Enable {
        capabilities: Vec<String>,
    },
    /// `ID NIL` is `None`; values may be NIL.
    Id {
        fields: Option<Vec<IdField>>,
    },
    // Selected (6.4).
    Check,
    Close,
    Unselect,
    Expunge,
    /// UIDPLUS `UID EXPUNGE`.
    UidExpunge {
        set: SequenceSet,
    },
    Search(Search),
    Fetch {
        uid: bool,
        set: SequenceSet,
        items: FetchItems,
    },
    Store {
        uid: bool,
        set: SequenceSet,
        mode: StoreMode,
        silent: bool,
        flags: Vec<String>,
    },
    Copy {
        uid: bool,
        set: SequenceSet,
        mailbox: Vec<u8>,
    },
    Move {
        uid: bool,
        set: SequenceSet,
        mailbox: Vec<u8>,
    },
}

impl Command {
    /// The command's name as Dovecot logs it (upper case; `UID FETCH` etc.).
    pub fn name(&self) -> &'static str {
        match self {
            Command::Capability => "CAPABILITY",
            Command::Noop => "NOOP",
            Command::Logout => "LOGOUT",
            Command::StartTls => "STARTTLS",
            Command::Authenticate { .. } => "AUTHENTICATE",
            Command::Login { .. } => "LOGIN",
            Command::Select { .. } => "SELECT",
            Command::Examine { .. } => "EXAMINE",
            Command::Create { .. } => "CREATE",
            Command::Delete { .. } => "DELETE",
            Command::Rename { .. } => "RENAME",
            Command::Subscribe { .. } => "SUBSCRIBE",
            Command::Unsubscribe { .. } => "UNSUBSCRIBE",
            Command::List(_) => "LIST",
            Command::Lsub { .. } => "LSUB",
            Command::Namespace => "NAMESPACE",
            Command::Status { .. } => "STATUS",
            Command::Append { .. } => "APPEND",
            Command::Idle => "IDLE",
            Command::Enable { .. } => "ENABLE",
            Command::Id { .. } => "ID",
            Command::Check => "CHECK",
            Command::Close => "CLOSE",
            Command::Unselect => "UNSELECT",
            Command::Expunge => "EXPUNGE",
            Command::UidExpunge { .. } => "UID EXPUNGE",
            Command::Search(s) if s.uid => "UID SEARCH",
            Command::Search(_) => "SEARCH",
            Command::Fetch { uid: true, .. } => "UID FETCH",
            Command::Fetch { .. } => "FETCH",
            Command::Store { uid: true, .. } => "UID STORE",
            Command::Store { .. } => "STORE",
            Command::Copy { uid: true, .. } => "UID COPY",
            Command::Copy { .. } => "COPY",
            Command::Move { uid: true, .. } => "UID MOVE",
            Command::Move { .. } => "MOVE",
        }
    }
}

/// LIST, with LIST-EXTENDED (RFC 5258) selection and return options and LIST-STATUS (RFC 5819).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct List {
    /// `SUBSCRIBED`, `REMOTE`, `RECURSIVEMATCH`, `SPECIAL-USE` (upper-cased).
    pub selection: Vec<String>,
    pub reference: Vec<u8>,
    /// One pattern, or several in the `(...)` form.
    pub patterns: Vec<Vec<u8>>,
    pub returns: ListReturn,
    /// Whether the command used any extended syntax (the response then uses extended form).
    pub extended: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListReturn {
    pub subscribed: bool,
    pub children: bool,
    pub special_use: bool,
    /// LIST-STATUS `STATUS (...)`.
    pub status: Option<Vec<StatusItem>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StatusItem {
    Messages,
    Recent,
    UidNext,
    UidValidity,
    Unseen,
}

impl StatusItem {
    pub fn as_str(self) -> &'static str {
        match self {
            StatusItem::Messages => "MESSAGES",
            StatusItem::Recent => "RECENT",
            StatusItem::UidNext => "UIDNEXT",
            StatusItem::UidValidity => "UIDVALIDITY",
            StatusItem::Unseen => "UNSEEN",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppendMessage {
    pub flags: Vec<String>,
    /// The date-time string as sent (`"17-Jul-1996 02:44:25 -0700"`), checked for shape.
    pub date: Option<String>,
    pub size: u64,
}

/// A sequence set; `Saved` is SEARCHRES's `$`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SequenceSet {
    Ranges(Vec<SeqRange>),
    Saved,
}

/// `a`, `a:b` (either may be `*`, kept as sent: `a` may be larger than `b`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeqRange {
    pub start: SeqNum,
    pub end: SeqNum,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeqNum {
    Value(u32),
    /// `*`: the largest number in use.
    Last,
}

/// SEARCH with ESEARCH (RFC 4731) return options and SEARCHRES (RFC 5182) `SAVE`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Search {
    pub uid: bool,
    /// `None`: plain SEARCH (answer `* SEARCH`); `Some`: `RETURN (...)` given (answer
    /// `* ESEARCH`; an empty list means `ALL`).
    pub returns: Option<Vec<SearchReturn>>,
    pub charset: Option<String>,
    /// The criteria, ANDed.
    pub keys: Vec<SearchKey>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SearchReturn {
    Min,
    Max,
    All,
    Count,
    Save,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SearchKey {
    All,
    Answered,
    Bcc(Vec<u8>),
    Before(Date),
    Body(Vec<u8>),
    Cc(Vec<u8>),
    Deleted,
    Draft,
    Flagged,
    From(Vec<u8>),
    Header(Vec<u8>, Vec<u8>),
    Keyword(String),
    Larger(u32),
    New,
    Not(Box<SearchKey>),
    Old,
    /// WITHIN (RFC 5032), seconds.
    Older(u32),
    On(Date),
    Or(Box<SearchKey>, Box<SearchKey>),
    Recent,
    Seen,
    SentBefore(Date),
    SentOn(Date),
    SentSince(Date),
    Since(Date),
    Smaller(u32),
    Subject(Vec<u8>),
    Text(Vec<u8>),
    To(Vec<u8>),
    Uid(SequenceSet),
    Unanswered,
    Undeleted,
    Undraft,
    Unflagged,
    Unkeyword(String),
    Unseen,
    /// WITHIN, seconds.
    Younger(u32),
    SequenceSet(SequenceSet),
    /// A parenthesised group (ANDed).
    And(Vec<SearchKey>),
}

/// An RFC 3501 `date` (`1-Feb-1994`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Date {
    pub year: u16,
    /// 1..=12
    pub month: u8,
    pub day: u8,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchItems {
    pub items: Vec<FetchAttr>,
    /// Whether the items were a macro or a single item rather than a parenthesised list.
    pub macro_used: Option<&'static str>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FetchAttr {
    Envelope,
    Flags,
    InternalDate,
    Rfc822,
    Rfc822Header,
    Rfc822Size,
    Rfc822Text,
    /// `BODY` (non-extensible BODYSTRUCTURE).
    Body,
    BodyStructure,
    Uid,
    /// `BODY[section]<partial>` / `BODY.PEEK[...]`.
    BodySection {
        peek: bool,
        section: Section,
        partial: Option<(u32, u32)>,
    },
}

/// A body section: a part path (`1.2`) and what of it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Section {
    pub part: Vec<u32>,
    pub text: Option<SectionText>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SectionText {
    Header,
    HeaderFields(Vec<String>),
    HeaderFieldsNot(Vec<String>),
    Text,
    Mime,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreMode {
    Replace,
    Add,
    Remove,
}
