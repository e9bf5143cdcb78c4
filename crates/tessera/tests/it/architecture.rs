//! The architecture invariants of docs/ARCHITECTURE.md, checked over `cargo metadata`.

use std::collections::BTreeMap;

/// Normal (non-dev) dependencies of each workspace crate.
fn dependencies() -> BTreeMap<String, Vec<String>> {
    let output = std::process::Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
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
    let found: Vec<&String> = deps[krate]
        .iter()
        .filter(|d| forbidden.contains(&d.as_str()))
        .collect();
    assert!(found.is_empty(), "{krate} must not depend on {found:?}");
}

#[test]
fn the_core_knows_no_io_and_no_crate_of_ours() {
    let deps = dependencies();
    assert_none_of(
        &deps,
        "tessera-core",
        &[
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
        ],
    );
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
