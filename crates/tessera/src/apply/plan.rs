//! The plan, made without I/O: objects matched by name per kind, updates, replacements, deletions and what is spared.

use std::collections::HashMap;

use anyhow::bail;
use serde_json::{json, Map, Value};

use crate::remote::Usage;

use super::*;

/// Whether the server's `have` is what the file `want`s: scopes as a set, the rest exactly.
pub(super) fn same(field: &str, want: &Value, have: &Value) -> bool {
    if field == "scopes" {
        let set = |v: &Value| -> Vec<String> {
            let mut s: Vec<String> = v
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            s.sort();
            s.dedup();
            s
        };
        return set(want) == set(have);
    }
    want == have
}

/// Policies' `{integration: NAME}` actors as `{client_id}`, for the names known in `ids`.
pub(super) fn resolve_actors(fields: &mut Map<String, Value>, ids: &HashMap<String, String>) {
    let Some(Value::Array(permissions)) = fields.get_mut("permissions") else {
        return;
    };
    for permission in permissions {
        let Some(Value::Array(actors)) = permission.get_mut("actors") else {
            continue;
        };
        for actor in actors {
            if let Some(id) = actor["integration"].as_str().and_then(|n| ids.get(n)) {
                *actor = json!({"client_id": id});
            }
        }
    }
}

impl Action {
    pub(super) fn verb(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Replace => "replace",
            Action::Delete => "delete",
            Action::Keep => "keep",
        }
    }
}

impl Plan {
    /// Steps that change something (a kept object changes nothing).
    /// How many changes delete an object (a replacement deletes it and makes it anew).
    pub(super) fn destructive(&self) -> usize {
        self.changes
            .iter()
            .filter(|c| matches!(c.action, Action::Delete | Action::Replace))
            .count()
    }

    pub(super) fn pending(&self) -> usize {
        self.changes
            .iter()
            .filter(|c| c.action != Action::Keep)
            .count()
    }
}

/// Compares one kind: creates, updates (or replacements) and, with `prune`, deletions.
pub(super) fn plan_kind(
    kind: &Kind,
    wanted: &[Wanted],
    have: &[Value],
    ids: &HashMap<String, String>,
    plan: &mut Plan,
    deletions: &mut Vec<Change>,
    prune: bool,
) -> anyhow::Result<()> {
    let id_field = kind.resource.id_field;
    for want in wanted {
        let mut fields = want.fields.clone();
        resolve_actors(&mut fields, ids);
        let matches: Vec<&Value> = have
            .iter()
            .filter(|h| h[kind.name_field] == want.name.as_str())
            .collect();
        let found = match matches.as_slice() {
            [] => None,
            [one] => Some(*one),
            _ => bail!(
                "the tenant has {} {}s named `{}`; rename or delete all but one, since names are what apply matches on",
                matches.len(),
                kind.label,
                want.name
            ),
        };
        let Some(found) = found else {
            let mut change = Change::new(Action::Create, kind.label, &want.name);
            change.fields = fields.clone();
            change.body = fields;
            change.body.extend(want.on_create.clone());
            plan.changes.push(change);
            continue;
        };
        let mut differ = Map::new();
        for (field, value) in &fields {
            if field != kind.name_field && !same(field, value, &found[field]) {
                differ.insert(field.clone(), json!({"from": found[field], "to": value}));
            }
        }
        if differ.is_empty() {
            plan.unchanged += 1;
            continue;
        }
        if let Some(fixed) = kind.create_only.iter().find(|f| differ.contains_key(**f)) {
            bail!(
                "{} `{}`: {fixed} is set when it is made ({} on the server, {} in the file); delete it (or give it another name) to make it anew",
                kind.label,
                want.name,
                found[*fixed],
                fields[*fixed]
            );
        }
        let action = if kind.replace {
            Action::Replace
        } else {
            Action::Update
        };
        let mut change = Change::new(action, kind.label, &want.name);
        change.id = found[id_field].as_str().map(str::to_owned);
        change.body = if kind.replace {
            fields
        } else {
            differ
                .keys()
                .map(|k| (k.clone(), fields[k].clone()))
                .collect()
        };
        change.fields = differ;
        plan.changes.push(change);
    }
    for extra in have {
        let name = extra[kind.name_field].as_str().unwrap_or_default();
        if wanted.iter().any(|w| w.name == name) {
            continue;
        }
        let id = extra[id_field].as_str().unwrap_or_default().to_owned();
        if !prune {
            plan.not_in_file
                .push(json!({"kind": kind.label, "name": name, "id": id}));
            continue;
        }
        let mut change = Change::new(Action::Delete, kind.label, name);
        change.id = Some(id);
        deletions.push(change);
    }
    Ok(())
}

