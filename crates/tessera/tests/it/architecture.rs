//! The architecture invariants of docs/ARCHITECTURE.md, checked over `cargo metadata`.

use std::collections::BTreeMap;

/// Normal (non-dev) dependencies of each workspace crate.
fn dependencies() -> BTreeMap<String, Vec<String>> {
    let output = std::process::Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--no-deps", "--offline"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let deps = p["dependencies"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| d["kind"].is_null())
                .map(|d| d["name"].as_str().unwrap().to_owned())
                .collect();
            (p["name"].as_str().unwrap().to_owned(), deps)
        })
        .collect()
}

fn assert_none_of(deps: &BTreeMap<String, Vec<String>>, krate: &str, forbidden: &[&str]) {
    let found: Vec<&String> =
        deps[krate].iter().filter(|d| forbidden.contains(&d.as_str())).collect();
    assert!(found.is_empty(), "{krate} must not depend on {found:?}");
}

/// What neither the core nor the JOSE crate may depend on: I/O, and the crates above them.
const NO_IO: [&str; 10] = [
    "tessera-store",
    "tessera-server",
    "tessera",
    "tokio",
    "sqlx",
    "axum",
    "hyper",
    "reqwest",
    "tower",
    "http",
];

#[test]
fn the_core_knows_no_io_and_of_ours_only_the_jose_crate() {
    let deps = dependencies();
    assert_none_of(&deps, "tessera-core", &NO_IO);
    assert!(deps["tessera-core"].contains(&"tessera-jose".to_owned()));
}

#[test]
fn the_jose_crate_knows_no_io_and_no_crate_of_ours() {
    let deps = dependencies();
    assert_none_of(&deps, "tessera-jose", &NO_IO);
    assert_none_of(&deps, "tessera-jose", &["tessera-core"]);
}

#[test]
fn the_verifier_is_publishable_alone_it_knows_of_ours_only_the_jose_crate() {
    let deps = dependencies();
    assert!(deps["tessera-verify"].contains(&"tessera-jose".to_owned()));
    let ours = ["tessera-core", "tessera-store", "tessera-server", "tessera"];
    assert_none_of(&deps, "tessera-verify", &ours);
}

#[test]
fn store_and_server_depend_on_the_core_and_not_on_each_other() {
    let deps = dependencies();
    assert!(deps["tessera-store"].contains(&"tessera-core".to_owned()));
    assert!(deps["tessera-server"].contains(&"tessera-core".to_owned()));
    assert_none_of(
        &deps,
        "tessera-store",
        &["tessera-server", "axum", "hyper", "tower", "tower-http"],
    );
    assert_none_of(&deps, "tessera-server", &["tessera-store", "sqlx"]);
}

#[test]
fn only_the_binary_and_the_bench_know_store_and_server_together() {
    let deps = dependencies();
    let both: Vec<&String> = deps
        .iter()
        .filter(|(_, d)| {
            d.contains(&"tessera-store".to_owned()) && d.contains(&"tessera-server".to_owned())
        })
        .map(|(name, _)| name)
        .collect();
    assert_eq!(both, ["tessera", "tessera-bench"]);
}

#[test]
fn only_the_core_and_the_jose_crate_sign_or_verify_jwts() {
    let deps = dependencies();
    for (krate, list) in &deps {
        if krate != "tessera-core" && krate != "tessera-jose" {
            for jose in ["aws-lc-rs", "jsonwebtoken", "ring"] {
                assert!(!list.iter().any(|d| d == jose), "{krate} depends on {jose}");
            }
        }
    }
    for (path, text) in sources("tessera-core") {
        if text.contains("aws_lc_rs::signature") {
            assert!(path.contains("/src/token/"), "{path} signs or verifies");
        }
    }
}

/// The Rust files under `crates/<krate>/src`, each cut at its module-level `#[cfg(test)]`
/// (the unit tests at the end of a file are not the product).
fn sources(krate: &str) -> Vec<(String, String)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    let mut dirs = vec![root.join(krate).join("src")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                let product = match text.find("\n#[cfg(test)]\nmod ") {
                    Some(end) => text[..end].to_owned(),
                    None => text,
                };
                files.push((path.to_string_lossy().replace('\\', "/"), product));
            }
        }
    }
    assert!(!files.is_empty(), "no sources under {krate}");
    files
}

