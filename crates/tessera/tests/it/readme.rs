//! The README's tour, run as written (issue 20): every ```sh block of its "A tour" section,
//! top to bottom, in one fresh `bash -euo pipefail` against a new server, with `tessera` on
//! the `PATH` and the credentials a first start gives — so the README cannot rot again.

use std::path::Path;

/// The shell blocks of the README section that starts with `heading`, in order.
fn shell_blocks(readme: &str, heading: &str) -> Vec<String> {
    let start = readme.find(heading).expect("the section is in the README");
    let section = &readme[start + heading.len()..];
    let section = section.find("\n## ").map_or(section, |end| &section[..end]);
    let mut blocks = Vec::new();
    let mut rest = section;
    while let Some(open) = rest.find("```sh\n") {
        let body = &rest[open + "```sh\n".len()..];
        let close = body.find("```").expect("a closed block");
        blocks.push(body[..close].to_owned());
        rest = &body[close + 3..];
    }
    blocks
}

#[tokio::test]
async fn the_tour_runs() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"))
            .unwrap();
    let blocks = shell_blocks(&readme, "## A tour");
    assert!(blocks.len() >= 4, "{blocks:#?}");
    let (guard, dir) = crate::data_dir();
    let server = crate::serve(&dir, &[], true);
    let home = guard.path().join("home");
    let work = guard.path().join("work");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir_all(&work).unwrap();
    let bin = Path::new(env!("CARGO_BIN_EXE_tessera")).parent().unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let script = blocks.join("\n");
    let out = tokio::task::spawn_blocking({
        let (home, work) = (home.clone(), work.clone());
        let url = server.url.clone();
        move || {
            std::process::Command::new("bash")
                .args(["-euo", "pipefail", "-c", &script])
                .current_dir(&work)
                .env_clear()
                .env("PATH", path)
                .env("HOME", &home)
                .env("URL", url)
                .env("CLIENT_ID", crate::BOOT_ID)
                .env("SECRET", crate::BOOT_SECRET)
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    let (stdout, stderr) =
        (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the tour failed:\n{stdout}\n{stderr}");
    // What the comments say each step shows.
    let lines: Vec<&str> = stdout.lines().collect();
    let empty = lines
        .iter()
        .position(|l| l.starts_with("{\"assets\":[]"))
        .unwrap_or_else(|| panic!("nothing shared at first: {stdout}"));
    let shared = lines
        .iter()
        .position(|l| l.contains("\"assets\":[{") && l.contains("north"))
        .unwrap_or_else(|| panic!("the crate after the policy: {stdout}"));
    assert!(empty < shared, "{stdout}");
    for wanted in [
        "Signature: valid",
        "active: true",
        "\n401\n",
        "Northwind",
        "\"sub\": \"",
        "\"act\"",
        "+ create integration `billing`",
        "Applied.",
        "Nothing to change: tenant/",
    ] {
        assert!(stdout.contains(wanted), "{wanted} in the tour's output:\n{stdout}\n{stderr}");
    }
    assert!(home.join(".config/tessera/profiles.toml").exists(), "the tour logged in");
}
