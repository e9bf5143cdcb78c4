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
        let http = reqwest::Client::builder()
            .local_address(from)
            .build()
            .unwrap();
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
