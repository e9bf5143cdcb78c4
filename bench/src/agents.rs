//! The agents part (SPEC §12, §15): `/oauth2/authorize` for a signed-in person whose consent is
//! remembered (answered with a 303 and a code), the code's exchange at `/oauth2/token`, and a
//! refresh-token rotation. Each at its peak (closed loop) and then open-loop at half of it.
//! Every code and refresh token is used once, as clients use them: the authorize runs yield
//! the codes the exchange runs redeem, whose refresh tokens the refresh runs rotate. A run
//! that runs out of them ends early and says how many it sent.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::load::{drive, form_post, get_with_cookie, split_url, Done, Keep, Load};

pub struct Plan {
    /// `http://host:port` of the server.
    pub url: String,
    /// The authorize request's path and query (PKCE S256 with `verifier`'s challenge).
    pub authorize: String,
    pub cookie: String,
    /// `client_id:client_secret`.
    pub client: String,
    pub redirect_uri: String,
    pub verifier: String,
    pub connections: usize,
    pub duration: Duration,
}

/// Percent-encodes all but RFC 3986's unreserved characters.
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The `code` of a `Location` the authorize endpoint sent back.
fn code_of(location: &str) -> Option<&str> {
    let query = location.split_once('?')?.1;
    query.split('&').find_map(|kv| kv.strip_prefix("code="))
}

fn report(step: &str, peak: &Done, half_rate: u64, half: &Done) {
    println!(
        "RESULT {step} rps={:.0} p50_ms={:.2} p99_ms={:.2} half_rate={half_rate} half_sent={} \
         half_achieved={:.0} half_median_ms={:.2} half_tail_ms={:.2} errors={}",
        peak.rate(),
        peak.p(0.50),
        peak.p(0.99),
        half.latencies.len(),
        half.rate(),
        half.p(0.50),
        half.p(0.99),
        peak.errors + half.errors,
    );
}

pub fn run(plan: Plan) -> anyhow::Result<()> {
    let (authority, _) = split_url(&plan.url)?;
    let load = |requests: Vec<Vec<u8>>, cycle, rate, keep| Load {
        authority: authority.clone(),
        requests: Arc::new(requests),
        cycle,
        rate,
        connections: plan.connections,
        duration: plan.duration,
        keep,
    };
    let authorize = get_with_cookie(&authority, &plan.authorize, &plan.cookie);
    let exchanges = |done: &Done| -> Vec<Vec<u8>> {
        let redirect = enc(&plan.redirect_uri);
        done.kept
            .iter()
            .filter_map(|l| code_of(l))
            .map(|code| {
                let body = format!(
                    "grant_type=authorization_code&code={code}&redirect_uri={redirect}&code_verifier={}",
                    plan.verifier
                );
                form_post(&authority, "/oauth2/token", &plan.client, &body)
            })
            .collect()
    };
    let refreshes = |done: &Done| -> Vec<Vec<u8>> {
        done.kept
            .iter()
            .filter_map(|b| serde_json::from_str::<serde_json::Value>(b).ok())
            .filter_map(|v| v["refresh_token"].as_str().map(enc))
            .map(|t| {
                let body = format!("grant_type=refresh_token&refresh_token={t}");
                form_post(&authority, "/oauth2/token", &plan.client, &body)
            })
            .collect()
    };

    // Peaks: each run's leavings feed the next.
    let auth_peak = drive(&load(vec![authorize.clone()], true, None, Keep::Location))?;
    anyhow::ensure!(
        !auth_peak.kept.is_empty(),
        "the authorize endpoint gave no codes"
    );
    let exchange_peak = drive(&load(exchanges(&auth_peak), false, None, Keep::Body))?;
    let refresh_peak = drive(&load(refreshes(&exchange_peak), false, None, Keep::Nothing))?;

    // Half of each peak, open-loop, in the same chain.
    let half = |d: &Done| (d.rate() / 2.0) as u64;
    let auth_half = drive(&load(
        vec![authorize.clone()],
        true,
        Some(half(&auth_peak)),
        Keep::Location,
    ))?;
    // Codes as fast as they come, when a half-peak run needs more than the one before it left.
    let more_codes = || drive(&load(vec![authorize.clone()], true, None, Keep::Location));
    // Enough codes for the exchange at half its peak: more authorizations if the first half-run
    // gave too few (the codes live 60 s).
    let mut codes = exchanges(&auth_half);
    let wanted = (half(&exchange_peak) * plan.duration.as_secs()) as usize;
    if codes.len() < wanted {
        codes.extend(exchanges(&more_codes()?));
    }
    let exchange_half = drive(&load(codes, false, Some(half(&exchange_peak)), Keep::Body))?;
    let mut tokens = refreshes(&exchange_half);
    let wanted = (half(&refresh_peak) * plan.duration.as_secs()) as usize;
    if tokens.len() < wanted {
        // The refresh tokens the peak's rotation gave are spent; fresh families from a
        // closed-loop exchange of new codes.
        let exchanged = drive(&load(exchanges(&more_codes()?), false, None, Keep::Body))?;
        tokens.extend(refreshes(&exchanged));
    }
    let refresh_half = drive(&load(
        tokens,
        false,
        Some(half(&refresh_peak)),
        Keep::Nothing,
    ))?;

    report("authorize", &auth_peak, half(&auth_peak), &auth_half);
    report(
        "exchange",
        &exchange_peak,
        half(&exchange_peak),
        &exchange_half,
    );
    report("refresh", &refresh_peak, half(&refresh_peak), &refresh_half);
    Ok(())
}

/// Reads `--name` or fails naming it.
pub fn required<'a>(args: &'a [String], name: &str) -> anyhow::Result<&'a str> {
    super::arg(args, name).with_context(|| format!("{name} is required"))
}
