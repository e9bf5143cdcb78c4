//! The plan printed, then carried out over the API in dependency order; secrets written as they are made.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::{json, Map, Value};

use crate::remote::Session;

use super::*;

pub(super) fn print_plan(plan: &Plan, file_name: &str) {
    println!("{} — {file_name}", plan.tenant_id);
    for change in &plan.changes {
        let sign = match change.action {
            Action::Create => "+",
            Action::Update => "~",
            Action::Replace => "±",
            Action::Delete => "-",
            Action::Keep => "=",
        };
        let of = change
            .integration
            .as_ref()
            .map(|i| format!(" of integration `{i}`"))
            .unwrap_or_default();
        let mut line = format!(
            "  {sign} {} {} `{}`{of}",
            change.action.verb(),
            change.kind,
            change.name
        );
        if let Some(reason) = &change.reason {
            line.push_str(&format!(" — kept: {reason}"));
        }
        println!("{line}");
        if change.action == Action::Update {
            for (field, diff) in &change.fields {
                println!("      {field}: {} → {}", diff["from"], diff["to"]);
            }
        }
    }
    if !plan.not_in_file.is_empty() {
        println!(
            "  ({} in the tenant but not in the file, left alone; --prune deletes them)",
            plan.not_in_file.len()
        );
    }
    let count = |a: Action| plan.changes.iter().filter(|c| c.action == a).count();
    if plan.pending() > 0 {
        println!(
            "Plan: {} to create, {} to change, {} to delete; {} unchanged.",
            count(Action::Create),
            count(Action::Update) + count(Action::Replace),
            count(Action::Delete),
            plan.unchanged
        );
    }
}

/// Carries the plan out in its order; integrations made on the way are named in later steps.
pub(super) async fn carry_out(
    session: &Session,
    plan: &Plan,
    current: &Current,
    made: &mut Secrets,
) -> anyhow::Result<()> {
    let mut ids = integration_ids(&current.integrations);
    for change in &plan.changes {
        let answer = step(session, change, &ids).await.with_context(|| {
            format!(
                "could not {} {} `{}` (the steps before it were made; apply again once it is fixed)",
                change.action.verb(),
                change.kind,
                change.name
            )
        })?;
        // A new integration's id, for the steps that name it (a secretless one too).
        if let (true, Some(id)) = (change.kind == "integration", answer["client_id"].as_str()) {
            ids.insert(change.name.clone(), id.to_owned());
        }
        match change.kind {
            "integration" if answer["client_secret"].is_string() => {
                let id = answer["client_id"].as_str().unwrap_or_default().to_owned();
                made.record(
                    "integrations",
                    &change.name,
                    json!({"client_id": id, "client_secret": answer["client_secret"]}),
                )
                .with_context(|| {
                    format!(
                        "integration `{}` was made, but its secret could not be saved",
                        change.name
                    )
                })?;
            }
            "user" if answer["invitation_url"].is_string() => made.record(
                "users",
                &change.name,
                json!({"invitation_url": answer["invitation_url"],
                       "invitation_expires_at": answer["invitation_expires_at"]}),
            )?,
            _ => {}
        }
    }
    Ok(())
}

/// The client ids of integrations by name.
pub(super) fn integration_ids(integrations: &[Value]) -> HashMap<String, String> {
    integrations
        .iter()
        .filter_map(|i| {
            Some((
                i["display_name"].as_str()?.to_owned(),
                i["client_id"].as_str()?.to_owned(),
            ))
        })
        .collect()
}

