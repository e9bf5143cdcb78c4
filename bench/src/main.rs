//! `tessera-bench`: the measuring half of `bench/run.sh`.
//!
//! - `sign`: raw signing rate of the server's own current key (read from its database with its
//!   master key), on N threads, for the ratio the issue asks for.
//! - `seed` / `list`: assets for the resource API's figures (see `assets.rs`).
//! - `seed-private`: a million private tokens (see `private_tokens.rs`).
//! - `webhooks`: the webhook delivery rate to a loopback receiver (see `webhooks.rs`).
//! - `seed-tms`: customer tenants that authorized an application (see `tms.rs`).
//! - `postgres`, `seed-scale`, `propagation`: the scale part (see `scale.rs`).
//! - `assertions`: pre-signed JWT bearer assertions for the jwt-bearer issuance rate.
//! - `agents`: authorize with a remembered consent, code exchange and refresh rotation, each at
//!   its peak and at half of it (see `agents.rs`).
//! - `signals`: how soon N resource servers subscribed by Shared Signals refuse a revoked
//!   token (see `signals.rs`).
//! - `verify`: `tessera-verify` checking a token of the server's with the key cached, against
//!   the bare signature check (see `verify.rs`).
//! - `load`: an open-loop HTTP load generator at a fixed rate, for latency at a given load
//!   (wrk measures peak throughput; it cannot hold a rate).
//!
//! Its own request loop is deliberately plain (blocking sockets, one thread per connection):
//! see `load.rs` for why.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};

mod agents;
mod assets;
mod load;
mod private_tokens;
mod scale;
mod sign;
mod signals;
mod tms;
mod verify;
mod webhooks;