#[test]
fn the_core_reads_no_clock_and_no_randomness_of_its_own() {
    for (path, text) in sources("tessera-core") {
        // `world.rs` is where the real clock and generator live; the other two are test-only
        // (feature `testing`, and the grants' `#[cfg(test)] mod fixtures`).
        if ["/world.rs", "/testing.rs", "/grant/fixtures.rs"].iter().any(|f| path.ends_with(f)) {
            continue;
        }
        for ambient in [
            "SystemTime::now",
            "OffsetDateTime::now",
            "Instant::now",
            "thread_rng",
            "rand::rng",
            "getrandom",
            "OsRng.fill",
            "&OsRng",
        ] {
            assert!(!text.contains(ambient), "{path} uses {ambient}");
        }
        // The one v4 UUID made without an `Rng` is `Id::random()`, for tests only.
        for (at, _) in text.match_indices("Uuid::new_v4") {
            let before = &text[..at];
            let gate = before.rfind("#[cfg(any(test, feature = \"testing\"))]");
            let item = before.rfind("pub fn ");
            assert!(
                gate.zip(item).is_some_and(|(g, i)| g < i && i - g < 80),
                "{path}: Uuid::new_v4 outside the test-only Id::random"
            );
        }
    }
}

#[test]
fn audit_actions_are_named_by_the_enum_at_every_call_site() {
    for krate in ["tessera-server", "tessera"] {
        for (path, text) in sources(krate) {
            for (at, _) in text.match_indices(".audit(") {
                // The arguments of the call, up to its closing parenthesis.
                let mut depth = 0;
                let call: String = text[at + ".audit".len()..]
                    .chars()
                    .take_while(|c| {
                        match c {
                            '(' => depth += 1,
                            ')' => depth -= 1,
                            _ => {}
                        }
                        depth > 0
                    })
                    .collect();
                assert!(
                    call.contains("AuditAction::") || call.contains("action"),
                    "{path}: an audit call without an AuditAction: {call}"
                );
            }
            assert!(!text.contains("action: \""), "{path}: an audit action as a string");
        }
    }
}

#[test]
fn store_bodies_reach_their_backend_only_through_backend() {
    for (path, text) in sources("tessera-store") {
        assert!(!text.contains("use super::*"), "{path} imports by glob");
        assert!(!text.contains("#[macro_use]"), "{path} relies on #[macro_use]");
        if !path.ends_with("/dialect.rs") {
            assert!(!text.contains("\"BEGIN"), "{path} begins its own transactions");
        }
        if path.contains("/aggregates/") {
            for backend in ["sqlx::Sqlite", "sqlx::Postgres", "SqlitePool", "PgPool"] {
                assert!(!text.contains(backend), "{path} names {backend}");
            }
            if !path.ends_with("/mod.rs") {
                assert!(
                    text.contains("macro_rules! stamp {\n    ($store:ty) => {"),
                    "{path}: a stamp! takes the store type and nothing else"
                );
            }
        }
    }
}

#[test]
fn openapi_schemas_live_in_wire_and_connections_render_no_html() {
    for (path, text) in sources("tessera-server") {
        if !path.contains("/src/wire/") {
            let schema = text.lines().find(|l| l.contains("derive(") && l.contains("ToSchema"));
            assert!(schema.is_none(), "{path} defines an OpenAPI schema: {schema:?}");
        }
        if path.contains("/src/connections/") {
            for html in ["askama", "Html", "<html"] {
                assert!(!text.contains(html), "{path} renders HTML ({html})");
            }
        }
    }
}

#[test]
fn the_console_runs_no_inline_script_and_only_its_copy_buttons() {
    let templates =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tessera-server/templates");
    for entry in std::fs::read_dir(templates).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        for (at, _) in text.match_indices("<script") {
            assert!(
                text[at..].starts_with("<script src=\"/console/copy.js\"></script>"),
                "{} runs a script other than the copy buttons",
                path.display()
            );
        }
        assert!(!text.contains(" onclick="), "{} has an inline handler", path.display());
    }
}

#[test]
fn every_crate_forbids_unsafe_and_warns_on_unwrap() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let workspace = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    assert!(workspace.contains("unsafe_code = \"forbid\""));
    assert!(workspace.contains("unwrap_used = \"warn\""));
    for krate in [
        "crates/tessera-jose",
        "crates/tessera-verify",
        "crates/tessera-core",
        "crates/tessera-store",
        "crates/tessera-server",
        "crates/tessera",
        "bench",
    ] {
        let manifest = std::fs::read_to_string(root.join(krate).join("Cargo.toml")).unwrap();
        assert!(
            manifest.contains("[lints]\nworkspace = true"),
            "{krate} does not take the workspace's lints"
        );
    }
}

#[test]
fn rows_that_do_not_convert_are_errors_never_panics() {
    for (path, text) in sources("tessera-store") {
        for panic in ["panic!(", ".expect(", "unreachable!(", "unimplemented!(", "todo!("] {
            if !path.ends_with("/testing.rs") {
                assert!(!text.contains(panic), "{path} may panic ({panic})");
            }
        }
    }
}

