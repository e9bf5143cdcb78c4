//! `tessera private-token …` (SPEC §7, §10): the logged-in integration's private key/value store
//! (its token needs `private_tokens`), or, with `--integration`, another integration's entries as
//! a tenant admin sees them. A value is read from a file or standard input, never from argv:
//! private tokens are mostly other systems' credentials.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::json;

use crate::remote::{confirm, Output, Session, SessionArgs, Usage};

/// What a path segment keeps as it is: RFC 3986's unreserved characters; the rest, `/`
/// included, is percent-encoded so that a `relatedId` or key is one segment whatever it holds.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

const COLUMNS: &[(&str, &str)] = &[
    ("RELATED_ID", "relatedId"),
    ("KEY", "key"),
    ("SIZE", "size"),
    ("UPDATED", "updated_at"),
];

/// Whose store: the logged-in integration's own, or (a tenant admin) another's.
#[derive(Args, Debug)]
pub struct Store {
    #[command(flatten)]
    session: SessionArgs,
    /// As a tenant admin: the entries of this integration (its client_id).
    #[arg(long, value_name = "CLIENT_ID")]
    integration: Option<String>,
}

impl Store {
    fn root(&self) -> String {
        match &self.integration {
            Some(id) => format!(
                "/v1/integrations/{}/private_tokens",
                utf8_percent_encode(id.trim(), SEGMENT)
            ),
            None => "/v1/private_tokens".into(),
        }
    }

    fn entry(&self, related_id: &str, key: Option<&str>) -> String {
        let mut path = format!(
            "{}/{}",
            self.root(),
            utf8_percent_encode(related_id, SEGMENT)
        );
        if let Some(key) = key {
            path.push('/');
            path.extend(utf8_percent_encode(key, SEGMENT));
        }
        path
    }
}

#[derive(Subcommand)]
pub enum PrivateTokenCommand {
    /// Entries (names and sizes; values with --include-values), every page followed.
    ///
    /// Example: tessera private-token list --related-id-prefix customer- --output json
    List {
        #[command(flatten)]
        store: Store,
        /// Only this relatedId.
        #[arg(long, conflicts_with = "related_id_prefix")]
        related_id: Option<String>,
        /// Only relatedIds that start with this.
        #[arg(long)]
        related_id_prefix: Option<String>,
        /// Only this key.
        #[arg(long)]
        key: Option<String>,
        /// The values too (with --output json).
        #[arg(long)]
        include_values: bool,
        /// Entries asked for per page (every page is followed).
        #[arg(long, default_value_t = 200)]
        page_size: u32,
    },
    /// One entry: its value alone, or the whole entry with --output json.
    ///
    /// Example: tessera private-token get customer-42 erp.password > erp-password
    Get {
        #[command(flatten)]
        store: Store,
        related_id: String,
        key: String,
    },
    /// Create or replace an entry; the value from --value-file or standard input, as it is.
    ///
    /// Example: tessera private-token put customer-42 erp.password --value-file erp-password
    #[command(visible_aliases = ["create", "update"])]
    Put {
        #[command(flatten)]
        session: SessionArgs,
        related_id: String,
        key: String,
        /// A file holding the value; without it, standard input is read.
        #[arg(long)]
        value_file: Option<PathBuf>,
    },
    /// Delete one entry, or every entry of a relatedId when no key is given: asks on a
    /// terminal, or give `--yes`.
    ///
    /// Example: tessera private-token delete customer-42 erp.password --yes
    Delete {
        #[command(flatten)]
        store: Store,
        related_id: String,
        key: Option<String>,
        /// Delete without asking (what a script passes).
        #[arg(long)]
        yes: bool,
    },
}

pub async fn run(cmd: PrivateTokenCommand) -> anyhow::Result<()> {
    match cmd {
        PrivateTokenCommand::List {
            store,
            related_id,
            related_id_prefix,
            key,
            include_values,
            page_size,
        } => {
            let session = Session::open(&store.session).await?;
            let mut query = Vec::new();
            for (name, value) in [
                ("relatedId", related_id),
                ("relatedId_prefix", related_id_prefix),
                ("key", key),
            ] {
                if let Some(value) = value {
                    query.push(format!("{name}={}", utf8_percent_encode(&value, SEGMENT)));
                }
            }
            if include_values {
                query.push("include_values=true".into());
            }
            let path = if query.is_empty() {
                store.root()
            } else {
                format!("{}?{}", store.root(), query.join("&"))
            };
            let all = session.list_all(&path, "private_tokens", page_size).await?;
            session.print(&json!({ "private_tokens": all }), &all, COLUMNS);
        }
        PrivateTokenCommand::Get {
            store,
            related_id,
            key,
        } => {
            let session = Session::open(&store.session).await?;
            let found = session
                .call(
                    reqwest::Method::GET,
                    &store.entry(&related_id, Some(&key)),
                    None,
                )
                .await?;
            if session.output == Output::Table && session.fields.is_empty() {
                print!("{}", found["value"].as_str().unwrap_or_default());
            } else {
                session.print(&found, std::slice::from_ref(&found), COLUMNS);
            }
        }
        PrivateTokenCommand::Put {
            session,
            related_id,
            key,
            value_file,
        } => {
            // A value typed on a terminal would end with whatever the shell adds: not offered.
            if value_file.is_none() && std::io::IsTerminal::is_terminal(&std::io::stdin()) {
                return Err(Usage(
                    "give the value with --value-file FILE or on standard input".into(),
                )
                .into());
            }
            let value = crate::remote::read_input(value_file.as_deref(), "the value")?;
            let session = Session::open(&session).await?;
            let stored = session
                .call(
                    reqwest::Method::POST,
                    "/v1/private_tokens",
                    Some(&json!({"relatedId": related_id, "key": key, "value": value})),
                )
                .await?;
            session.print(&stored, std::slice::from_ref(&stored), COLUMNS);
        }
        PrivateTokenCommand::Delete {
            store,
            related_id,
            key,
            yes,
        } => {
            let what = match &key {
                Some(key) => format!("delete the private token {related_id} {key}"),
                None => format!("delete every private token of {related_id}"),
            };
            confirm(&what, yes)?;
            let session = Session::open(&store.session).await?;
            let answer = session
                .call(
                    reqwest::Method::DELETE,
                    &store.entry(&related_id, key.as_deref()),
                    None,
                )
                .await?;
            let what = match &key {
                Some(key) => format!("{related_id} {key}"),
                None => format!(
                    "{} entries of {related_id}",
                    answer["deleted"].as_u64().unwrap_or(0)
                ),
            };
            if session.output == Output::Json && !answer.is_null() {
                println!("{answer}");
            }
            eprintln!("deleted {what}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_relatedid_and_key_make_one_path_segment_each() {
        let store = Store {
            session: SessionArgs {
                profile: "default".into(),
                output: Output::Table,
                fields: Vec::new(),
                server: None,
                client_id: None,
                client_secret_file: None,
            },
            integration: None,
        };
        assert_eq!(
            store.entry("crm.v2", Some("a/b?c#d e%")),
            "/v1/private_tokens/crm.v2/a%2Fb%3Fc%23d%20e%25"
        );
        assert_eq!(
            store.entry("customer-42", None),
            "/v1/private_tokens/customer-42"
        );
    }
}
