//! `dovecot-uidvalidity`: where a new mailbox gets its UIDVALIDITY, as Dovecot 2.3's
//! mailbox-uidvalidity.c keeps it in the mailbox-list root. The file holds the value handed
//! out last (8 hex digits, no newline, mode 0600), and an empty 0444 marker file
//! `dovecot-uidvalidity.<value>` is renamed to the next value by whoever takes it, so two
//! processes never take the same one. Without either file the first value is the current time.

use std::fs::{self, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

/// The file's name in the mailbox-list root.
pub const FILE: &str = "dovecot-uidvalidity";

/// Rename attempts before falling back to a rescan (Dovecot's RETRY_COUNT).
const RETRY_COUNT: usize = 10;

fn now() -> u32 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as u32)
        .unwrap_or(1)
        .max(1)
}

fn marker(path: &Path, v: u32) -> std::path::PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{v:08x}"));
    s.into()
}

/// Writes `v` over the start of the file (creating it 0600), as `mailbox_uidvalidity_write()`.
fn write(path: &Path, v: u32) {
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path);
    match f {
        Ok(f) => {
            if let Err(e) = f.write_all_at(format!("{v:08x}").as_bytes(), 0) {
                tracing::error!(path = %path.display(), error = %e, "write failed");
            }
        }
        Err(e) => tracing::error!(path = %path.display(), error = %e, "open failed"),
    }
}

/// Moves the marker from `*v` to the following value (retrying on a race); `*v` ends at the
/// value taken.
fn rename_marker(path: &Path, v: &mut u32) -> bool {
    for _ in 0..RETRY_COUNT {
        let src = marker(path, *v);
        *v = v.wrapping_add(1).max(1);
        match fs::rename(&src, marker(path, *v)) {
            Ok(()) => return true,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(_) => return false,
        }
    }
    false
}

/// Without a usable main file: the highest marker in the directory, or a new one.
fn rescan(path: &Path) -> u32 {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return now();
    };
    let prefix = format!("{}.", name.to_string_lossy());
    let mut values: Vec<u32> = fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| {
                    let n = e.file_name().into_string().ok()?;
                    u32::from_str_radix(n.strip_prefix(&prefix)?, 16).ok()
                })
                .collect()
        })
        .unwrap_or_default();
    values.sort_unstable();
    let Some(&max) = values.last() else {
        let v = now();
        let _ = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o444)
            .open(marker(path, v))
            .and_then(|mut f| f.flush());
        write(path, v);
        return v;
    };
    if values[0] != max {
        let _ = fs::remove_file(marker(path, values[0]));
    }
    let mut v = max;
    if !rename_marker(path, &mut v) {
        return now();
    }
    write(path, v);
    v
}

/// The next UIDVALIDITY for a mailbox created under `root` (Dovecot's
/// `mailbox_uidvalidity_next()`).
pub fn next(root: &Path) -> u32 {
    let path = root.join(FILE);
    let mut buf = [0u8; 8];
    let read = fs::File::open(&path).and_then(|mut f| {
        let mut n = 0;
        while n < buf.len() {
            match f.read(&mut buf[n..])? {
                0 => break,
                k => n += k,
            }
        }
        Ok(n)
    });
    let current = read.ok().and_then(|n| {
        let text = std::str::from_utf8(&buf[..n]).ok()?;
        u32::from_str_radix(text, 16).ok().filter(|&v| v != 0)
    });
    let Some(mut v) = current else {
        return rescan(&path);
    };
    if !rename_marker(&path, &mut v) {
        return rescan(&path);
    }
    write(&path, v);
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        fs::metadata(p).unwrap().permissions().mode() & 0o7777
    }

    /// The layout Dovecot 2.3.19.1 left after creating one mailbox: `dovecot-uidvalidity`
    /// 0600 holding the value taken, `dovecot-uidvalidity.<value>` 0444 and empty.
    #[test]
    fn first_value_and_files_look_like_dovecots() {
        let d = std::env::temp_dir().join(format!("roost-uidv-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        let v = next(&d);
        assert!(v >= now() - 5);
        let file = d.join(FILE);
        assert_eq!(fs::read_to_string(&file).unwrap(), format!("{v:08x}"));
        assert_eq!(mode(&file), 0o600);
        let m = marker(&file, v);
        assert_eq!(mode(&m), 0o444);
        assert_eq!(fs::metadata(&m).unwrap().len(), 0);

        // The next mailbox gets the next value; the marker follows.
        assert_eq!(next(&d), v + 1);
        assert!(!m.exists());
        assert!(marker(&file, v + 1).exists());
        assert_eq!(fs::read_to_string(&file).unwrap(), format!("{:08x}", v + 1));

        // A value Dovecot wrote is continued from, not replaced by the clock.
        fs::write(&file, "7fff0000").unwrap();
        fs::rename(marker(&file, v + 1), marker(&file, 0x7fff0000)).unwrap();
        assert_eq!(next(&d), 0x7fff0001);

        // A lost main file: the marker is enough.
        fs::remove_file(&file).unwrap();
        assert_eq!(next(&d), 0x7fff0002);
        assert_eq!(mode(&file), 0o600);
        fs::remove_dir_all(&d).unwrap();
    }
}
