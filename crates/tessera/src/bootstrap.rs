//! First start (SPEC §2): the operator tenant, an admin user and an admin integration (with
//! `admin` and `platform`). Their credentials come from `TESSERA_BOOTSTRAP_*`, or are generated
//! and printed once.

use anyhow::{bail, Context};
use tessera_core::crypto::{generate_client_secret, random_token};
use tessera_core::id::{ClientId, Secret, TenantId};
use tessera_core::ports::OsRng;
use tessera_core::ports::{Clock, Rng, Storage};
use tessera_server::bootstrap::{create_operator_tenant, OperatorSeed};

/// What the first start made, for the banner.
pub struct Bootstrapped {
    pub client_id: ClientId,
    pub email: String,
    /// Set only when generated: then it is printed once.
    pub client_secret: Option<Secret>,
    pub password: Option<Secret>,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Creates the first tenant and its admins when the database has no tenant yet.
pub async fn first_start(
    storage: &dyn Storage,
    clock: &dyn Clock,
    rng: &dyn Rng,
) -> anyhow::Result<Option<Bootstrapped>> {
    if !storage.list_all_tenants().await?.is_empty() {
        return Ok(None);
    }
    let now = clock.now_millis();
    let client_id = match env("TESSERA_BOOTSTRAP_ADMIN_CLIENT_ID") {
        Some(id) => id
            .parse::<ClientId>()
            .context("TESSERA_BOOTSTRAP_ADMIN_CLIENT_ID must be a UUID")?,
        None => ClientId::generate(&OsRng),
    };
    let (secret, secret_generated) = match env("TESSERA_BOOTSTRAP_ADMIN_CLIENT_SECRET") {
        Some(s) if s.len() < 32 => {
            bail!("TESSERA_BOOTSTRAP_ADMIN_CLIENT_SECRET must be at least 32 characters")
        }
        Some(s) => (Secret::new(s), false),
        None => (generate_client_secret(rng), true),
    };
    let email = tessera_core::model::validate_email(
        &env("TESSERA_BOOTSTRAP_ADMIN_EMAIL").unwrap_or_else(|| "admin@localhost".into()),
    )
    .context("TESSERA_BOOTSTRAP_ADMIN_EMAIL")?;
    let (password, password_generated) = match env("TESSERA_BOOTSTRAP_ADMIN_PASSWORD") {
        Some(p) => (Secret::new(p), false),
        None => (Secret::new(random_token(rng, 18)), true),
    };

    // With the client id given, the tenant id is derived from it: instances that start together
    // on one empty database race to create the same tenant, and the losers stand down.
    let tenant_id = match env("TESSERA_BOOTSTRAP_ADMIN_CLIENT_ID") {
        Some(_) => TenantId::from_uuid(derived_uuid(client_id)),
        None => TenantId::generate(&OsRng),
    };
    let seed = OperatorSeed {
        tenant_id,
        client_id,
        client_secret: secret.clone(),
        email: email.clone(),
        password: password.clone(),
    };
    if !create_operator_tenant(storage, now, &seed, &OsRng).await? {
        return Ok(None);
    }
    Ok(Some(Bootstrapped {
        client_id,
        email,
        client_secret: secret_generated.then_some(secret),
        password: password_generated.then_some(password),
    }))
}

/// The first-start banner. Generated secrets appear here and nowhere else.
pub fn banner(b: &Bootstrapped, issuer: &str) -> String {
    let mut out = String::from(
        "\nFirst start: created the operator tenant, an admin user and an admin integration (admin, platform).\n",
    );
    out.push_str(&format!("  admin user:        {}\n", b.email));
    if let Some(p) = &b.password {
        out.push_str(&format!("  admin password:    {}\n", p.expose()));
    }
    out.push_str(&format!("  admin client_id:   {}\n", b.client_id));
    match &b.client_secret {
        Some(s) => {
            out.push_str(&format!("  admin secret:      {}\n", s.expose()));
            out.push_str("Save these now: they are not shown again. Get a token with:\n\n");
            out.push_str(&format!(
                "  curl -s -u '{}:{}' -d grant_type=client_credentials {}/oauth2/token\n\n",
                b.client_id,
                s.expose(),
                issuer.trim_end_matches('/')
            ));
        }
        None => out.push_str("  (secrets taken from TESSERA_BOOTSTRAP_*; not printed)\n\n"),
    }
    out.push_str(&format!(
        "Or sign in to the console as the admin user: {}/console\n\n",
        issuer.trim_end_matches('/')
    ));
    out
}

/// A UUID (v4 layout) derived from the admin client id, so every instance derives the same one.
fn derived_uuid(client_id: ClientId) -> uuid::Uuid {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("tessera bootstrap tenant {client_id}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}
