//! What a policy allows, said in words for its page.

use tessera_core::id::ClientId;
use tessera_core::policy::EventVisibility;

use crate::extract::TenantAdmin;
use crate::state::AppState;
use crate::wire::{AccessPolicyView, ActorWire};

/// An actor in words, for the policy's page.
pub(super) fn actor_words(state: &AppState, api: &TenantAdmin, a: &ActorWire) -> String {
    if let Some(email) = &a.email {
        return format!("the user {email}");
    }
    let id = a.client_id.clone().unwrap_or_default();
    match id
        .parse::<ClientId>()
        .ok()
        .and_then(|c| state.clients.integration_name(&api.tenant, &c))
    {
        Some(name) => format!("the integration {name}"),
        None => format!("the integration with CLIENT_ID {id}"),
    }
}

/// What a policy lets each group do, one sentence per group.
pub(super) fn sentences(
    state: &AppState,
    api: &TenantAdmin,
    view: &AccessPolicyView,
) -> Vec<String> {
    let types: Vec<&str> = view
        .filters
        .iter()
        .flat_map(|f| f.asset_types.iter().map(String::as_str))
        .collect();
    let assets = if types.contains(&"*") {
        "all assets".to_owned()
    } else {
        format!("assets of type {}", types.join(", "))
    };
    if view.permissions.is_empty() {
        return vec![format!(
            "It covers {assets} but names no actor, so it lets no one see anything."
        )];
    }
    view.permissions
        .iter()
        .map(|p| {
            let who: Vec<String> = p
                .actors
                .iter()
                .map(|a| actor_words(state, api, a))
                .collect();
            let what = if p.attributes.iter().any(|a| a == "*") {
                "every attribute".to_owned()
            } else {
                format!("only the attributes {}", p.attributes.join(", "))
            };
            let verb = if p.write { "read and change" } else { "read" };
            let events = match p.event_visibility {
                EventVisibility::All => "sees all their events",
                EventVisibility::None => "sees none of their events",
            };
            let write = if p.write {
                "; it may also create and delete such assets and record events"
            } else {
                ""
            };
            let (subject, plural) = match who.len() {
                1 => (who[0].clone(), false),
                _ => (who.join(" and "), true),
            };
            let (may, sees) = if plural {
                ("may", events.replacen("sees", "see", 1))
            } else {
                ("may", events.to_owned())
            };
            format!("{subject} {may} {verb} {what} of {assets}, and {sees}{write}.")
        })
        .map(|s| capitalized(&s))
        .collect()
}

pub(super) fn capitalized(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
