//! The `passwd-file` passdb and userdb: Dovecot's
//! `user:password:uid:gid:gecos:home:shell:extra_fields` files. The path may contain `%u %n %d`
//! (one file per domain); args `scheme=` (default CRYPT) and `username_format=` (default `%u`).
//! Files are re-read when their mtime or size changes (checked at most once a second), on a
//! blocking thread.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use super::types::{DbError, PassLookup, Passdb, UserLookupRaw, Userdb};
use crate::runtime::BoxFuture;
use crate::service::auth::fields::Fields;
use crate::service::auth::vars::Vars;

/// A parsed file: username → entry.
pub type Users = HashMap<String, Arc<Entry>>;

/// One line of a passwd-file.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Entry {
    pub password: Option<String>,
    pub uid: String,
    pub gid: String,
    pub gecos: String,
    pub home: String,
    pub shell: String,
    pub extra: String,
}

/// Parses a whole file: `user → entry`. Blank lines and `#` comments are skipped; a line with
/// only a username (deny lists) has no password; an empty username is an error naming its line.
pub fn parse_file(text: &str, path: &Path) -> Result<Users, String> {
    let mut users = HashMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let mut parts = line.splitn(8, ':');
        let user = parts.next().unwrap_or("");
        let password = parts.next().unwrap_or("");
        if user.is_empty() {
            return Err(format!("{} line {}: empty username", path.display(), n + 1));
        }
        let mut next = || parts.next().unwrap_or("").to_string();
        let entry = Entry {
            password: (!password.is_empty()).then(|| password.to_string()),
            uid: next(),
            gid: next(),
            gecos: next(),
            home: next(),
            shell: next(),
            extra: next(),
        };
        // Dovecot keeps the first entry of a duplicated user.
        users.entry(user.to_string()).or_insert(Arc::new(entry));
    }
    Ok(users)
}

struct Loaded {
    mtime: Option<SystemTime>,
    len: u64,
    checked: Instant,
    users: Arc<Users>,
}

/// Files already read, keyed by expanded path.
#[derive(Default)]
struct FileCache {
    files: Mutex<HashMap<PathBuf, Loaded>>,
}

const RECHECK: Duration = Duration::from_secs(1);

impl FileCache {
    /// The parsed file, re-read if it changed. Blocking: call from a blocking thread.
    fn get(&self, path: &Path) -> Result<Option<Arc<Users>>, String> {
        let now = Instant::now();
        {
            let files = self.files.lock().expect("passwd-file cache lock");
            if let Some(l) = files.get(path) {
                if now.duration_since(l.checked) < RECHECK {
                    return Ok(Some(l.users.clone()));
                }
            }
        }
        let meta = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                self.files.lock().expect("lock").remove(path);
                return Ok(None);
            }
            Err(e) => return Err(format!("stat({}) failed: {e}", path.display())),
        };
        let mtime = meta.modified().ok();
        {
            let mut files = self.files.lock().expect("lock");
            if let Some(l) = files.get_mut(path) {
                if l.mtime == mtime && l.len == meta.len() {
                    l.checked = now;
                    return Ok(Some(l.users.clone()));
                }
            }
        }
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("open({}) failed: {e}", path.display()))?;
        let users = Arc::new(parse_file(&text, path)?);
        self.files.lock().expect("lock").insert(
            path.to_path_buf(),
            Loaded {
                mtime,
                len: meta.len(),
                checked: now,
                users: users.clone(),
            },
        );
        Ok(Some(users))
    }

    /// The cached file if it was checked within the last second (no syscalls).
    fn fresh(&self, path: &Path) -> Option<Arc<Users>> {
        let files = self.files.lock().expect("lock");
        let l = files.get(path)?;
        (Instant::now().duration_since(l.checked) < RECHECK).then(|| l.users.clone())
    }
}

/// A passwd-file passdb or userdb.
pub struct PasswdFile {
    path: String,
    scheme: String,
    username_format: String,
    cache: Arc<FileCache>,
}