/// Keeps, of the deletions, the caller's integration and the tenant's last admin user.
pub(super) fn spare_the_last_admins(
    deletions: &mut [Change],
    current: &Current,
    users: &[Wanted],
    updates: &[Change],
) {
    for change in deletions.iter_mut() {
        if change.kind == "integration" && change.id.as_deref() == Some(current.caller.as_str()) {
            change.action = Action::Keep;
            change.reason = Some("the integration apply runs as".into());
        }
    }
    let role_after = |user: &Value| -> Option<String> {
        let email = user["email"].as_str().unwrap_or_default();
        let updated = updates
            .iter()
            .find(|c| c.kind == "user" && c.name == email)
            .and_then(|c| c.body.get("role"))
            .and_then(Value::as_str);
        updated.or(user["role"].as_str()).map(str::to_owned)
    };
    let staying_admins = current
        .users
        .iter()
        .filter(|u| {
            let email = u["email"].as_str().unwrap_or_default();
            let deleted = deletions
                .iter()
                .any(|c| c.kind == "user" && c.action == Action::Delete && c.name == email);
            !deleted && role_after(u).as_deref() == Some("admin")
        })
        .count()
        + users
            .iter()
            .filter(|w| {
                w.fields.get("role") == Some(&json!("admin"))
                    && !current.users.iter().any(|u| u["email"] == w.name.as_str())
            })
            .count();
    if staying_admins == 0 {
        if let Some(last) = deletions.iter_mut().find(|c| {
            c.kind == "user"
                && current
                    .users
                    .iter()
                    .any(|u| u["email"] == c.name.as_str() && u["role"] == "admin")
        }) {
            last.action = Action::Keep;
            last.reason = Some("the tenant's last admin user".into());
        }
    }
}

/// The platform identities of the integrations whose list the file gives, matched by issuer
/// and subject: made, replaced when their required claims differ (the API changes none in
/// place), and with `prune` removed when the file does not list them.
pub(super) fn plan_credentials(
    desired: &Desired,
    current: &Current,
    ids: &HashMap<String, String>,
    plan: &mut Plan,
    deletions: &mut Vec<Change>,
    prune: bool,
) {
    for (integration, wanted) in &desired.credentials {
        let have = ids
            .get(integration)
            .and_then(|id| current.credentials.get(id))
            .cloned()
            .unwrap_or_default();
        let same_identity = |a: &Map<String, Value>, b: &Value| {
            a["issuer"] == b["issuer"] && a["subject"] == b["subject"]
        };
        for want in wanted {
            let found = have.iter().find(|h| same_identity(&want.fields, h));
            let mut change = match found {
                None => Change::new(Action::Create, "federated_credential", &want.name),
                Some(h) if h["claims"] == want.fields["claims"] => {
                    plan.unchanged += 1;
                    continue;
                }
                Some(h) => {
                    let mut change =
                        Change::new(Action::Replace, "federated_credential", &want.name);
                    change.id = h["id"].as_str().map(str::to_owned);
                    change.fields.insert(
                        "claims".into(),
                        json!({"from": h["claims"], "to": want.fields["claims"]}),
                    );
                    change
                }
            };
            change.integration = Some(integration.clone());
            change.body = want.fields.clone();
            plan.changes.push(change);
        }
        for extra in have
            .iter()
            .filter(|h| !wanted.iter().any(|w| same_identity(&w.fields, h)))
        {
            let subject = extra["subject"].as_str().unwrap_or_default();
            if prune {
                let mut change = Change::new(Action::Delete, "federated_credential", subject);
                change.integration = Some(integration.clone());
                change.id = extra["id"].as_str().map(str::to_owned);
                deletions.push(change);
            } else {
                plan.not_in_file.push(json!({"kind": "federated_credential",
                    "name": subject, "integration": integration}));
            }
        }
    }
}

