//! ARCHITECTURE.md's rule, checked: a module of `runtime/src` (and `macros/src`) uses what is below
//! it and its own children, never a sibling that uses it back. The graph is read from the source
//! text: an edge for every `crate::…` and `super::…` path (use trees included) to the file that
//! defines the module it names, leaving out unit tests (`#[cfg(test)] mod tests`) and edges between
//! a module and its own ancestors; a cycle is a group of two or more files that reach each other.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module, as the path of its file below `src/` without `.rs`, `mod`, `lib` (`["config",
/// "model"]`; the crate root is `[]`).
type Module = Vec<String>;

fn modules(src: &Path) -> BTreeMap<Module, PathBuf> {
    let mut out = BTreeMap::new();
    let mut dirs = vec![src.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("a source folder").map(|e| e.expect("an entry").path()) {
            if entry.is_dir() {
                dirs.push(entry);
            } else if entry.extension().is_some_and(|e| e == "rs") {
                let relative = entry.strip_prefix(src).expect("below src").with_extension("");
                let mut module: Module =
                    relative.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
                if module.last().is_some_and(|last| ["mod", "lib", "main"].contains(&last.as_str())) {
                    module.pop();
                }
                out.insert(module, entry);
            }
        }
    }
    out
}

/// The source without comments and without its unit tests.
fn code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).expect("a source file");
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(i) = rest.find("/*") {
        out.push_str(&rest[..i]);
        rest = rest[i..].find("*/").map_or("", |j| &rest[i + j + 2..]);
    }
    out.push_str(rest);
    let out: String = out.lines().map(|l| l.split("//").next().unwrap_or("")).collect::<Vec<_>>().join("\n");
    match out.find("#[cfg(test)]\nmod tests") {
        Some(cut) => out[..cut].to_owned(),
        None => out,
    }
}

fn ident(s: &str) -> String {
    s.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect()
}

/// The modules a `crate` or `super` path names, read from its `::…` tail `text` below `base`: one
/// for `a::b`, one per leaf for a use group `a::{b, c::{d, e}}`.
fn paths(text: &str, mut base: Module) -> Vec<Module> {
    let mut rest = text;
    loop {
        let Some(after) = rest.strip_prefix("::") else { return vec![base] };
        let after = after.trim_start();
        if after.starts_with('{') {
            let inner = &after[1..group_end(after)];
            return split_top(inner)
                .into_iter()
                .flat_map(|item| {
                    let item = item.trim();
                    let name = ident(item);
                    if name.is_empty() || name == "self" {
                        return vec![base.clone()];
                    }
                    let mut next = base.clone();
                    next.push(name.clone());
                    paths(&item[name.len()..], next)
                })
                .collect();
        }
        let name = ident(after);
        if name.is_empty() {
            return vec![base];
        }
        if name == "super" {
            base.pop();
        } else {
            base.push(name.clone());
        }
        rest = &after[name.len()..];
    }
}

/// The index of the `}` closing the group that `s` starts with.
fn group_end(s: &str) -> usize {
    let mut depth = 0;
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return i;
                }
            }
            _ => {}
        }
    }
    s.len()
}

/// The items of a use group, split at its top-level commas.
fn split_top(s: &str) -> Vec<&str> {
    let (mut out, mut depth, mut from) = (Vec::new(), 0, 0);
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[from..i]);
                from = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[from..]);
    out
}

/// The edges of the module graph: each file to the files it names.
fn edges(src: &Path) -> BTreeMap<Module, BTreeSet<Module>> {
    let modules = modules(src);
    let resolve = |path: &Module| -> Option<Module> {
        (0..=path.len()).rev().map(|n| path[..n].to_vec()).find(|prefix| modules.contains_key(prefix))
    };
    let mut edges: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    for (module, file) in &modules {
        let text = code(file);
        let mut targets = Vec::new();
        for (keyword, base) in
            [("crate", Vec::new()), ("super", module[..module.len().saturating_sub(1)].to_vec())]
        {
            let mut from = 0;
            while let Some(i) = text[from..].find(keyword) {
                let at = from + i;
                from = at + keyword.len();
                let before = text[..at].chars().next_back();
                if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                    continue;
                }
                targets.extend(paths(&text[from..], base.clone()));
            }
        }
        let mine = edges.entry(module.clone()).or_default();
        for target in targets.iter().filter_map(&resolve) {
            // The crate root, the module itself, its ancestors and its descendants do not count.
            let related = target.is_empty() || target.starts_with(module) || module.starts_with(&target);
            if !related {
                mine.insert(target);
            }
        }
    }
    edges
}