impl PasswdFile {
    /// Parses `[scheme=S] [username_format=F] PATH`.
    pub fn new(args: &str, kind: &'static str) -> Result<PasswdFile, DbError> {
        let mut scheme = "CRYPT".to_string();
        let mut username_format = "%u".to_string();
        let mut path = None;
        for word in args.split_whitespace() {
            if let Some(v) = word.strip_prefix("scheme=") {
                scheme = v.to_ascii_uppercase();
            } else if let Some(v) = word.strip_prefix("username_format=") {
                username_format = v.to_string();
            } else if word.contains('=') && path.is_none() && !word.starts_with('/') {
                return Err(DbError::BadArgs {
                    kind,
                    driver: "passwd-file".into(),
                    message: format!("unknown argument '{word}'"),
                });
            } else {
                path = Some(word.to_string());
            }
        }
        let path = path.ok_or_else(|| DbError::BadArgs {
            kind,
            driver: "passwd-file".into(),
            message: "args must name the file (e.g. args = scheme=CRYPT /etc/dovecot/users)".into(),
        })?;
        if crate::service::auth::schemes::resolve(&scheme).is_err() {
            return Err(DbError::BadArgs {
                kind,
                driver: "passwd-file".into(),
                message: format!("unknown scheme '{scheme}'"),
            });
        }
        Ok(PasswdFile {
            path,
            scheme,
            username_format,
            cache: Arc::new(FileCache::default()),
        })
    }

    /// Looks `vars.user` up (after `username_format`) in the file its path expands to.
    fn find(&self, vars: &Vars) -> BoxFuture<Result<Option<Arc<Entry>>, String>> {
        let path = if self.path.contains('%') {
            PathBuf::from(vars.expand(&self.path))
        } else {
            PathBuf::from(&self.path)
        };
        let key = if self.username_format == "%u" {
            vars.user.clone()
        } else {
            vars.expand(&self.username_format)
        };
        if let Some(users) = self.cache.fresh(&path) {
            let e = users.get(&key).cloned();
            return Box::pin(async move { Ok(e) });
        }
        let cache = self.cache.clone();
        Box::pin(async move {
            let res = tokio::task::spawn_blocking(move || cache.get(&path))
                .await
                .map_err(|e| format!("passwd-file lookup panicked: {e}"))?;
            Ok(res?.and_then(|users| users.get(&key).cloned()))
        })
    }

    /// All usernames of a path without variables (for `LIST`).
    fn all_users(&self) -> BoxFuture<Option<Vec<String>>> {
        if self.path.contains('%') {
            return Box::pin(async { None });
        }
        let cache = self.cache.clone();
        let path = PathBuf::from(&self.path);
        Box::pin(async move {
            let users = tokio::task::spawn_blocking(move || cache.get(&path))
                .await
                .ok()?
                .ok()??;
            let mut v: Vec<String> = users.keys().cloned().collect();
            v.sort();
            Some(v)
        })
    }
}

fn userdb_fields(e: &Entry, vars: &Vars, prefix: &str) -> Fields {
    let mut f = Fields::default();
    for (k, v) in [("uid", &e.uid), ("gid", &e.gid), ("home", &e.home)] {
        if !v.is_empty() {
            f.set(&format!("{prefix}{k}"), v.clone());
        }
    }
    let mut vars = vars.clone();
    vars.home = e.home.clone();
    for (k, v) in Fields::parse(&e.extra, Some(&vars)).0 {
        f.set(&k, v);
    }
    f
}

impl Passdb for PasswdFile {
    fn lookup(&self, vars: Arc<Vars>) -> BoxFuture<PassLookup> {
        let fut = self.find(&vars);
        Box::pin(async move {
            match fut.await {
                Ok(Some(e)) => PassLookup::Found {
                    password: e.password.clone(),
                    // uid/gid/home become prefetched userdb fields.
                    fields: userdb_fields(&e, &vars, "userdb_"),
                },
                Ok(None) => PassLookup::NotFound,
                Err(e) => PassLookup::InternalFail(e),
            }
        })
    }

