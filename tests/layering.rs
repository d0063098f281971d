//! The layering rules of `../shared/design.md`, checked on the source text: no file under
//! `src/master` names `src/service` (or the reverse); both meet only in `src/runtime`; and no
//! file in `src/` is part of an import loop.
//!
//! An edge A → B exists when file A names a path that resolves into file B: `crate::…`,
//! `super::…`, `self::…` paths (in `use` and in code) and paths that start with a child module
//! of A's module (`pub use pool::WorkerPool` in a `mod.rs`). `mod x;` declarations are not
//! edges, comments and string literals are ignored, and a path resolves to the deepest module
//! file it names (`crate::master::Hub` is `src/master/mod.rs`, which re-exports it).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Module = Vec<String>;

struct Tree {
    /// module path → file
    files: BTreeMap<Module, PathBuf>,
    /// module → (name it re-exports → absolute path of the item), from `pub use`.
    reexports: BTreeMap<Module, BTreeMap<String, Vec<String>>>,
    /// module → its text with `pub use` statements blanked (they are pass-throughs, not uses).
    texts: BTreeMap<Module, String>,
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            collect(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

fn module_of(src: &Path, file: &Path) -> Module {
    let rel = file.strip_prefix(src).unwrap();
    let mut parts: Vec<String> = rel
        .iter()
        .map(|c| c.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().unwrap();
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" && stem != "lib" {
        parts.push(stem.to_string());
    }
    parts
}

/// Source text with comments and string/char literal contents blanked.
fn strip(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i..].starts_with(b"//") {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i..].starts_with(b"/*") {
            let mut depth = 0;
            while i < b.len() {
                if b[i..].starts_with(b"/*") {
                    depth += 1;
                    i += 2;
                } else if b[i..].starts_with(b"*/") {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if b[i] == b'r' && (b.get(i + 1) == Some(&b'"') || b.get(i + 1) == Some(&b'#')) {
            // raw string r"…" / r#"…"#
            let mut j = i + 1;
            let mut hashes = 0;
            while b.get(j) == Some(&b'#') {
                hashes += 1;
                j += 1;
            }
            if b.get(j) != Some(&b'"') {
                out.push('r');
                i += 1;
                continue;
            }
            j += 1;
            let close: Vec<u8> = std::iter::once(b'"')
                .chain(std::iter::repeat_n(b'#', hashes))
                .collect();
            while j < b.len() && !b[j..].starts_with(&close) {
                j += 1;
            }
            i = j + close.len();
            out.push_str("\"\"");
        } else if b[i] == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            out.push_str("\"\"");
        } else if b[i] == b'\'' && b.get(i + 2) == Some(&b'\'') {
            i += 3;
            out.push_str("' '");
        } else if b[i] == b'\'' && b.get(i + 1) == Some(&b'\\') {
            i += 2;
            while i < b.len() && b[i] != b'\'' {
                i += 1;
            }
            i += 1;
            out.push_str("' '");
        } else {
            let ch = text[i..].chars().next().unwrap();
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// Every path at `i` (which starts an identifier): `a::b::{c, d::e}` → [a,b,c], [a,b,d,e].
fn parse_path(b: &[u8], mut i: usize) -> Vec<Vec<String>> {
    let mut segs = Vec::new();
    loop {
        let start = i;
        while i < b.len() && is_ident(b[i]) {
            i += 1;
        }
        if start == i {
            break;
        }
        segs.push(String::from_utf8_lossy(&b[start..i]).into_owned());
        let mut j = i;
        while j < b.len() && b[j].is_ascii_whitespace() {
            j += 1;
        }
        if !b[j..].starts_with(b"::") {
            break;
        }
        j += 2;
        while j < b.len() && b[j].is_ascii_whitespace() {
            j += 1;
        }
        if b.get(j) == Some(&b'{') {
            let mut out = Vec::new();
            let mut k = j + 1;
            loop {
                while k < b.len() && (b[k].is_ascii_whitespace() || b[k] == b',') {
                    k += 1;
                }
                if k >= b.len() || b[k] == b'}' {
                    break;
                }
                if is_ident(b[k]) {
                    for tail in parse_path(b, k) {
                        let mut p = segs.clone();
                        p.extend(tail);
                        out.push(p);
                    }
                }
                // skip to the next top-level comma of this group
                let mut depth = 0;
                while k < b.len() {
                    match b[k] {
                        b'{' => depth += 1,
                        b'}' if depth == 0 => break,
                        b'}' => depth -= 1,
                        b',' if depth == 0 => break,
                        _ => {}
                    }
                    k += 1;
                }
            }
            if out.is_empty() {
                out.push(segs);
            }
            return out;
        }
        if b.get(j) == Some(&b'*') {
            break;
        }
        i = j;
    }
    vec![segs]
}

impl Tree {
    fn load(src: &Path) -> Tree {
        let mut paths = Vec::new();
        collect(src, &mut paths);
        let files: BTreeMap<Module, PathBuf> = paths
            .into_iter()
            .filter(|p| p.file_name().unwrap() != "main.rs")
            .map(|p| (module_of(src, &p), p))
            .collect();
        let mut t = Tree {
            files,
            reexports: BTreeMap::new(),
            texts: BTreeMap::new(),
        };
        for (module, file) in &t.files {
            let text = strip(&std::fs::read_to_string(file).unwrap());
            let children = t.children(module);
            let (rest, exports) = take_reexports(&text);
            let mut map = BTreeMap::new();
            for (name, path) in exports {
                if let Some(abs) = absolute(module, &children, &path) {
                    map.insert(name, abs);
                }
            }
            t.reexports.insert(module.clone(), map);
            t.texts.insert(module.clone(), rest);
        }
        t
    }

    fn children(&self, module: &Module) -> BTreeSet<String> {
        self.files
            .keys()
            .filter(|k| k.len() == module.len() + 1 && k.starts_with(module))
            .map(|k| k.last().unwrap().clone())
            .collect()
    }

    /// The file that defines what `path` (absolute segments) names: the deepest module file
    /// it lands in, following that module's `pub use` re-exports of the next segment.
    fn resolve(&self, path: &[String]) -> Option<&Module> {
        self.resolve_depth(path, 0)
    }

    fn resolve_depth(&self, path: &[String], depth: usize) -> Option<&Module> {
        let n = (1..=path.len())
            .rev()
            .find(|n| self.files.contains_key(&path[..*n]))?;
        let module = self.files.get_key_value(&path[..n]).map(|(k, _)| k)?;
        if depth < 8 {
            if let Some(item) = path.get(n) {
                if let Some(target) = self.reexports.get(module).and_then(|m| m.get(item)) {
                    let mut next = target.clone();
                    next.extend_from_slice(&path[n + 1..]);
                    if let Some(m) = self.resolve_depth(&next, depth + 1) {
                        return Some(m);
                    }
                }
            }
        }
        Some(module)
    }

    fn edges(&self) -> BTreeMap<Module, BTreeSet<Module>> {
        let mut all = BTreeMap::new();
        for module in self.files.keys() {
            let text = &self.texts[module];
            let b = text.as_bytes();
            let children = self.children(module);
            let mut targets = BTreeSet::new();
            // Inline `mod name { … }` blocks shift what `super::` and `self::` mean.
            let mut inline: Vec<(usize, String)> = Vec::new();
            let mut depth = 0usize;
            let mut pending_mod: Option<String> = None;
            let mut i = 0;
            while i < b.len() {
                if b[i] == b'{' {
                    depth += 1;
                    if let Some(name) = pending_mod.take() {
                        inline.push((depth, name));
                    }
                    i += 1;
                } else if b[i] == b'}' {
                    if inline.last().is_some_and(|(d, _)| *d == depth) {
                        inline.pop();
                    }
                    depth = depth.saturating_sub(1);
                    i += 1;
                } else if b[i] == b';' {
                    pending_mod = None;
                    i += 1;
                } else if is_ident(b[i]) && (i == 0 || !(is_ident(b[i - 1]) || b[i - 1] == b':')) {
                    let mut end = i;
                    while end < b.len() && is_ident(b[end]) {
                        end += 1;
                    }
                    let rest = text[end..].trim_start();
                    if &text[i..end] == "mod" {
                        let name: String = rest
                            .bytes()
                            .take_while(|c| is_ident(*c))
                            .map(char::from)
                            .collect();
                        pending_mod = Some(name);
                    } else if rest.starts_with("::") {
                        let mut here = module.clone();
                        here.extend(inline.iter().map(|(_, n)| n.clone()));
                        let kids = if inline.is_empty() {
                            children.clone()
                        } else {
                            BTreeSet::new()
                        };
                        for p in parse_path(b, i) {
                            if let Some(abs) = absolute(&here, &kids, &p) {
                                if let Some(t) = self.resolve(&abs) {
                                    if t != module {
                                        targets.insert(t.clone());
                                    }
                                }
                            }
                        }
                    }
                    i = end;
                } else {
                    i += 1;
                }
            }
            all.insert(module.clone(), targets);
        }
        all
    }
}

/// Splits `pub use …;` / `pub(crate) use …;` statements out of `text`: the text without them,
/// and each re-exported name (its `as` alias if any) with the path it names.
fn take_reexports(text: &str) -> (String, Vec<(String, Vec<String>)>) {
    let mut rest = String::with_capacity(text.len());
    let mut out = Vec::new();
    let mut pos = 0;
    while let Some(off) = text[pos..].find("pub") {
        let at = pos + off;
        let before_ok = at == 0 || !is_ident(text.as_bytes()[at - 1]);
        let mut after = text[at + 3..].trim_start();
        if after.starts_with('(') {
            after = after
                .split_once(')')
                .map(|x| x.1)
                .unwrap_or("")
                .trim_start();
        }
        if !before_ok || !after.starts_with("use ") {
            rest.push_str(&text[pos..at + 3]);
            pos = at + 3;
            continue;
        }
        let body_start = text.len() - after.len() + 4;
        let end = text[body_start..]
            .find(';')
            .map(|e| body_start + e)
            .unwrap_or(text.len());
        let body = &text[body_start..end];
        // `a::b::{C, D as E}`: aliases are dropped from the path and kept as names.
        let mut aliases = Vec::new();
        let mut plain = String::new();
        let mut words = body.split_whitespace().peekable();
        while let Some(w) = words.next() {
            if words.peek() == Some(&"as") {
                words.next();
                let alias = words.next().unwrap_or("").trim_end_matches([',', '}']);
                aliases.push((w.trim_end_matches(',').to_string(), alias.to_string()));
                plain.push_str(w.trim_end_matches(','));
                plain.push_str(", ");
                if let Some(rest) = words.peek() {
                    let _ = rest;
                }
            } else {
                plain.push_str(w);
                plain.push(' ');
            }
        }
        let trimmed = plain.trim_start();
        for p in parse_path(trimmed.as_bytes(), 0) {
            let last = p.last().cloned().unwrap_or_default();
            let name = aliases
                .iter()
                .find(|(from, _)| *from == last || from.ends_with(&format!("::{last}")))
                .map(|(_, to)| to.clone())
                .unwrap_or(last);
            out.push((name, p));
        }
        rest.push_str(&text[pos..at]);
        pos = end;
    }
    rest.push_str(&text[pos..]);
    (rest, out)
}

/// Turns a path as written in `module` into absolute segments.
fn absolute(module: &Module, children: &BTreeSet<String>, p: &[String]) -> Option<Vec<String>> {
    let first = p.first()?;
    match first.as_str() {
        "crate" => Some(p[1..].to_vec()),
        "self" => {
            let mut m = module.clone();
            m.extend_from_slice(&p[1..]);
            Some(m)
        }
        "super" => {
            let mut m = module.clone();
            let mut rest = p;
            while rest.first().map(|s| s.as_str()) == Some("super") {
                m.pop()?;
                rest = &rest[1..];
            }
            m.extend_from_slice(rest);
            Some(m)
        }
        w if children.contains(w) => {
            let mut m = module.clone();
            m.extend_from_slice(p);
            Some(m)
        }
        _ => None,
    }
}

/// Strongly connected components with more than one file (Tarjan).
fn loops(edges: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<Vec<Module>> {
    struct St<'a> {
        edges: &'a BTreeMap<Module, BTreeSet<Module>>,
        index: BTreeMap<&'a Module, usize>,
        low: BTreeMap<&'a Module, usize>,
        stack: Vec<&'a Module>,
        on: BTreeSet<&'a Module>,
        next: usize,
        out: Vec<Vec<Module>>,
    }
    fn visit<'a>(s: &mut St<'a>, v: &'a Module) {
        s.index.insert(v, s.next);
        s.low.insert(v, s.next);
        s.next += 1;
        s.stack.push(v);
        s.on.insert(v);
        for w in s.edges.get(v).into_iter().flatten() {
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if s.on.contains(w) {
                let iw = s.index[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut comp = Vec::new();
            loop {
                let w = s.stack.pop().unwrap();
                s.on.remove(w);
                comp.push(w.clone());
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                comp.sort();
                s.out.push(comp);
            }
        }
    }
    let mut s = St {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in edges.keys() {
        if !s.index.contains_key(v) {
            visit(&mut s, v);
        }
    }
    s.out
}

fn tree() -> (Tree, BTreeMap<Module, BTreeSet<Module>>) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let t = Tree::load(&src);
    let e = t.edges();
    (t, e)
}

fn show(m: &Module) -> String {
    format!("crate::{}", m.join("::"))
}

#[test]
fn no_file_in_src_is_part_of_an_import_loop() {
    let (_, edges) = tree();
    let found = loops(&edges);
    let text: Vec<String> = found
        .iter()
        .map(|c| {
            let inner: Vec<String> = c
                .iter()
                .flat_map(|from| {
                    edges[from]
                        .iter()
                        .filter(|to| c.contains(to))
                        .map(move |to| format!("    {} -> {}", show(from), show(to)))
                })
                .collect();
            format!(
                "{}\n{}",
                c.iter().map(show).collect::<Vec<_>>().join(" <-> "),
                inner.join("\n")
            )
        })
        .collect();
    assert!(found.is_empty(), "import loops:\n{}", text.join("\n"));
}

#[test]
fn master_and_services_meet_only_in_the_runtime() {
    let (_, edges) = tree();
    let mut bad = Vec::new();
    for (from, tos) in &edges {
        for to in tos {
            let (f, t) = (
                from.first().map(String::as_str),
                to.first().map(String::as_str),
            );
            if (f == Some("master") && t == Some("service"))
                || (f == Some("service") && t == Some("master"))
            {
                bad.push(format!("{} -> {}", show(from), show(to)));
            }
        }
    }
    assert!(bad.is_empty(), "forbidden imports:\n{}", bad.join("\n"));
}

#[test]
fn the_checker_sees_edges_and_loops() {
    // The checker itself: a known edge is found, and a made-up loop is reported.
    let (_, edges) = tree();
    let settings = vec!["settings".to_string()];
    assert!(
        edges.values().any(|tos| tos.contains(&settings)),
        "nothing imports crate::settings?"
    );
    let a = vec!["a".to_string()];
    let b = vec!["b".to_string()];
    let fake = BTreeMap::from([
        (a.clone(), BTreeSet::from([b.clone()])),
        (b.clone(), BTreeSet::from([a.clone()])),
    ]);
    assert_eq!(loops(&fake), vec![vec![a, b]]);
    let paths = parse_path(b"crate::x::{y, z::{w, v}}".as_slice(), 0);
    assert_eq!(paths.len(), 3);
    assert_eq!(paths[2], ["crate", "x", "z", "v"]);
}