fn arg<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let seconds: u64 = arg(&args, "--seconds")
        .unwrap_or("5")
        .parse()
        .context("--seconds")?;
    let duration = Duration::from_secs(seconds);
    match args.get(1).map(String::as_str) {
        Some("sign") => {
            let database = arg(&args, "--database").context("--database sqlite://… of the server")?;
            let threads: usize = arg(&args, "--threads").unwrap_or("2").parse().context("--threads")?;
            sign::run(database, threads, duration)
        }
        Some("load") => {
            let url = arg(&args, "--url").context("--url")?.to_owned();
            let rate: u64 = arg(&args, "--rate").context("--rate requests per second")?.parse()?;
            let connections: usize = arg(&args, "--connections").unwrap_or("16").parse()?;
            let body = arg(&args, "--body").unwrap_or("grant_type=client_credentials&scope=assets%3Aread").to_owned();
            let auth = arg(&args, "--basic").context("--basic id:secret")?.to_owned();
            let dpop = match arg(&args, "--dpop") {
                Some(alg) => Some(tessera_core::token::SigningAlg::parse(alg).context("--dpop RS256|ES256|EdDSA")?),
                None => None,
            };
            load::run(load::Plan { url, rate, connections, body, auth, duration, dpop })
        }
        Some("signals") => {
            let url = arg(&args, "--url").context("--url of the server")?;
            let basic = arg(&args, "--basic").context("--basic id:secret")?;
            let streams: usize = arg(&args, "--streams").unwrap_or("100").parse()?;
            let rounds: usize = arg(&args, "--rounds").unwrap_or("20").parse()?;
            runtime()?.block_on(signals::run(url, basic, streams, rounds))
        }
        Some("verify") => {
            let url = arg(&args, "--url").context("--url of the server")?;
            let basic = arg(&args, "--basic").context("--basic id:secret")?;
            verify::run(url, basic, duration)
        }
        Some("agents") => {
            let r = |name| agents::required(&args, name).map(str::to_owned);
            agents::run(agents::Plan {
                url: r("--url")?,
                authorize: r("--authorize")?,
                cookie: r("--cookie")?,
                client: r("--basic")?,
                redirect_uri: r("--redirect-uri")?,
                verifier: r("--verifier")?,
                connections: arg(&args, "--connections").unwrap_or("16").parse()?,
                duration,
            })
        }
        Some("seed") => {
            let database = arg(&args, "--database").context("--database sqlite://… of the server")?;
            let count: usize = arg(&args, "--count").context("--count")?.parse()?;
            runtime()?.block_on(assets::seed(database, count))
        }
        Some("webhooks") => {
            let database = arg(&args, "--database").context("--database sqlite://… of the server")?;
            let key = arg(&args, "--master-key").context("--master-key (the server's)")?;
            let connections: usize = arg(&args, "--connections").unwrap_or("1").parse()?;
            let per: usize = arg(&args, "--per-connection").unwrap_or("1000").parse()?;
            runtime()?.block_on(webhooks::run(database, key, connections, per))
        }
        Some("seed-tms") => {
            let database = arg(&args, "--database").context("--database sqlite://… of the server")?;
            let app = arg(&args, "--app").context("--app NAME")?;
            let tenants: usize = arg(&args, "--tenants").unwrap_or("5").parse()?;
            runtime()?.block_on(tms::seed(database, app, tenants))
        }
        Some("assertions") => {
            let count: usize = arg(&args, "--count").context("--count")?.parse()?;
            assets::assertions(
                count,
                arg(&args, "--alg").unwrap_or("EdDSA"),
                arg(&args, "--issuer").context("--issuer")?,
                arg(&args, "--subject").context("--subject")?,
                arg(&args, "--audience").context("--audience")?,
                arg(&args, "--out").context("--out FILE")?,
                arg(&args, "--jwk-out").context("--jwk-out FILE")?,
            )
        }
        Some("seed-private") => {
            let entries: usize = arg(&args, "--entries").context("--entries")?.parse()?;
            let related: usize = arg(&args, "--related").context("--related")?.parse()?;
            runtime()?.block_on(private_tokens::seed(
                arg(&args, "--database").context("--database URL")?,
                arg(&args, "--client").context("--client ID")?,
                arg(&args, "--master-key").context("--master-key KEY")?,
                entries,
                related,
            ))
        }
        Some("postgres") => {
            let databases: usize = arg(&args, "--databases").unwrap_or("1").parse()?;
            scale::postgres(databases)
        }
        Some("seed-scale") => runtime()?.block_on(scale::seed(
            arg(&args, "--database").context("--database URL")?,
            arg(&args, "--tenants").unwrap_or("10000").parse()?,
            arg(&args, "--integrations").unwrap_or("100000").parse()?,
            arg(&args, "--secret").context("--secret (given to every seeded integration)")?,
            args.iter().any(|a| a == "--into-operator"),
        )),
        Some("propagation") => runtime()?.block_on(scale::propagation(
            arg(&args, "--a").context("--a URL of instance A")?,
            arg(&args, "--b").context("--b URL of instance B")?,
            arg(&args, "--id").context("--id of an admin integration")?,
            arg(&args, "--secret").context("--secret")?,
            arg(&args, "--rounds").unwrap_or("5").parse()?,
        )),
        Some("list") => {
            let url = arg(&args, "--url").context("--url …/v2/assets")?;
            let bearer = arg(&args, "--bearer").context("--bearer TOKEN")?;
            let size: u32 = arg(&args, "--page-size").unwrap_or("100").parse()?;
            runtime()?.block_on(assets::list(url, bearer, size))
        }
        _ => bail!("usage: tessera-bench postgres [--databases N]\n       tessera-bench seed-scale --database URL --secret S [--tenants N] [--integrations M]\n       tessera-bench propagation --a URL --b URL --id ID --secret S [--rounds N]\n       tessera-bench seed-private --database URL --client ID --master-key KEY --entries N --related R\n       tessera-bench seed-tms --database URL --app NAME [--tenants N]\n       tessera-bench webhooks --database URL --master-key KEY [--connections C] [--per-connection N]\n       tessera-bench assertions --count N [--alg RS256|ES256|EdDSA] --issuer ID --subject USER --audience URL --out FILE --jwk-out FILE\n       tessera-bench seed --database URL --count N\n       tessera-bench list --url URL --bearer TOKEN [--page-size N]\n       tessera-bench signals --url URL --basic ID:SECRET [--streams N] [--rounds R]\n       tessera-bench sign --database URL [--threads N] [--seconds S]\n       tessera-bench load --url URL --rate R|0 --basic ID:SECRET [--connections C] [--body FORM] [--dpop ALG] [--seconds S]\n       tessera-bench agents --url URL --authorize PATH --cookie C --basic ID:SECRET --redirect-uri URI --verifier V [--connections C] [--seconds S]"),
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

/// Percentile of sorted latencies, in milliseconds.
fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

/// A client-credentials token of `id` from the server at `url`.
async fn token_of(
    http: &reqwest::Client,
    url: &str,
    id: &str,
    secret: &str,
) -> anyhow::Result<String> {
    let answer: serde_json::Value = http
        .post(format!("{url}/oauth2/token"))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await?
        .json()
        .await?;
    Ok(answer["access_token"]
        .as_str()
        .context("no token from the server")?
        .to_owned())
}

fn elapsed_rate(count: u64, start: Instant) -> f64 {
    count as f64 / start.elapsed().as_secs_f64()
}
