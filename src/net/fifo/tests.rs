//! fifo listeners: mode, replacement, lines from writers that come and go, removal.

use std::io::Write;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::time::Duration;

use super::*;

fn spec(path: &Path, mode: u32) -> ListenerSpec {
    ListenerSpec {
        service: "anvil".into(),
        name: "login/anvil-fifo".into(),
        kind: ListenerKind::Fifo {
            path: path.to_path_buf(),
            mode,
            user: String::new(),
            group: String::new(),
        },
    }
}

fn tmp(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("roost-fifo-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[tokio::test]
async fn lines_from_successive_writers_arrive_without_eof() {
    let dir = tmp("lines");
    let path = dir.join("sub/test-fifo");
    let mut f = FifoListener::open(spec(&path, 0o620)).unwrap();
    let meta = std::fs::metadata(&path).unwrap();
    assert!(meta.file_type().is_fifo());
    assert_eq!(meta.permissions().mode() & 0o777, 0o620);
    for (i, text) in ["first\nsec", "ond\r\nthird\n"].iter().enumerate() {
        // Each writer opens, writes and closes: the reader must not see EOF in between.
        let p = path.clone();
        let text = text.to_string();
        tokio::task::spawn_blocking(move || {
            let mut w = std::fs::OpenOptions::new().write(true).open(p).unwrap();
            w.write_all(text.as_bytes()).unwrap();
        })
        .await
        .unwrap();
        if i == 0 {
            let l = tokio::time::timeout(Duration::from_secs(5), f.next_line()).await;
            assert_eq!(l.unwrap().unwrap(), "first");
        }
    }
    for want in ["second", "third"] {
        let l = tokio::time::timeout(Duration::from_secs(5), f.next_line()).await;
        assert_eq!(l.unwrap().unwrap(), want);
    }
    drop(f);
    assert!(!path.exists(), "fifo removed on drop");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn an_existing_file_is_replaced_and_spawn_delivers_lines() {
    let dir = tmp("replace");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("f");
    std::fs::write(&path, b"stale regular file").unwrap();
    let f = FifoListener::open(spec(&path, 0o600)).unwrap();
    assert!(std::fs::metadata(&path).unwrap().file_type().is_fifo());
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let task = f.spawn(move |listener, line| {
        tx.send((listener.to_string(), line)).unwrap();
    });
    let p = path.clone();
    tokio::task::spawn_blocking(move || {
        let mut w = std::fs::OpenOptions::new().write(true).open(p).unwrap();
        w.write_all(b"KILL 42\n").unwrap();
    })
    .await
    .unwrap();
    let got = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got, ("anvil-fifo".to_string(), "KILL 42".to_string()));
    task.abort();
    let _ = task.await;
    assert!(!path.exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn over_long_lines_are_dropped_and_the_next_line_survives() {
    let dir = tmp("long");
    let path = dir.join("f");
    let mut f = FifoListener::open(spec(&path, 0o600)).unwrap();
    let p = path.clone();
    let writer = tokio::task::spawn_blocking(move || {
        let mut w = std::fs::OpenOptions::new().write(true).open(p).unwrap();
        w.write_all(&vec![b'x'; MAX_LINE * 2]).unwrap();
        w.write_all(b"\nok\n").unwrap();
    });
    let l = tokio::time::timeout(Duration::from_secs(5), f.next_line()).await;
    assert_eq!(l.unwrap().unwrap(), "ok");
    writer.await.unwrap();
    drop(f);
    std::fs::remove_dir_all(&dir).unwrap();
}