/// The groups of two or more modules that reach each other (Tarjan's strongly connected components).
fn cycles(edges: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<Vec<Module>> {
    struct Walk<'a> {
        edges: &'a BTreeMap<Module, BTreeSet<Module>>,
        index: BTreeMap<&'a Module, (usize, usize)>,
        stack: Vec<&'a Module>,
        found: Vec<Vec<Module>>,
    }
    fn visit<'a>(w: &mut Walk<'a>, v: &'a Module) {
        let n = w.index.len();
        w.index.insert(v, (n, n));
        w.stack.push(v);
        for t in w.edges.get(v).into_iter().flatten() {
            match w.index.get(t).copied() {
                None => {
                    visit(w, t);
                    let low = w.index[t].1.min(w.index[v].1);
                    w.index.get_mut(v).expect("visited").1 = low;
                }
                Some((ti, _)) if w.stack.contains(&t) => {
                    let low = ti.min(w.index[v].1);
                    w.index.get_mut(v).expect("visited").1 = low;
                }
                Some(_) => {}
            }
        }
        if w.index[v].0 == w.index[v].1 {
            let at = w.stack.iter().position(|m| *m == v).expect("on the stack");
            let group: Vec<Module> = w.stack.drain(at..).cloned().collect();
            if group.len() > 1 {
                w.found.push(group);
            }
        }
    }
    let mut walk = Walk { edges, index: BTreeMap::new(), stack: Vec::new(), found: Vec::new() };
    for v in edges.keys() {
        if !walk.index.contains_key(v) {
            visit(&mut walk, v);
        }
    }
    walk.found
}

fn src(krate: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(krate).join("src")
}

#[test]
fn the_runtime_and_the_macros_have_no_module_cycles() {
    for krate in ["runtime", "macros"] {
        let found = cycles(&edges(&src(krate)));
        assert!(found.is_empty(), "{krate}/src has module cycles (ARCHITECTURE.md, The rule): {found:?}");
    }
}

#[test]
fn the_check_finds_a_cycle_and_reads_use_groups() {
    let dir = std::env::temp_dir().join(format!("module-graph-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("a")).expect("a folder");
    std::fs::write(dir.join("lib.rs"), "mod a; mod b;").expect("lib.rs");
    std::fs::write(dir.join("a/mod.rs"), "use crate::{b::{self, Thing}, c};\nmod inner;").expect("a");
    std::fs::write(dir.join("a/inner.rs"), "use super::super::c::X;").expect("inner");
    std::fs::write(dir.join("b.rs"), "// crate::c is only a comment\nuse super::a::Thing as _;").expect("b");
    std::fs::write(dir.join("c.rs"), "pub struct X;").expect("c");
    let edges = edges(&dir);
    let m = |s: &[&str]| s.iter().map(|p| (*p).to_owned()).collect::<Module>();
    assert_eq!(edges[&m(&["a"])], [m(&["b"]), m(&["c"])].into_iter().collect());
    assert_eq!(edges[&m(&["a", "inner"])], [m(&["c"])].into_iter().collect());
    assert_eq!(edges[&m(&["b"])], [m(&["a"])].into_iter().collect());
    let found = cycles(&edges);
    std::fs::remove_dir_all(&dir).expect("cleaned up");
    let mut group = found.first().cloned().unwrap_or_default();
    group.sort();
    assert_eq!((found.len(), group), (1, vec![m(&["a"]), m(&["b"])]), "a and b use each other: {found:?}");
}
