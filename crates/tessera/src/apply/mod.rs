//! `tessera apply -f tessera.yaml` (SPEC §10): makes a tenant's integrations (with their keys),
//! access policies, users and app authorizations match a file, over the same API as every other
//! admin command — GitOps in the manner of `kubectl apply` and Terraform.
//!
//! Objects are matched by stable names (an integration's or a policy's `display_name`, a user's
//! `email`, an authorization's `app_name`), never by generated ids, so one file serves every
//! environment. Only the fields a file gives are managed; the others are left as they are. The
//! plan is made from one read of the tenant, then carried out in dependency order (integrations
//! before the policies naming them, deletions last, in reverse); applying a file twice plans
//! nothing the second time.

mod carry_out;
mod current;
mod desired;
mod file;
mod kinds;
mod plan;

use std::path::{Path, PathBuf};

use anyhow::bail;
use serde_json::{json, Value};

use crate::remote::{Output, Session, SessionArgs, Usage};
use carry_out::*;
use current::*;
use desired::*;
pub use file::*;
use kinds::*;
use plan::*;

#[derive(clap::Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    session: SessionArgs,
    /// The file (YAML, or JSON); `-` reads standard input.
    #[arg(long, short = 'f', required_unless_present = "schema")]
    file: Option<PathBuf>,
    /// Print the plan and change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Also delete what the file does not name (never the integration apply runs as, nor the
    /// tenant's last admin user).
    #[arg(long)]
    prune: bool,
    /// Carry out deletions and replacements without asking (what a script passes); without it
    /// they are asked about on a terminal.
    #[arg(long)]
    yes: bool,
    /// Print the file format's JSON Schema and exit.
    #[arg(long, conflicts_with_all = ["file", "dry_run", "prune"])]
    schema: bool,
}

pub async fn run(args: ApplyArgs) -> anyhow::Result<()> {
    if args.schema {
        println!(
            "{}",
            serde_json::to_string_pretty(&schema()).unwrap_or_default()
        );
        return Ok(());
    }
    let path = args
        .file
        .clone()
        .ok_or_else(|| Usage("give the file with -f".into()))?;
    let (file, base) = read_file(&path)?;
    let secrets_file = file.secrets_file.as_ref().map(|p| base.join(p));
    let wanted = Desired::from_file(&file, &base)?;
    let session = Session::open(&args.session).await?;
    let current = read_tenant(&session, &wanted).await?;
    if let Some(tenant) = &file.tenant {
        if tenant.trim_start_matches("tenant/") != current.tenant_id.trim_start_matches("tenant/") {
            bail!(
                "{} is for {tenant}, but the integration logged in belongs to {}: log in to the right tenant (tessera login --profile …)",
                path.display(),
                current.tenant_id
            );
        }
    }
    let plan = make_plan(&wanted, &current, args.prune)?;
    let json_out = args.session.output == Output::Json;
    let file_name = path.display().to_string();
    if !json_out {
        print_plan(&plan, &file_name);
    }
    let mut made = Secrets::new(secrets_file);
    let applied = if args.dry_run || plan.pending() == 0 {
        false
    } else {
        let destroyed = plan.destructive();
        if destroyed > 0 {
            crate::remote::confirm(
                &format!(
                    "apply deletes or replaces {destroyed} object(s) of {}",
                    plan.tenant_id
                ),
                args.yes,
            )?;
        }
        let result = carry_out(&session, &plan, &current, &mut made).await;
        if let Err(e) = result {
            made.rescue();
            return Err(e);
        }
        true
    };
    if json_out {
        let mut out = serde_json::to_value(&plan)?;
        out["dry_run"] = json!(args.dry_run);
        out["applied"] = json!(applied);
        if made.file.is_none() && !made.made.is_empty() {
            out["secrets"] = Value::Object(made.made.clone());
        }
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else if plan.pending() == 0 {
        println!(
            "Nothing to change: {} matches {file_name}.",
            current.tenant_id
        );
    } else if args.dry_run {
        println!("Dry run: nothing was changed.");
    } else {
        made.print_once();
        println!("Applied.");
    }
    Ok(())
}

/// The file parsed (YAML is a superset of JSON), and the folder its relative paths start from.
fn read_file(path: &Path) -> anyhow::Result<(TenantFile, PathBuf)> {
    let text = crate::remote::read_input(Some(path), "the file")?;
    // Relative paths in the file start from its folder (from here for standard input).
    let base = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let file: TenantFile = serde_yaml_ng::from_str(&text).map_err(|e| {
        Usage(format!(
            "{}: {e} (the format: tessera apply --schema)",
            path.display()
        ))
    })?;
    if file.version != FORMAT_VERSION {
        return Err(Usage(format!(
            "{}: version {} is not one this tessera reads (it reads {FORMAT_VERSION})",
            path.display(),
            file.version
        ))
        .into());
    }
    Ok((file, base))
}
