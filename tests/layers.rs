//! The house plan holds (docs/architecture.md, "Layers"): imports point
//! down only, no two modules import each other (directly or round a
//! cycle), and nothing below the edges names the gRPC stack or its
//! generated types. Read off the source itself, so a change that breaks
//! the plan fails the build.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Each top-level module's layer: edges 3, ops 2, domain 1, base 0.
/// Within the domain, the order the plan gives (a module may use those
/// before it): keys, jose, credential, access, daemon.
fn rank(module: &str) -> Option<(u8, u8)> {
    Some(match module {
        "cli" | "service" | "client" | "metrics" | "proxy" | "credsock" => (3, 0),
        "ops" => (2, 0),
        "keys" => (1, 0),
        "net" => (1, 1),
        "jose" | "httpsig" => (1, 2),
        "credential" => (1, 3),
        "oauth" => (1, 4),
        "access" => (1, 5),
        "daemon" => (1, 6),
        "config" | "sys" => (0, 0),
        "secret" => (0, 1),
        "source" => (0, 2),
        _ => return None,
    })
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level modules a source text names through `crate::`, comment
/// lines left out.
fn references(text: &str) -> BTreeSet<String> {
    let mut refs = BTreeSet::new();
    for line in text.lines() {
        let code = line.trim_start();
        if code.starts_with("//") {
            continue;
        }
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                // `use crate::{a, b::c}`: each first-level name.
                let end = group.find('}').unwrap_or(group.len());
                for item in group[..end].split(',') {
                    let name: String = item
                        .trim()
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    if !name.is_empty() {
                        refs.insert(name);
                    }
                }
            } else {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    refs.insert(name);
                }
            }
        }
    }
    refs
}

/// Whether `code` has `word` starting at an identifier boundary
/// (`monotonic_usec` does not name tonic).
fn names(code: &str, word: &str) -> bool {
    code.match_indices(word).any(|(at, _)| {
        code[..at]
            .chars()
            .next_back()
            .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_'))
    })
}

fn top_module(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel.components().next()?.as_os_str().to_string_lossy();
    let name = first.trim_end_matches(".rs").to_owned();
    (name != "lib" && name != "main").then_some(name)
}

#[test]
fn imports_point_down_and_nothing_below_the_edge_names_grpc() {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut problems = Vec::new();
    for file in &files {
        let Some(module) = top_module(&src, file) else {
            continue;
        };
        let Some(own) = rank(&module) else {
            problems.push(format!(
                "{}: module `{module}` has no place in the layer plan (add it to this test \
                 and to docs/architecture.md)",
                file.display()
            ));
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        if own.0 < 3 {
            for (n, line) in text.lines().enumerate() {
                let code = line.trim_start();
                if code.starts_with("//") {
                    continue;
                }
                if ["tonic", "prost", "pb::", "crate::service"]
                    .iter()
                    .any(|name| names(code, name))
                {
                    problems.push(format!(
                        "{}:{}: below the edges, but names the gRPC stack: {code}",
                        file.display(),
                        n + 1
                    ));
                }
            }
        }
        for target in references(&text) {
            if target == module {
                continue;
            }
            // Items of the crate root (`crate::now_unix`) belong to no layer.
            let Some(theirs) = rank(&target) else {
                continue;
            };
            if theirs > own {
                problems.push(format!(
                    "{}: `{module}` (layer {own:?}) imports `{target}` (layer {theirs:?}), \
                     which is above it",
                    file.display()
                ));
            }
            graph.entry(module.clone()).or_default().insert(target);
        }
    }
    // No cycles between top-level modules.
    fn visit(
        m: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
        cycles: &mut Vec<String>,
    ) {
        if let Some(at) = path.iter().position(|p| p == m) {
            cycles.push(format!("{} -> {m}", path[at..].join(" -> ")));
            return;
        }
        if !done.insert(m.to_owned()) {
            return;
        }
        path.push(m.to_owned());
        for next in graph.get(m).into_iter().flatten() {
            visit(next, graph, path, done, cycles);
        }
        path.pop();
    }
    let mut cycles = Vec::new();
    let mut done = BTreeSet::new();
    for m in graph.keys() {
        visit(m, &graph, &mut Vec::new(), &mut done, &mut cycles);
    }
    problems.extend(cycles.into_iter().map(|c| format!("import cycle: {c}")));
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // The test reads what it should: the known edges of the plan exist.
    assert!(graph["service"].contains("ops"), "{graph:?}");
    assert!(graph["ops"].contains("credential"), "{graph:?}");
}

#[test]
fn the_reference_scanner_sees_grouped_and_nested_paths() {
    assert!(names("use tonic::Status;", "tonic"));
    assert!(names("x: pb::Credential", "pb::"));
    assert!(!names("NotifyState::monotonic_usec_now()", "tonic"));
    let refs = references(
        "use crate::{keys::KeyHandle, sys};\n// crate::service::pb in a comment\nlet x = crate::now_unix();",
    );
    assert_eq!(
        refs.into_iter().collect::<Vec<_>>(),
        ["keys", "now_unix", "sys"]
    );
}