pub(super) fn make_plan(desired: &Desired, current: &Current, prune: bool) -> anyhow::Result<Plan> {
    let mut plan = Plan {
        tenant_id: current.tenant_id.clone(),
        changes: Vec::new(),
        unchanged: 0,
        not_in_file: Vec::new(),
    };
    let mut deletions = Vec::new();
    plan_kind(
        &TRUSTED_ISSUERS,
        &desired.trusted_issuers,
        &current.trusted_issuers,
        &HashMap::new(),
        &mut plan,
        &mut deletions,
        prune,
    )?;
    plan_kind(
        &RESOURCE_SERVERS,
        &desired.resource_servers,
        &current.resource_servers,
        &HashMap::new(),
        &mut plan,
        &mut deletions,
        prune,
    )?;
    plan_kind(
        &INTEGRATIONS,
        &desired.integrations,
        &current.integrations,
        &HashMap::new(),
        &mut plan,
        &mut deletions,
        prune,
    )?;
    let ids = integration_ids(&current.integrations);
    for (integration, keys) in &desired.keys {
        let have = ids
            .get(integration)
            .and_then(|id| current.keys.get(id))
            .cloned()
            .unwrap_or_default();
        for (kid, body) in keys {
            if have.contains(kid) {
                plan.unchanged += 1;
                continue;
            }
            let mut change = Change::new(Action::Create, "key", kid);
            change.integration = Some(integration.clone());
            change.body = body.clone();
            plan.changes.push(change);
        }
        for kid in have.iter().filter(|k| !keys.iter().any(|(w, _)| w == *k)) {
            if prune {
                let mut change = Change::new(Action::Delete, "key", kid);
                change.integration = Some(integration.clone());
                change.id = ids.get(integration).cloned();
                deletions.push(change);
            } else {
                plan.not_in_file
                    .push(json!({"kind": "key", "name": kid, "integration": integration}));
            }
        }
    }
    plan_credentials(desired, current, &ids, &mut plan, &mut deletions, prune);
    plan_kind(
        &USERS,
        &desired.users,
        &current.users,
        &ids,
        &mut plan,
        &mut deletions,
        prune,
    )?;
    for policy in &desired.policies {
        let mut fields = policy.fields.clone();
        resolve_actors(&mut fields, &ids);
        let named = |a: &Value| a["integration"].as_str().map(str::to_owned);
        let unknown = fields["permissions"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|p| p["actors"].as_array().cloned().unwrap_or_default())
            .filter_map(|a| named(&a))
            .find(|n| !desired.integrations.iter().any(|w| &w.name == n));
        if let Some(unknown) = unknown {
            return Err(Usage(format!(
                "access policy `{}`: no integration `{unknown}` in the file or the tenant",
                policy.name
            ))
            .into());
        }
    }
    plan_kind(
        &POLICIES,
        &desired.policies,
        &current.policies,
        &ids,
        &mut plan,
        &mut deletions,
        prune,
    )?;
    plan_kind(
        &APP_AUTHORIZATIONS,
        &desired.app_authorizations,
        &current.app_authorizations,
        &ids,
        &mut plan,
        &mut deletions,
        prune,
    )?;
    spare_the_last_admins(&mut deletions, current, &desired.users, &plan.changes);
    // A trusted issuer --prune removes takes its credentials with it: none the file lists may
    // name it.
    for gone in deletions.iter().filter(|c| c.kind == "trusted_issuer") {
        let named = desired
            .credentials
            .values()
            .flatten()
            .find(|c| c.fields["issuer"] == gone.name.as_str());
        if let Some(c) = named {
            return Err(Usage(format!(
                "the platform identity `{}` names the issuer `{}`, which --prune would stop trusting: list it under trusted_issuers",
                c.name, gone.name
            ))
            .into());
        }
    }
    // Deletions last, the dependents first: policies and authorizations, keys and
    // credentials, users, integrations, then trusted issuers.
    let order = |c: &Change| match c.kind {
        "access_policy" | "app_authorization" | "resource_server" => 0,
        "key" | "federated_credential" => 1,
        "user" => 2,
        "integration" => 3,
        // Last: removing a trusted issuer removes the credentials that name it.
        _ => 4,
    };
    deletions.sort_by_key(order);
    plan.changes.extend(deletions);
    Ok(plan)
}
