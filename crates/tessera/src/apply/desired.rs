//! What the file asks for, in the API's names and shapes: fields, keys with their `kid`s, first passwords.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Context};
use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::remote::Usage;

use super::*;

/// Every object the file asks for, as the API spells it.
pub(super) struct Desired {
    pub(super) trusted_issuers: Vec<Wanted>,
    pub(super) resource_servers: Vec<Wanted>,
    pub(super) integrations: Vec<Wanted>,
    /// Platform identities by integration name, for the integrations that list them.
    pub(super) credentials: BTreeMap<String, Vec<Wanted>>,
    /// Keys by integration name, for the integrations that list them: (kid, body to send).
    pub(super) keys: BTreeMap<String, Vec<WantedKey>>,
    pub(super) policies: Vec<Wanted>,
    pub(super) users: Vec<Wanted>,
    pub(super) app_authorizations: Vec<Wanted>,
}

pub(super) fn fields_of(spec: &impl Serialize) -> anyhow::Result<Map<String, Value>> {
    let Value::Object(mut map) = serde_json::to_value(spec)? else {
        bail!("not an object");
    };
    map.retain(|_, v| !v.is_null());
    Ok(map)
}

impl Desired {
    pub(super) fn from_file(file: &TenantFile, base: &Path) -> anyhow::Result<Desired> {
        let mut desired = Desired {
            trusted_issuers: Vec::new(),
            resource_servers: Vec::new(),
            integrations: Vec::new(),
            credentials: BTreeMap::new(),
            keys: BTreeMap::new(),
            policies: Vec::new(),
            users: Vec::new(),
            app_authorizations: Vec::new(),
        };
        for spec in &file.trusted_issuers {
            desired.trusted_issuers.push(Wanted {
                name: spec.issuer.clone(),
                fields: fields_of(spec)?,
                on_create: Map::new(),
            });
        }
        for spec in &file.resource_servers {
            desired.resource_servers.push(Wanted {
                name: spec.identifier.clone(),
                fields: fields_of(spec)?,
                on_create: Map::new(),
            });
        }
        for spec in &file.integrations {
            let mut on_create = Map::new();
            if spec.secretless == Some(true) {
                on_create.insert("secretless".into(), json!(true));
            }
            desired.integrations.push(Wanted {
                name: spec.display_name.clone(),
                fields: fields_of(spec)?,
                on_create,
            });
            if let Some(credentials) = &spec.federated_credentials {
                let wanted = credentials
                    .iter()
                    .map(|c| {
                        Ok(Wanted {
                            name: c.subject.clone(),
                            fields: fields_of(c)?,
                            on_create: Map::new(),
                        })
                    })
                    .collect::<anyhow::Result<Vec<_>>>()?;
                desired
                    .credentials
                    .insert(spec.display_name.clone(), wanted);
            }
            if let Some(keys) = &spec.keys {
                let keys = keys
                    .iter()
                    .map(|k| key_body(k, base, &spec.display_name))
                    .collect::<anyhow::Result<Vec<_>>>()?;
                desired.keys.insert(spec.display_name.clone(), keys);
            }
        }
        for spec in &file.access_policies {
            for actor in spec.permissions.iter().flat_map(|p| &p.actors) {
                let given = [&actor.integration, &actor.client_id, &actor.email]
                    .iter()
                    .filter(|a| a.is_some())
                    .count();
                if given != 1 {
                    return Err(Usage(format!(
                        "access policy `{}`: each actor is exactly one of integration, client_id and email",
                        spec.display_name
                    ))
                    .into());
                }
            }
            desired.policies.push(Wanted {
                name: spec.display_name.clone(),
                fields: fields_of(spec)?,
                on_create: Map::new(),
            });
        }
        for spec in &file.users {
            let mut on_create = Map::new();
            if let Some(password) = first_password(spec, base)? {
                on_create.insert("password".into(), json!(password));
            }
            desired.users.push(Wanted {
                name: spec.email.clone(),
                fields: fields_of(spec)?,
                on_create,
            });
        }
        for spec in &file.app_authorizations {
            desired.app_authorizations.push(Wanted {
                name: spec.app_name.clone(),
                fields: fields_of(spec)?,
                on_create: Map::new(),
            });
        }
        for (integration, credentials) in &desired.credentials {
            let mut seen = std::collections::HashSet::new();
            for c in credentials {
                if !seen.insert((c.fields["issuer"].to_string(), c.name.clone())) {
                    return Err(Usage(format!(
                        "integration `{integration}`: the platform identity `{}` is listed twice for one issuer",
                        c.name
                    ))
                    .into());
                }
            }
        }
        for (label, list) in [
            ("trusted_issuers", &desired.trusted_issuers),
            ("resource_servers", &desired.resource_servers),
            ("integrations", &desired.integrations),
            ("access_policies", &desired.policies),
            ("users", &desired.users),
            ("app_authorizations", &desired.app_authorizations),
        ] {
            let mut seen = std::collections::HashSet::new();
            for w in list {
                if !seen.insert(w.name.as_str()) {
                    return Err(Usage(format!(
                        "{label}: `{}` is named twice; names are what apply matches on",
                        w.name
                    ))
                    .into());
                }
            }
        }
        Ok(desired)
    }
}

/// A key's `kid` as the server will compute it, and the body that registers it.
pub(super) type WantedKey = (String, Map<String, Value>);

/// The [`WantedKey`] of a key in the file.
pub(super) fn key_body(
    spec: &KeySpec,
    base: &Path,
    integration: &str,
) -> anyhow::Result<WantedKey> {
    use tessera_core::model::ClientKey;
    let now = time::OffsetDateTime::now_utc().unix_timestamp() * 1000;
    let placeholder = tessera_core::id::ClientId::from_uuid(uuid::Uuid::nil());
    let in_words = |e: tessera_core::error::DomainError| {
        Usage(format!("integration `{integration}`, a key: {e}"))
    };
    let (key, (field, value)) = match (&spec.certificate_file, &spec.certificate, &spec.jwk) {
        (Some(file), None, None) => {
            let path = base.join(file);
            let pem = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let key = ClientKey::from_certificate_pem(placeholder, &pem, now).map_err(in_words)?;
            (key, ("certificate", json!(pem)))
        }
        (None, Some(pem), None) => {
            let key = ClientKey::from_certificate_pem(placeholder, pem, now).map_err(in_words)?;
            (key, ("certificate", json!(pem)))
        }
        (None, None, Some(jwk)) => {
            let key = ClientKey::from_jwk(placeholder, jwk, now).map_err(in_words)?;
            (key, ("jwk", jwk.clone()))
        }
        _ => {
            return Err(Usage(format!(
                "integration `{integration}`: a key is exactly one of certificate_file, certificate and jwk"
            ))
            .into())
        }
    };
    let mut body = Map::new();
    body.insert(field.to_owned(), value);
    Ok((key.kid, body))
}

pub(super) fn first_password(spec: &UserSpec, base: &Path) -> anyhow::Result<Option<String>> {
    match (&spec.password_file, &spec.password_env) {
        (Some(_), Some(_)) => Err(Usage(format!(
            "user {}: give password_file or password_env, not both",
            spec.email
        ))
        .into()),
        (Some(file), None) => {
            let path = base.join(file);
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            Ok(Some(text.trim_end_matches(['\r', '\n']).to_owned()))
        }
        (None, Some(var)) => std::env::var(var).map(Some).map_err(|_| {
            anyhow::anyhow!(
                "user {}: the environment variable {var} (password_env) is not set",
                spec.email
            )
        }),
        (None, None) => Ok(None),
    }
}
