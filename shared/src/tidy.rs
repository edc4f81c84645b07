//! Checks of the workspace's structure, run by `cargo test`, for what the compiler does not
//! keep: the top-level modules of each crate import each other without cycles (so a crate
//! reads bottom-up), only the adapters name the AWS SDK, bollard, sqlx and smb, `lava-model` does
//! no I/O, no crate grows past 12,000 lines of non-test code and no function past 100 lines.
//! (The layer crates' order is the compiler's to keep: a crate cannot import one above it.)

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The crates checked, by their folder under the workspace root.
const CRATES: [&str; 12] = [
    "shared/model",
    "shared/render",
    "shared/core",
    "shared/aws",
    "shared/run",
    "shared/testkit",
    "shared",
    "functions/dispatch",
    "functions/actions",
    "functions/s3trigger",
    "worker",
    "cli",
];

/// A source file: its crate's folder, its path under the crate's `src/`, its top-level module
/// and its non-test code.
struct Source {
    krate: &'static str,
    path: String,
    module: String,
    /// The code without its comment lines (so a path in a doc comment is not an import).
    code: String,
    /// The code with its comments (a function's length counts them).
    text: String,
}

impl Source {
    /// The path under the workspace root.
    fn full_path(&self) -> String {
        format!("{}/src/{}", self.krate, self.path)
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace root").to_path_buf()
}

fn sources() -> Vec<Source> {
    CRATES.iter().flat_map(|krate| crate_sources(krate)).collect()
}

fn crate_sources(krate: &'static str) -> Vec<Source> {
    let root = workspace_root().join(krate).join("src");
    let mut files = Vec::new();
    collect(&root, &mut files);
    files
        .into_iter()
        .filter_map(|file| {
            let path = file.strip_prefix(&root).expect("under src").to_string_lossy().replace('\\', "/");
            let module = path.split('/').next().expect("a first component").trim_end_matches(".rs").to_string();
            let text = std::fs::read_to_string(&file).expect("a readable source file");
            let is_test_file = path.ends_with("/tests.rs")
                || path.ends_with("/spec_examples.rs")
                || ["tidy", "lib", "fake", "main"].contains(&module.as_str());
            let text = without_tests(&text);
            let code = text.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n");
            (!is_test_file).then_some(Source { krate, path, module, code, text })
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

/// The code without the `#[cfg(test)]` module at the end of a file.
fn without_tests(text: &str) -> String {
    match text.find("#[cfg(test)]\nmod tests {") {
        Some(at) => text[..at].to_string(),
        None => text.to_string(),
    }
}

/// The paths `code` names starting at a word `prefix` (not `a::prefix`, not `xprefix`): the
/// identifiers after it.
fn paths_after<'a>(code: &'a str, prefix: &'a str) -> impl Iterator<Item = String> + 'a {
    code.match_indices(prefix).filter_map(move |(at, _)| {
        let before = code[..at].chars().last();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            return None;
        }
        Some(code[at + prefix.len()..].chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect())
    })
}

/// The crate's top-level modules a file names (`crate::x`, or `super::x` from a top-level file).
fn references(source: &Source) -> BTreeSet<String> {
    let top_level = !source.path.contains('/') || source.path.ends_with("/mod.rs");
    let mut names: BTreeSet<String> = paths_after(&source.code, "crate::").collect();
    if top_level {
        names.extend(paths_after(&source.code, "super::"));
    }
    names.retain(|name| !name.is_empty() && *name != source.module);
    names
}

/// The import graph of the top-level modules of the crate in folder `krate`.
fn module_graph(krate: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for source in sources().into_iter().filter(|s| s.krate == krate) {
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
fn the_top_level_modules_of_each_crate_import_each_other_without_cycles() {
    for krate in ["shared/model", "shared/core", "shared/run", "shared/render", "cli"] {
        let graph = module_graph(krate);
        assert!(graph.len() > 2, "the scan found {krate}'s modules: {:?}", graph.keys());
        if let Some(cycle) = find_cycle(&graph) {
            panic!("module cycle in {krate}: {}", cycle.join(" -> "));
        }
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

/// Files (paths under the workspace root) outside `allowed` (path prefixes) whose code names
/// the crate or path `needle` (`needle::…`, not `x::needle::…`).
fn offenders(needle: &str, allowed: &[&str]) -> Vec<String> {
    sources()
        .into_iter()
        .filter(|s| paths_after(&s.code, needle).next().is_some())
        .map(|s| s.full_path())
        .filter(|p| !allowed.iter().any(|a| p.starts_with(a)))
        .collect()
}

#[test]
fn only_the_adapters_name_the_sdk_bollard_sqlx_and_smb() {
    for needle in ["aws_sdk_", "aws_config::", "aws_smithy_", "aws_sigv4::", "aws_credential_types::"] {
        assert_eq!(offenders(needle, &["shared/aws/"]), Vec::<String>::new(), "{needle} outside lava-aws");
    }
    let docker = &["shared/run/src/docker_engine.rs"];
    assert_eq!(offenders("bollard::", docker), Vec::<String>::new(), "bollard outside docker_engine");
    let sql = &["shared/run/src/sql/driver.rs"];
    assert_eq!(offenders("sqlx::", sql), Vec::<String>::new(), "sqlx outside sql::driver");
    // `smb::` alone is also the runners' own `smb` module; the crate is brought in by `use`.
    assert_eq!(offenders("use smb::", &["shared/core/src/smb.rs"]), Vec::<String>::new(), "the smb crate outside smb");
    assert!(!offenders("aws_sdk_", &[]).is_empty(), "the check finds the SDK where it is");
}

/// The `[dependencies]` table of a crate's manifest (up to the next table).
fn dependencies(krate: &str) -> String {
    let manifest = std::fs::read_to_string(workspace_root().join(krate).join("Cargo.toml")).expect("a manifest");
    let start = manifest.find("\n[dependencies]").expect("a [dependencies] table");
    let rest = &manifest[start + 1..];
    let end = rest[1..].find("\n[").map_or(rest.len(), |i| i + 1);
    rest[..end].to_string()
}

#[test]
fn the_deployed_code_builds_no_test_harness() {
    // The harness (moto, the tests' servers) is the CLI's for `lava local`, and the tests'.
    for krate in ["shared", "shared/model", "shared/render", "shared/core", "shared/aws", "shared/run"]
        .into_iter()
        .chain(["functions/dispatch", "functions/actions", "functions/s3trigger", "worker"])
    {
        assert!(!dependencies(krate).contains("lava-testkit"), "{krate} depends on lava-testkit");
    }
    assert!(dependencies("cli").contains("lava-testkit"), "the check reads the tables it means to");
}

#[test]
fn the_model_does_no_io() {
    let in_model = |s: &Source| s.krate == "shared/model" && s.path.starts_with("model/");
    let model: Vec<Source> = sources().into_iter().filter(in_model).collect();
    assert!(model.len() > 10, "the scan found the model's files");
    for needle in ["std::fs", "std::net", "std::process", "std::env", "tokio", "async fn", "hyper"] {
        let naming: Vec<String> = model.iter().filter(|s| s.code.contains(needle)).map(Source::full_path).collect();
        assert_eq!(naming, Vec::<String>::new(), "{needle} in the model (lava-model's `model`)");
    }
}

#[test]
fn the_model_files_import_each_other_without_cycles() {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let model_files = sources().into_iter().filter(|s| s.krate == "shared/model" && s.path.starts_with("model/"));
    for source in model_files.filter(|s| !s.path.ends_with("mod.rs")) {
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
    let root = workspace_root().join("python");
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

#[test]
fn no_crate_has_over_12000_lines_of_non_test_code() {
    let mut lines: BTreeMap<&str, usize> = BTreeMap::new();
    for source in sources() {
        *lines.entry(source.krate).or_default() += source.code.lines().count();
    }
    assert!(lines["shared/core"] > 1000, "the scan counted lava-core: {lines:?}");
    let over: Vec<_> = lines.iter().filter(|(_, n)| **n > 12_000).collect();
    assert!(over.is_empty(), "crates over 12,000 lines of non-test code: {over:?}");
}

/// The functions of `code` and their lengths in lines: from the line of `fn` to the line of
/// its closing brace at the same indentation (the layout rustfmt gives).
fn function_lengths(code: &str) -> Vec<(String, usize)> {
    let lines: Vec<&str> = code.lines().collect();
    let mut found = Vec::new();
    for (at, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        let Some(name) = trimmed.split_once("fn ").filter(|(before, _)| is_fn_prefix(before)).map(|(_, rest)| rest)
        else {
            continue;
        };
        let name: String = name.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        let Some(head_end) = lines[at..].iter().position(|l| l.trim_end().ends_with(['{', ';', '}'])) else {
            continue;
        };
        let head = lines[at + head_end].trim_end();
        if head.ends_with(';') || (head.ends_with('}') && head.matches('{').count() == head.matches('}').count()) {
            continue; // a declaration without a body, or a one-line function
        }
        let indent = &line[..line.len() - trimmed.len()];
        let closing = format!("{indent}}}");
        if let Some(end) = lines[at..].iter().position(|l| l.trim_end() == closing) {
            found.push((name, end + 1));
        }
    }
    found
}

/// Whether `text` may stand before `fn` in a function's first line (`pub(crate) async `).
fn is_fn_prefix(text: &str) -> bool {
    text.split_whitespace().all(|w| ["pub", "pub(crate)", "pub(super)", "async", "const", "unsafe"].contains(&w))
}

/// Functions still over 100 lines, to be split; the list may only shrink (a listed function
/// that is now short fails the check, so it is taken off).
const LONG_FUNCTIONS: &[&str] = &[];

#[test]
fn no_function_has_over_100_lines() {
    let mut long = Vec::new();
    for source in sources() {
        for (name, length) in function_lengths(&source.text) {
            if length > 100 {
                long.push(format!("{}::{name} ({length} lines)", source.full_path()));
            }
        }
    }
    let unlisted: Vec<&String> = long.iter().filter(|f| !LONG_FUNCTIONS.iter().any(|l| f.starts_with(l))).collect();
    assert!(unlisted.is_empty(), "functions over 100 lines: {unlisted:#?}");
    let short: Vec<&&str> = LONG_FUNCTIONS.iter().filter(|l| !long.iter().any(|f| f.starts_with(*l))).collect();
    assert!(short.is_empty(), "listed as long but now 100 lines or fewer (take them off the list): {short:?}");
}

#[test]
fn the_function_length_check_measures_a_function() {
    let code = "impl X {\n    fn d(\n        &self,\n    ) -> u8;\n    fn e() {}\n    pub(crate) async fn f(\n        a: u8,\n    ) {\n        a;\n    }\n}\n";
    assert_eq!(function_lengths(code), [("f".to_string(), 5)]);
}
