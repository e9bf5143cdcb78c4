//! HTTP load on plain sockets: closed-loop (as fast as the server answers, for peak rates) or
//! open-loop at a fixed rate (for latency at a given load). In the open loop each connection
//! sends on its own schedule and latency is measured from when a request was due, so a slow
//! server cannot hide its queue (no coordinated omission). Each connection is an OS thread
//! with a blocking socket: threads and `std::thread::sleep` keep the generator's own timing
//! error to tens of microseconds, where an async timer rounds to milliseconds.
//!
//! Requests come from a list: one repeated (`cycle`), or each used once (codes, refresh
//! tokens), the run ending early when they run out. What a response leaves (its `Location` or
//! its body) can be kept for the next run.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use base64::Engine;

/// The `load` subcommand: one form POST with Basic auth, open-loop at `rate`.
pub struct Plan {
    pub url: String,
    pub rate: u64,
    pub connections: usize,
    pub body: String,
    pub auth: String,
    pub duration: Duration,
    /// Send each request with a DPoP proof of its own (RFC 9449), made by a key of this
    /// algorithm before the run: the proofs are used once each.
    pub dpop: Option<tessera_core::token::SigningAlg>,
}

/// `http://host:port/path` → (`host:port`, `/path`).
pub fn split_url(url: &str) -> anyhow::Result<(String, String)> {
    let rest = url.strip_prefix("http://").context("only http:// URLs")?;
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    Ok((authority.to_owned(), format!("/{path}")))
}

