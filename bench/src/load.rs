//! Open-loop load at a fixed rate. Each connection is an OS thread with a blocking socket that
//! sends on its own schedule; latency is measured from when a request was due, so a slow server
//! cannot hide its queue (no coordinated omission). Threads and `std::thread::sleep` keep the
//! generator's own timing error to tens of microseconds, where an async timer rounds to
//! milliseconds.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use base64::Engine;

pub struct Plan {
    pub url: String,
    pub rate: u64,
    pub connections: usize,
    pub body: String,
    pub auth: String,
    pub duration: Duration,
}

/// `http://host:port/path` → (`host:port`, `/path`).
fn split_url(url: &str) -> anyhow::Result<(String, String)> {
    let rest = url.strip_prefix("http://").context("only http:// URLs")?;
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    Ok((authority.to_owned(), format!("/{path}")))
}

pub fn run(plan: Plan) -> anyhow::Result<()> {
    let (authority, path) = split_url(&plan.url)?;
    let basic = base64::engine::general_purpose::STANDARD.encode(&plan.auth);
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {authority}\r\nAuthorization: Basic {basic}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{}",
        plan.body.len(),
        plan.body
    )
    .into_bytes();
    let interval = Duration::from_secs_f64(plan.connections as f64 / plan.rate as f64);
    let start = Instant::now() + Duration::from_millis(200);
    let threads: Vec<_> = (0..plan.connections)
        .map(|c| {
            let (authority, request) = (authority.clone(), request.clone());
            let offset = interval.mul_f64(c as f64 / plan.connections as f64);
            let end = start + plan.duration;
            std::thread::spawn(move || {
                connection(&authority, &request, start + offset, interval, end)
            })
        })
        .collect();
    let mut all = Vec::new();
    let mut errors = 0;
    for t in threads {
        let (latencies, e) = t
            .join()
            .map_err(|_| anyhow::anyhow!("a load thread panicked"))??;
        all.extend(latencies);
        errors += e;
    }
    all.sort();
    println!(
        "RESULT load rate={} achieved={:.0} p50_ms={:.2} p99_ms={:.2} errors={errors}",
        plan.rate,
        all.len() as f64 / plan.duration.as_secs_f64(),
        super::percentile(&all, 0.50),
        super::percentile(&all, 0.99),
    );
    Ok(())
}

fn connection(
    authority: &str,
    request: &[u8],
    first: Instant,
    interval: Duration,
    end: Instant,
) -> anyhow::Result<(Vec<Duration>, u64)> {
    let mut stream = TcpStream::connect(authority)?;
    stream.set_nodelay(true)?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut latencies = Vec::new();
    let mut errors = 0;
    let mut due = first;
    while due < end {
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        stream.write_all(request)?;
        match read_response(&mut stream, &mut buf)? {
            200..=299 => latencies.push(due.elapsed()),
            _ => errors += 1,
        }
        due += interval;
    }
    Ok((latencies, errors))
}

/// Reads one HTTP/1.1 response with a Content-Length body; returns its status.
fn read_response(stream: &mut TcpStream, buf: &mut [u8]) -> anyhow::Result<u16> {
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
        let length: usize = head
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().ok())?
            })
            .unwrap_or(0);
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
        return Ok(status);
    }
}