    fn default_scheme(&self) -> &str {
        &self.scheme
    }
}

impl Userdb for PasswdFile {
    fn lookup(&self, vars: Arc<Vars>) -> BoxFuture<UserLookupRaw> {
        let fut = self.find(&vars);
        Box::pin(async move {
            match fut.await {
                Ok(Some(e)) => {
                    let all = userdb_fields(&e, &vars, "");
                    // In a userdb, extra fields are userdb fields; `userdb_` prefixes are dropped.
                    let mut f = Fields::default();
                    for (k, v) in all.0 {
                        let k = k.strip_prefix("userdb_").unwrap_or(&k).to_string();
                        f.set(&k, v);
                    }
                    UserLookupRaw::Found(f)
                }
                Ok(None) => UserLookupRaw::NotFound,
                Err(e) => UserLookupRaw::InternalFail(e),
            }
        })
    }

    fn iterate(&self) -> BoxFuture<Option<Vec<String>>> {
        self.all_users()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dovecot_lines() {
        let text = "# comment\n\nalice:{PLAIN}pw:1000:1000:Alice A:/home/alice:/bin/sh:userdb_mail=maildir:~/M nologin\nbob:{SHA}x\ncarol::::::\nalice:dup\n";
        let u = parse_file(text, Path::new("f")).unwrap();
        let a = &u["alice"];
        assert_eq!(a.password.as_deref(), Some("{PLAIN}pw"));
        assert_eq!(a.uid, "1000");
        assert_eq!(a.home, "/home/alice");
        assert_eq!(a.extra, "userdb_mail=maildir:~/M nologin");
        assert_eq!(u["bob"].uid, "");
        assert_eq!(u["carol"].password, None);
        assert_eq!(u.len(), 3);
        assert_eq!(
            parse_file("denied\n", Path::new("f")).unwrap()["denied"].password,
            None
        );
        let e = parse_file("ok:x\n:nouser\n", Path::new("/etc/users")).unwrap_err();
        assert!(e.contains("/etc/users line 2"), "{e}");
    }

    #[test]
    fn args_are_checked() {
        assert!(PasswdFile::new("scheme=SHA512-CRYPT /x", "passdb").is_ok());
        assert!(matches!(
            PasswdFile::new("scheme=NOPE /x", "passdb"),
            Err(DbError::BadArgs { .. })
        ));
        assert!(matches!(
            PasswdFile::new("scheme=PLAIN", "passdb"),
            Err(DbError::BadArgs { .. })
        ));
    }

    #[tokio::test]
    async fn per_domain_path_and_username_format() {
        let dir = std::env::temp_dir().join(format!("roost-pwf-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("example.org")).unwrap();
        std::fs::write(
            dir.join("example.org/passwd"),
            "bob:{PLAIN}pw:1001:1002::/home/bob::userdb_quota_rule=*:storage=1G\n",
        )
        .unwrap();
        let db = PasswdFile::new(
            &format!("username_format=%n {}/%d/passwd", dir.display()),
            "passdb",
        )
        .unwrap();
        let r = Passdb::lookup(&db, Arc::new(Vars::new("bob@example.org"))).await;
        let PassLookup::Found { password, fields } = r else {
            panic!("{r:?}")
        };
        assert_eq!(password.as_deref(), Some("{PLAIN}pw"));
        assert_eq!(fields.get("userdb_uid"), Some("1001"));
        assert_eq!(fields.get("userdb_quota_rule"), Some("*:storage=1G"));
        assert_eq!(
            Passdb::lookup(&db, Arc::new(Vars::new("bob@other.org"))).await,
            PassLookup::NotFound
        );
        let u = Userdb::lookup(&db, Arc::new(Vars::new("bob@example.org"))).await;
        let UserLookupRaw::Found(f) = u else { panic!() };
        assert_eq!(f.get("gid"), Some("1002"));
        assert_eq!(f.get("quota_rule"), Some("*:storage=1G"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
