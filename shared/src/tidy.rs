//! Checks of the crate's structure, run by `cargo test`: the top-level modules import each other
//! without cycles (so the crate reads bottom-up), and the invariants ARCHITECTURE.md states hold
//! (which modules may name the AWS SDK, bollard, sqlx and smb2; `model` does no I/O).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A source file: its path under `src/`, its top-level module and its non-test code.
struct Source {
    path: String,
    module: String,
    code: String,
}

fn sources() -> Vec<Source> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    collect(&root, &mut files);
    files
        .into_iter()
        .filter_map(|file| {
            let path = file.strip_prefix(&root).expect("under src").to_string_lossy().replace('\\', "/");
            let module = path.split('/').next().expect("a first component").trim_end_matches(".rs").to_string();
            let text = std::fs::read_to_string(&file).expect("a readable source file");
            let is_test_file = path.ends_with("/tests.rs") || module == "tidy" || module == "lib" || module == "fake";
            (!is_test_file).then(|| Source { path, module, code: without_tests(&text) })
        })
        .collect()
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("a readable directory") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            collect(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}

/// The code without comments and without the `#[cfg(test)]` module at the end of a file.
fn without_tests(text: &str) -> String {
    let code = match text.find("#[cfg(test)]\nmod tests {") {
        Some(at) => &text[..at],
        None => text,
    };
    code.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n")
}

/// The crate's top-level modules a file names (`crate::x`, or `super::x` from a top-level file).
fn references(source: &Source) -> BTreeSet<String> {
    let top_level = !source.path.contains('/') || source.path.ends_with("/mod.rs");
    let mut names = BTreeSet::new();
    for (prefix, applies) in [("crate::", true), ("super::", top_level)] {
        if !applies {
            continue;
        }
        for (at, _) in source.code.match_indices(prefix) {
            let rest = &source.code[at + prefix.len()..];
            let preceded_by_ident = source.code[..at].chars().last().is_some_and(|c| c.is_alphanumeric() || c == '_');
            if preceded_by_ident {
                continue;
            }
            let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            if !name.is_empty() && name != source.module {
                names.insert(name);
            }
        }
    }
    names
}

fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for source in sources() {
        let refs = references(&source);
        graph.entry(source.module.clone()).or_default().extend(refs);
    }
    graph
}

/// A cycle of the graph, if it has one (depth-first search).
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|n| n == node) {
            let mut cycle = path[start..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph.keys().find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

#[test]
fn the_top_level_modules_import_each_other_without_cycles() {
    let graph = module_graph();
    assert!(graph.len() > 10, "the scan found the crate's modules: {:?}", graph.keys());
    if let Some(cycle) = find_cycle(&graph) {
        panic!("module cycle: {}", cycle.join(" -> "));
    }
}

#[test]
fn the_cycle_check_finds_a_cycle() {
    let graph: BTreeMap<String, BTreeSet<String>> = [
        ("a".to_string(), BTreeSet::from(["b".to_string()])),
        ("b".to_string(), BTreeSet::from(["c".to_string()])),
        ("c".to_string(), BTreeSet::from(["a".to_string()])),
    ]
    .into();
    assert_eq!(find_cycle(&graph).unwrap(), ["a", "b", "c", "a"]);
    let dag: BTreeMap<String, BTreeSet<String>> =
        [("a".to_string(), BTreeSet::from(["b".to_string()])), ("b".to_string(), BTreeSet::new())].into();
    assert_eq!(find_cycle(&dag), None);
}

/// The files whose code names `needle`.
fn naming(needle: &str) -> Vec<String> {
    sources().into_iter().filter(|s| s.code.contains(needle)).map(|s| s.path).collect()
}

/// Files outside `allowed` (path prefixes under `src/`) whose code names `needle`.
fn offenders(needle: &str, allowed: &[&str]) -> Vec<String> {
    naming(needle).into_iter().filter(|p| !allowed.iter().any(|a| p.starts_with(a))).collect()
}

#[test]
fn only_the_adapters_import_the_sdk_bollard_and_sqlx() {
    for needle in ["aws_sdk_", "aws_config::", "aws_smithy_"] {
        assert_eq!(offenders(needle, &["aws/"]), Vec::<String>::new(), "{needle} outside shared::aws");
    }
    assert_eq!(offenders("bollard", &["docker_engine.rs"]), Vec::<String>::new(), "bollard outside docker_engine");
    assert_eq!(offenders("sqlx", &["sql/driver.rs"]), Vec::<String>::new(), "sqlx outside sql::driver");
    assert_eq!(offenders("smb2", &["smb.rs"]), Vec::<String>::new(), "smb2 outside smb");
}

#[test]
fn model_does_no_io_and_imports_only_itself() {
    let graph = module_graph();
    assert_eq!(graph["model"], BTreeSet::new(), "model imports other modules of the crate");
    for needle in ["std::fs", "std::net", "std::process", "std::env", "tokio", "async fn", "hyper"] {
        let in_model: Vec<String> = naming(needle).into_iter().filter(|p| p.starts_with("model/")).collect();
        assert_eq!(in_model, Vec::<String>::new(), "{needle} in model");
    }
}

#[test]
fn the_model_files_import_each_other_without_cycles() {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for source in sources().into_iter().filter(|s| s.path.starts_with("model/") && !s.path.ends_with("mod.rs")) {
        let file = source.path.trim_start_matches("model/").trim_end_matches(".rs").to_string();
        let refs = source
            .code
            .match_indices("super::")
            .map(|(at, _)| source.code[at + 7..].chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect())
            .filter(|name: &String| !name.is_empty() && *name != file)
            .collect();
        graph.insert(file, refs);
    }
    assert!(graph.contains_key("job") && graph.contains_key("action"), "the scan found model's files");
    if let Some(cycle) = find_cycle(&graph) {
        panic!("cycle among model's files: {}", cycle.join(" -> "));
    }
}

#[test]
fn the_python_package_has_the_workspace_version() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().join("python");
    let version = env!("CARGO_PKG_VERSION");
    let module = std::fs::read_to_string(root.join("lava/version.py")).unwrap();
    assert!(
        module.contains(&format!("__version__ = \"{version}\"")),
        "python/lava/version.py says another version than {version}"
    );
    let project = std::fs::read_to_string(root.join("pyproject.toml")).unwrap();
    assert!(
        project.contains(&format!("version = \"{version}\"")),
        "python/pyproject.toml says another version than {version}"
    );
}
