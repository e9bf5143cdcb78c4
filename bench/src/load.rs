//! Open-loop load at a fixed rate: each connection sends on its own schedule, and latency is
//! measured from when the request was due, so a slow server cannot hide its queue
//! (no coordinated omission).

use std::time::{Duration, Instant};

use base64::Engine;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;

pub struct Plan {
    pub url: String,
    pub rate: u64,
    pub connections: usize,
    pub body: String,
    pub auth: String,
    pub duration: Duration,
}

pub fn run(plan: Plan) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(drive(plan))
}

async fn drive(plan: Plan) -> anyhow::Result<()> {
    let uri: hyper::Uri = plan.url.parse()?;
    let authority = uri.authority().map(|a| a.to_string()).unwrap_or_default();
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(&plan.auth)
    );
    let per_connection = Duration::from_secs_f64(plan.connections as f64 / plan.rate as f64);
    let start = Instant::now() + Duration::from_millis(100);
    let mut tasks = Vec::new();
    for c in 0..plan.connections {
        let (uri, authority, basic, body) = (
            uri.clone(),
            authority.clone(),
            basic.clone(),
            plan.body.clone(),
        );
        let offset = per_connection.mul_f64(c as f64 / plan.connections as f64);
        let duration = plan.duration;
        tasks.push(tokio::spawn(async move {
            let stream = tokio::net::TcpStream::connect(&authority).await?;
            stream.set_nodelay(true)?;
            let (mut sender, conn) =
                hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
            tokio::spawn(conn);
            let mut latencies = Vec::new();
            let mut errors = 0u64;
            let mut due = start + offset;
            while due < start + duration {
                tokio::time::sleep_until(due.into()).await;
                let request = hyper::Request::post(uri.clone())
                    .header("host", &authority)
                    .header("authorization", &basic)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(Full::new(Bytes::from(body.clone())))?;
                match sender.send_request(request).await {
                    Ok(response) => {
                        let ok = response.status().is_success();
                        let _ = response.into_body().collect().await;
                        if ok {
                            latencies.push(due.elapsed());
                        } else {
                            errors += 1;
                        }
                    }
                    Err(_) => errors += 1,
                }
                due += per_connection;
            }
            anyhow::Ok((latencies, errors))
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (latencies, e) = t.await??;
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
