//! What the server must withstand (SPEC §11), measured on the running binary.

use crate::{data_dir, serve};

fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}

/// Sends `count` token requests, eight at a time, each with a fresh random client id of
/// `len` characters and a wrong secret, each from its own loopback address (127.0.x.y), so that
/// no address uses up its own allowance and every failure is one the limiter must weigh.
async fn random_ids(url: &str, count: usize, len: usize) {
    let mut pending = Vec::new();
    for n in 0..count {
        let from = std::net::IpAddr::from([127, 0, (n >> 8) as u8 % 255 + 1, n as u8]);
        let http = reqwest::Client::builder().local_address(from).build().unwrap();
        let id: String = std::iter::repeat_n(char::from(b'a' + (n % 26) as u8), len - 12)
            .chain(format!("{n:012}").chars())
            .collect();
        let body = format!("grant_type=client_credentials&client_id={id}&client_secret=wrong");
        let url = format!("{url}/oauth2/token");
        pending.push(tokio::spawn(async move {
            let reply = http
                .post(url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await
                .unwrap();
            assert!(reply.status().is_client_error(), "{}", reply.status());
        }));
        if pending.len() == 8 {
            for task in pending.drain(..) {
                task.await.unwrap();
            }
        }
    }
    for task in pending {
        task.await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_of_random_client_ids_does_not_grow_the_servers_memory() {
    let _serial = crate::TIMING.lock().await;
    let (_guard, dir) = data_dir();
    let server = serve(&dir, &[], true);
    let pid = server.child.id();
    // Warm up: the allocator's arenas and the connection pool settle first.
    random_ids(&server.url, 300, 60_000).await;
    let before = rss_kb(pid);
    random_ids(&server.url, 3_000, 60_000).await;
    let after = rss_kb(pid);
    let grown_mb = after.saturating_sub(before) / 1024;
    eprintln!("resident memory {} → {} MB", before / 1024, after / 1024);
    // Remembering each id whole took the server from 23 to 206 MiB for these 3,000.
    assert!(grown_mb < 20, "grew by {grown_mb} MB");
}

/// Opens `count` connections that hold the server up: a third idle, a third sending half a
/// request head, a third sending a head and only the start of its body.
async fn slow_clients(addr: &str, count: usize) -> Vec<tokio::net::TcpStream> {
    use tokio::io::AsyncWriteExt;
    let mut held = Vec::with_capacity(count);
    for n in 0..count {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let start: &[u8] = match n % 3 {
            0 => b"",
            1 => b"GET /healthz HTTP/1.1\r\nHost: tessera\r\nX-Slow: ",
            _ => b"POST /oauth2/token HTTP/1.1\r\nHost: tessera\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\ngrant_type=",
        };
        stream.write_all(start).await.unwrap();
        held.push(stream);
    }
    held
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_slow_and_idle_connections_neither_starve_the_server_nor_stay_open() {
    let _serial = crate::TIMING.lock().await;
    use std::time::{Duration, Instant};
    use tokio::io::AsyncReadExt;
    // This process holds one end of every connection.
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let (_guard, dir) = data_dir();
    let server = serve(
        &dir,
        &[
            "--header-timeout-seconds",
            "2",
            "--body-timeout-seconds",
            "3",
            "--body-idle-timeout-seconds",
            "2",
        ],
        true,
    );
    let addr = server.url.trim_start_matches("http://").to_owned();
    let held = slow_clients(&addr, 3_000).await;

    // The server still answers at once, health and tokens alike.
    let asked = Instant::now();
    let health = reqwest::get(format!("{}/healthz", server.url)).await.unwrap();
    assert_eq!(health.status(), 200);
    let token = crate::token(&server.url, crate::BOOT_ID, crate::BOOT_SECRET, None).await;
    assert_eq!(token.status(), 200);
    assert!(asked.elapsed() < Duration::from_secs(2), "{:?}", asked.elapsed());

    // And it closes every slow one once its time is up.
    let started = Instant::now();
    let mut closing = Vec::new();
    for mut stream in held {
        closing.push(tokio::spawn(async move {
            let mut sink = Vec::new();
            tokio::time::timeout(Duration::from_secs(8), stream.read_to_end(&mut sink))
                .await
                .is_ok()
        }));
    }
    let mut closed = 0;
    for task in closing {
        closed += usize::from(task.await.unwrap());
    }
    eprintln!(
        "{closed} of 3000 slow connections closed by the server within {:?}",
        started.elapsed()
    );
    assert_eq!(closed, 3_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_cap_wait_outside_the_process() {
    let _serial = crate::TIMING.lock().await;
    use std::time::Duration;
    let (_guard, dir) = data_dir();
    let server = serve(&dir, &["--max-connections", "100", "--header-timeout-seconds", "2"], true);
    let pid = server.child.id();
    let open_files = || std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap().count();
    let before = open_files();
    let addr = server.url.trim_start_matches("http://").to_owned();
    let held = slow_clients(&addr, 400).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let during = open_files();
    eprintln!("open files: {before} before, {during} with 400 idle clients and a cap of 100");
    // The hundred connections, and a few files the server opens as it works (the database).
    assert!(during <= before + 110, "{during} open files");
    // As the held ones time out, the waiting ones are taken in turn, and others get answers.
    let health = tokio::time::timeout(
        Duration::from_secs(20),
        reqwest::get(format!("{}/healthz", server.url)),
    )
    .await
    .expect("an answer once slots free up")
    .unwrap();
    assert_eq!(health.status(), 200);
    drop(held);
}

/// Reads one response to a `GET /healthz` (its head and its short body) from `stream`.
async fn read_health_response(stream: &mut tokio::net::TcpStream) -> String {
    use tokio::io::AsyncReadExt;
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !String::from_utf8_lossy(&got).contains("\r\n\r\n")
        || !String::from_utf8_lossy(&got).ends_with('}')
    {
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed before the response: {:?}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&got).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_kept_alive_connection_is_closed_but_a_slow_next_request_is_not_cut() {
    let _serial = crate::TIMING.lock().await;
    use std::time::{Duration, Instant};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (_guard, dir) = data_dir();
    let server =
        serve(&dir, &["--header-timeout-seconds", "6", "--keep-alive-idle-seconds", "1"], true);
    let addr = server.url.trim_start_matches("http://").to_owned();
    let request = b"GET /healthz HTTP/1.1\r\nHost: tessera\r\n\r\n";

    // Idle after a response: closed after the keep-alive time, well before the header timeout.
    let mut idle = tokio::net::TcpStream::connect(&addr).await.unwrap();
    // A connection that has not sent anything yet has the header timeout.
    let mut fresh = tokio::net::TcpStream::connect(&addr).await.unwrap();
    idle.write_all(request).await.unwrap();
    let answered = read_health_response(&mut idle).await;
    assert!(answered.starts_with("HTTP/1.1 200"), "{answered}");
    let since = Instant::now();
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(4), idle.read_to_end(&mut rest)).await;
    assert!(closed.is_ok(), "an idle kept-alive connection stayed open 4 s");
    let after = since.elapsed();
    assert!(after >= Duration::from_millis(900), "closed after {after:?}");

    // A next request whose head trickles in over 2 s (past the keep-alive time) is answered.
    let mut slow = tokio::net::TcpStream::connect(&addr).await.unwrap();
    slow.write_all(request).await.unwrap();
    read_health_response(&mut slow).await;
    for byte in request.iter() {
        slow.write_all(&[*byte]).await.unwrap();
        tokio::time::sleep(Duration::from_millis(2000 / request.len() as u64)).await;
    }
    let second = read_health_response(&mut slow).await;
    assert!(second.starts_with("HTTP/1.1 200"), "{second}");

    let mut nothing = [0u8; 1];
    let early = tokio::time::timeout(Duration::from_millis(100), fresh.read(&mut nothing)).await;
    assert!(early.is_err(), "a fresh connection was closed within 3 s: {early:?}");
}
