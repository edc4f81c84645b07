//! `sam build` of the realm template (`infra/template.yaml`, through the root `samconfig.toml`'s
//! `realm-dev` environment), exactly as a deployment runs it: cargo-lambda builds the three
//! functions for arm64 from the workspace root, and the built template points each function at
//! its `bootstrap`. Its own test binary, so the release build (several minutes after a change to
//! `shared`) runs after the other suites instead of competing with them for the two cores.
//! Skip it in a quick local loop with `cargo test --workspace -- --skip sam_build`.

use lava_tests::{unique, venv_tool, workspace_root};
use std::path::Path;
use std::process::Command;

/// ELF header: magic, 64-bit class, little-endian, and `e_machine` (offset 18) EM_AARCH64.
fn is_aarch64_elf(bytes: &[u8]) -> bool {
    bytes.len() > 20
        && bytes[..4] == *b"\x7fELF"
        && bytes[4] == 2
        && bytes[5] == 1
        && u16::from_le_bytes([bytes[18], bytes[19]]) == 183
}

#[test]
fn sam_build_builds_the_three_functions_for_arm64_each_under_5_mb_zipped() {
    let root = workspace_root();
    let out_dir = std::env::temp_dir().join(unique("lava-sam-build"));
    let build_dir = out_dir.join("build");
    let venv_bin = venv_tool("cargo-lambda").parent().unwrap().to_path_buf();
    let path = format!("{}:{}", venv_bin.display(), std::env::var("PATH").unwrap_or_default());
    let mut sam = Command::new(venv_tool("sam"));
    // The environment of a developer's shell: what `cargo test` adds for this test binary
    // (CARGO_PKG_*, LD_LIBRARY_PATH, …) would make cargo-lambda's cargo rebuild everything once
    // more than a `sam build` typed by hand.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if added_by_cargo_test(&name) {
            sam.env_remove(name.as_ref());
        }
    }
    let build = sam
        .args(["build", "--config-env", "realm-dev", "--build-dir"])
        .arg(&build_dir)
        .current_dir(&root)
        .env("PATH", path)
        .env("SAM_CLI_TELEMETRY", "0")
        .output()
        .unwrap();
    assert!(
        build.status.success(),
        "sam build --config-env realm-dev:\n{}{}",
        String::from_utf8_lossy(&build.stdout),
        String::from_utf8_lossy(&build.stderr)
    );

    let built: serde_json::Value =
        serde_norway::from_str(&std::fs::read_to_string(build_dir.join("template.yaml")).unwrap()).unwrap();
    let functions: Vec<(&String, &serde_json::Value)> = built["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::Serverless::Function")
        .collect();
    let mut names: Vec<&str> = functions.iter().map(|(name, _)| name.as_str()).collect();
    names.sort();
    assert_eq!(names, ["ActionsFunction", "DispatchFunction", "S3TriggerFunction"]);
    for (name, function) in functions {
        let code_uri = function["Properties"]["CodeUri"].as_str().unwrap_or_default();
        assert_eq!(code_uri, name.as_str(), "{name}'s CodeUri in the built template");
        let bootstrap = build_dir.join(code_uri).join("bootstrap");
        let bytes = std::fs::read(&bootstrap).unwrap_or_else(|e| panic!("{}: {e}", bootstrap.display()));
        assert!(is_aarch64_elf(&bytes), "{} is not an aarch64 ELF executable", bootstrap.display());
        assert!(is_executable(&bootstrap), "{} is not executable", bootstrap.display());
        // Lean functions: what Lambda loads at a cold start stays small.
        let zipped = lava_tests::zipped_size(&bootstrap);
        assert!(zipped <= 5_000_000, "{name}'s zip is {zipped} bytes, over 5 MB");
    }
    std::fs::remove_dir_all(&out_dir).unwrap();
}

fn added_by_cargo_test(name: &str) -> bool {
    ["CARGO_PKG_", "CARGO_BIN_EXE_", "CARGO_MANIFEST_"].iter().any(|prefix| name.starts_with(prefix))
        || [
            "CARGO",
            "CARGO_CRATE_NAME",
            "CARGO_PRIMARY_PACKAGE",
            "CARGO_TARGET_TMPDIR",
            "LD_LIBRARY_PATH",
            "RUST_RECURSION_COUNT",
            "RUSTUP_TOOLCHAIN_SOURCE",
        ]
        .contains(&name)
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).map(|m| m.permissions().mode() & 0o111 == 0o111).unwrap_or(false)
}

#[test]
fn the_elf_check_tells_aarch64_from_the_host() {
    let host = std::fs::read(std::env::current_exe().unwrap()).unwrap();
    assert_eq!(is_aarch64_elf(&host), cfg!(target_arch = "aarch64"));
    let mut arm = host[..64].to_vec();
    arm[18..20].copy_from_slice(&183u16.to_le_bytes());
    assert!(is_aarch64_elf(&arm));
}