/// One step over the API; the answer of a create (`null` otherwise).
pub(super) async fn step(
    session: &Session,
    change: &Change,
    ids: &HashMap<String, String>,
) -> anyhow::Result<Value> {
    let mut body = change.body.clone();
    resolve_actors(&mut body, ids);
    let body = Value::Object(body);
    if change.kind == "key" {
        let integration = change.integration.as_deref().unwrap_or_default();
        let id = ids
            .get(integration)
            .with_context(|| format!("integration `{integration}` was not made"))?;
        let keys = format!("/v1/integrations/{id}/keys");
        return match change.action {
            Action::Create => {
                session
                    .call(reqwest::Method::POST, &keys, Some(&body))
                    .await
            }
            Action::Delete => {
                let kid = percent_encoding::utf8_percent_encode(
                    &change.name,
                    percent_encoding::NON_ALPHANUMERIC,
                );
                session
                    .call(reqwest::Method::DELETE, &format!("{keys}/{kid}"), None)
                    .await
                    .map(|_| Value::Null)
            }
            _ => Ok(Value::Null),
        };
    }
    if change.kind == "federated_credential" {
        let integration = change.integration.as_deref().unwrap_or_default();
        let id = ids
            .get(integration)
            .with_context(|| format!("integration `{integration}` was not made"))?;
        let base = format!("/v1/integrations/{id}/federated_credentials");
        if matches!(change.action, Action::Delete | Action::Replace) {
            let credential = change.id.as_deref().unwrap_or_default().replace('/', "%2F");
            session
                .call(
                    reqwest::Method::DELETE,
                    &format!("{base}/{credential}"),
                    None,
                )
                .await?;
        }
        return match change.action {
            Action::Create | Action::Replace => {
                session
                    .call(reqwest::Method::POST, &base, Some(&body))
                    .await
            }
            _ => Ok(Value::Null),
        };
    }
    let resource = match change.kind {
        "trusted_issuer" => TRUSTED_ISSUERS.resource,
        "resource_server" => RESOURCE_SERVERS.resource,
        "integration" => INTEGRATIONS.resource,
        "user" => USERS.resource,
        "access_policy" => POLICIES.resource,
        _ => APP_AUTHORIZATIONS.resource,
    };
    let item = format!(
        "{}/{}",
        resource.path,
        change.id.as_deref().unwrap_or_default().replace('/', "%2F")
    );
    // A replacement is a create: the API replaces the authorization of the same app_name in one
    // statement, under a new id (so the tokens of the old one end).
    if change.action == Action::Delete {
        session.call(reqwest::Method::DELETE, &item, None).await?;
    }
    match change.action {
        Action::Create | Action::Replace => {
            session
                .call(reqwest::Method::POST, resource.path, Some(&body))
                .await
        }
        Action::Update => session
            .call(reqwest::Method::PATCH, &item, Some(&body))
            .await
            .map(|_| Value::Null),
        Action::Delete | Action::Keep => Ok(Value::Null),
    }
}

/// Secrets made by this apply: written to the file the YAML names as soon as each is made
/// (so a later failure loses none), or printed once at the end.
pub(super) struct Secrets {
    pub(super) file: Option<PathBuf>,
    pub(super) made: Map<String, Value>,
    /// A write to `file` failed: what was made is printed rather than lost.
    pub(super) unsaved: bool,
}

impl Secrets {
    pub(super) fn new(file: Option<PathBuf>) -> Secrets {
        Secrets {
            file,
            made: Map::new(),
            unsaved: false,
        }
    }

    /// Records one secret under `section` (`integrations` or `users`) and `name`.
    pub(super) fn record(&mut self, section: &str, name: &str, value: Value) -> anyhow::Result<()> {
        let entry = self.made.entry(section).or_insert_with(|| json!({}));
        entry[name] = value.clone();
        let Some(path) = &self.file else {
            return Ok(());
        };
        // Until the file holds it, the secret exists only here.
        self.unsaved = true;
        let mut all: Value = match std::fs::read_to_string(path) {
            Ok(text) => serde_json::from_str(&text)
                .with_context(|| format!("{} (secrets_file) is not JSON", path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => json!({}),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        if !all[section].is_object() {
            all[section] = json!({});
        }
        all[section][name] = value;
        write_private(path, &serde_json::to_vec_pretty(&all)?)?;
        self.unsaved = false;
        Ok(())
    }

    pub(super) fn print_once(&self) {
        if self.made.is_empty() {
            return;
        }
        match &self.file {
            Some(path) => println!("Secrets written to {} (mode 0600).", path.display()),
            None => {
                println!("Made now and not shown again — save them:");
                println!(
                    "{}",
                    serde_json::to_string_pretty(&self.made).unwrap_or_default()
                );
            }
        }
    }

    /// After a failed step: secrets already made are not lost with the error.
    pub(super) fn rescue(&self) {
        if (self.file.is_none() || self.unsaved) && !self.made.is_empty() {
            eprintln!(
                "made before the failure, not shown again — save them:\n{}",
                serde_json::to_string_pretty(&self.made).unwrap_or_default()
            );
        }
    }
}

/// Writes `bytes` to `path` readable by its owner only, through a temporary file renamed over it.
pub(super) fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("cannot make {}", dir.display()))?;
    let temporary = path.with_extension("tmp");
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&temporary)
        .with_context(|| format!("cannot write {}", temporary.display()))?;
    out.write_all(bytes)?;
    out.sync_all()?;
    std::fs::rename(&temporary, path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