/// A form POST to `path`, with `Authorization: Basic` of `id:secret`.
pub fn form_post(authority: &str, path: &str, basic: &str, body: &str) -> Vec<u8> {
    let basic = base64::engine::general_purpose::STANDARD.encode(basic);
    format!(
        "POST {path} HTTP/1.1\r\nHost: {authority}\r\nAuthorization: Basic {basic}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// A GET of `path` with a `Cookie` header.
pub fn get_with_cookie(authority: &str, path: &str, cookie: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: {authority}\r\nCookie: {cookie}\r\n\r\n").into_bytes()
}

pub fn run(plan: Plan) -> anyhow::Result<()> {
    let (authority, path) = split_url(&plan.url)?;
    let request = form_post(&authority, &path, &plan.auth, &plan.body);
    let requests = match plan.dpop {
        None => vec![request],
        Some(alg) => dpop_requests(&plan, alg, &request)?,
    };
    let done = drive(&Load {
        authority,
        requests: Arc::new(requests),
        cycle: plan.dpop.is_none(),
        // 0: as fast as the server answers (a peak).
        rate: (plan.rate > 0).then_some(plan.rate),
        connections: plan.connections,
        duration: plan.duration,
        keep: Keep::Nothing,
    })?;
    println!(
        "RESULT load rate={} achieved={:.0} p50_ms={:.2} p99_ms={:.2} errors={}",
        plan.rate,
        done.rate(),
        done.p(0.50),
        done.p(0.99),
        done.errors
    );
    Ok(())
}

/// `request` once per proof: enough for the run at its rate (or 20,000 a second for a peak),
/// each with a `DPoP` header of its own for the request's URL, made now (valid for a minute).
fn dpop_requests(
    plan: &Plan,
    alg: tessera_core::token::SigningAlg,
    request: &[u8],
) -> anyhow::Result<Vec<Vec<u8>>> {
    let per_second = if plan.rate > 0 { plan.rate } else { 20_000 };
    let count = per_second * plan.duration.as_secs().max(1) * 11 / 10 + 100;
    let (key, _) = tessera_core::token::SigningKey::generate(alg, &tessera_core::ports::OsRng)
        .map_err(|e| anyhow::anyhow!("a DPoP key: {e}"))?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let head_end = request
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .context("a request head")?;
    (0..count)
        .map(|i| {
            let claims = serde_json::json!({"jti": format!("bench-{i}"), "htm": "POST", "htu": plan.url, "iat": now});
            let proof = key
                .sign_dpop_proof(&claims)
                .map_err(|e| anyhow::anyhow!("a DPoP proof: {e}"))?;
            let mut with = request[..head_end].to_vec();
            with.extend_from_slice(format!("\r\nDPoP: {proof}").as_bytes());
            with.extend_from_slice(&request[head_end..]);
            Ok(with)
        })
        .collect()
}

/// What to keep of each successful response.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    Nothing,
    Location,
    Body,
}

pub struct Load {
    pub authority: String,
    pub requests: Arc<Vec<Vec<u8>>>,
    /// Repeat the list; otherwise each request is sent once and the run ends when they run out.
    pub cycle: bool,
    /// Requests per second over all connections; `None` for as fast as answered.
    pub rate: Option<u64>,
    pub connections: usize,
    pub duration: Duration,
    pub keep: Keep,
}

pub struct Done {
    /// Sorted.
    pub latencies: Vec<Duration>,
    pub errors: u64,
    pub kept: Vec<String>,
    pub elapsed: Duration,
}

impl Done {
    /// Successful responses per second of the run.
    pub fn rate(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub fn p(&self, p: f64) -> f64 {
        super::percentile(&self.latencies, p)
    }
}

struct Connection {
    latencies: Vec<Duration>,
    errors: u64,
    kept: Vec<String>,
    last: Instant,
}

pub fn drive(load: &Load) -> anyhow::Result<Done> {
    let next = Arc::new(AtomicUsize::new(0));
    let interval = load
        .rate
        .map(|rate| Duration::from_secs_f64(load.connections as f64 / rate.max(1) as f64));
    let start = Instant::now() + Duration::from_millis(200);
    let end = start + load.duration;
    let threads: Vec<_> = (0..load.connections)
        .map(|c| {
            let (authority, requests, next) =
                (load.authority.clone(), load.requests.clone(), next.clone());
            let (cycle, keep, connections) = (load.cycle, load.keep, load.connections);
            let offset = interval.map(|i| i.mul_f64(c as f64 / connections as f64));
            std::thread::spawn(move || {
                let schedule = interval.zip(offset).map(|(i, o)| (start + o, i));
                connection(
                    &authority,
                    &requests,
                    &next,
                    cycle,
                    keep,
                    (start, schedule, end),
                )
            })
        })
        .collect();
    let mut done = Done {
        latencies: Vec::new(),
        errors: 0,
        kept: Vec::new(),
        elapsed: Duration::ZERO,
    };
    let mut last = start;
    for t in threads {
        let c = t
            .join()
            .map_err(|_| anyhow::anyhow!("a load thread panicked"))??;
        done.latencies.extend(c.latencies);
        done.errors += c.errors;
        done.kept.extend(c.kept);
        last = last.max(c.last);
    }
    done.latencies.sort();
    done.elapsed = last.saturating_duration_since(start);
    Ok(done)
}

type Times = (Instant, Option<(Instant, Duration)>, Instant);

fn connection(
    authority: &str,
    requests: &[Vec<u8>],
    next: &AtomicUsize,
    cycle: bool,
    keep: Keep,
    (start, schedule, end): Times,
) -> anyhow::Result<Connection> {
    let mut stream = TcpStream::connect(authority)?;
    stream.set_nodelay(true)?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut c = Connection {
        latencies: Vec::new(),
        errors: 0,
        kept: Vec::new(),
        last: start,
    };
    let mut due = schedule.map_or(start, |(first, _)| first);
    if let Some(wait) = due.checked_duration_since(Instant::now()) {
        std::thread::sleep(wait);
    }
    while due < end {
        let i = next.fetch_add(1, Ordering::Relaxed);
        let Some(request) = (if cycle {
            requests.get(i % requests.len().max(1))
        } else {
            requests.get(i)
        }) else {
            break;
        };
        if schedule.is_none() {
            due = Instant::now();
        }
        stream.write_all(request)?;
        let (status, location, body) = read_response(&mut stream, &mut buf)?;
        c.last = Instant::now();
        match status {
            200..=399 => {
                c.latencies.push(due.elapsed());
                match keep {
                    Keep::Nothing => {}
                    Keep::Location => c.kept.push(location),
                    Keep::Body => c.kept.push(body),
                }
            }
            _ => c.errors += 1,
        }
        match schedule {
            Some((_, interval)) => {
                due += interval;
                if let Some(wait) = due.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
            }
            None => due = Instant::now(),
        }
    }
    Ok(c)
}

/// Reads one HTTP/1.1 response with a Content-Length body: its status, `Location` and body.
fn read_response(stream: &mut TcpStream, buf: &mut [u8]) -> anyhow::Result<(u16, String, String)> {
    let mut filled = 0;
    loop {
        let n = stream.read(&mut buf[filled..])?;
        if n == 0 {
            bail!("the server closed the connection");
        }
        filled += n;
        let Some(head_end) = buf[..filled].windows(4).position(|w| w == b"\r\n\r\n") else {
            if filled == buf.len() {
                bail!("response headers too large");
            }
            continue;
        };
        let head = std::str::from_utf8(&buf[..head_end]).context("response headers")?;
        let status: u16 = head
            .get(9..12)
            .and_then(|s| s.parse().ok())
            .context("status line")?;
        let header = |wanted: &str| {
            head.lines().find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case(wanted)
                    .then(|| value.trim().to_owned())
            })
        };
        let length: usize = header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let location = header("location").unwrap_or_default();
        let total = head_end + 4 + length;
        while filled < total {
            if total > buf.len() {
                bail!("response body too large");
            }
            let n = stream.read(&mut buf[filled..total])?;
            if n == 0 {
                bail!("the server closed the connection");
            }
            filled += n;
        }
        let body = String::from_utf8_lossy(&buf[head_end + 4..total]).into_owned();
        return Ok((status, location, body));
    }
}