/// The module a source file is, as a path from the crate root: `console/integrations/mod.rs`
/// is `["console", "integrations"]`, `lib.rs` and `main.rs` are `[]`.
fn module_of(src: &std::path::Path, file: &str) -> Vec<String> {
    let relative = std::path::Path::new(file).strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> =
        relative.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib" | "main")) {
        parts.pop();
    }
    parts
}

/// The module paths a source names through `crate::` or `super::`, resolved from `module`
/// (the first level of a `{…}` group included).
fn referenced_modules(module: &[String], is_mod_file: bool, text: &str) -> Vec<Vec<String>> {
    let code: String =
        text.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n");
    let mut found = Vec::new();
    for start in ["crate::", "super::"] {
        let mut rest = code.as_str();
        while let Some(at) = rest.find(start) {
            let before = rest[..at].chars().last();
            rest = &rest[at..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                rest = &rest[start.len()..];
                continue;
            }
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(rest.len());
            let path = &rest[..end];
            // `super` is the parent of the file's module; a `mod.rs` is its module itself.
            let mut base: Vec<String> = if start == "crate::" {
                Vec::new()
            } else {
                let mut m = module.to_vec();
                if !is_mod_file || !m.is_empty() {
                    m.pop();
                }
                m
            };
            let mut segments: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
            if start == "crate::" {
                segments.remove(0);
            } else {
                segments.remove(0);
                while segments.first() == Some(&"super") {
                    segments.remove(0);
                    base.pop();
                }
            }
            let mut heads = vec![segments.iter().map(|s| s.to_string()).collect::<Vec<_>>()];
            if rest[end..].starts_with('{') && path.ends_with("::") {
                let group = &rest[end + 1..rest[end..].find('}').map_or(end + 1, |e| end + e)];
                heads = group
                    .split(',')
                    .map(|item| {
                        let first = item.trim().split("::").next().unwrap_or("").trim();
                        let mut head: Vec<String> =
                            segments.iter().map(|s| s.to_string()).collect();
                        if first != "self" && !first.is_empty() {
                            head.push(first.to_owned());
                        }
                        head
                    })
                    .collect();
            }
            for head in heads {
                let mut full = base.clone();
                full.extend(head);
                found.push(full);
            }
            rest = &rest[end..];
        }
    }
    found
}

#[test]
fn no_two_modules_import_each_other() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let crates = ["tessera-jose", "tessera-verify", "tessera-core", "tessera-store"];
    for krate in crates.into_iter().chain(["tessera-server", "tessera"]) {
        let src = root.join(krate).join("src");
        let src = src.canonicalize().unwrap();
        let files: Vec<(Vec<String>, bool, String)> = sources(krate)
            .into_iter()
            .map(|(path, text)| {
                let path = std::path::Path::new(&path).canonicalize().unwrap();
                let name = path.to_string_lossy().into_owned();
                (module_of(&src, &name), name.ends_with("/mod.rs"), text)
            })
            .collect();
        let modules: Vec<&Vec<String>> = files.iter().map(|(m, _, _)| m).collect();
        let mut edges = std::collections::BTreeSet::new();
        for (module, is_mod, text) in &files {
            for target in referenced_modules(module, *is_mod, text) {
                // The longest known module the path starts with (the rest names an item).
                let Some(target) =
                    modules.iter().filter(|m| target.starts_with(m)).max_by_key(|m| m.len())
                else {
                    continue;
                };
                // Compare the two as the children of their common ancestor: a module and its
                // own parent or child always know each other.
                let common = module.iter().zip(target.iter()).take_while(|(a, b)| a == b).count();
                if common == module.len() || common == target.len() {
                    continue;
                }
                let from = module[..=common].join("::");
                let to = target[..=common].join("::");
                edges.insert((from, to));
            }
        }
        let cycles: Vec<_> = edges
            .iter()
            .filter(|(a, b)| a < b && edges.contains(&(b.clone(), a.clone())))
            .collect();
        assert!(cycles.is_empty(), "{krate}: modules importing each other: {cycles:?}");
    }
}

#[test]
fn route_and_console_files_stay_short() {
    for (path, limit) in [("/src/routes/", 250), ("/src/console/", 450)] {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tessera-server");
        let mut dirs = vec![root.join(path.trim_matches('/'))];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let file = entry.unwrap().path();
                if file.is_dir() {
                    dirs.push(file);
                } else if file.extension().is_some_and(|e| e == "rs") {
                    let lines = std::fs::read_to_string(&file).unwrap().lines().count();
                    assert!(
                        lines < limit,
                        "{} has {lines} lines: split it (under {limit})",
                        file.display()
                    );
                }
            }
        }
    }
}
