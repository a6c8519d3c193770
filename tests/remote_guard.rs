//! `serve` under hostile and broken clients, on loopback: what a client sends before its
//! token is checked is bounded, connections and sessions are capped with a clear answer,
//! garbage and idle clients are closed, and real clients still train the numbers they
//! train alone. The client side: a server that never answers, or stalls mid-run, ends the
//! run with a clear message and its checkpoint kept, and Ctrl-C is honoured at once.
#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::remote::{Server, token_file, train_command, wait_for_checkpoint};
use common::{assert_succeeded, json_lines, step_losses, tiny_preset_file};
use contrastive_workbench::engine::checkpoint::Checkpoint;

const TOKEN: &str = "a-long-enough-test-token-0123456789";

fn address(url: &str) -> String {
    url.trim_start_matches("ws://").to_string()
}

fn upgrade(path: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
}

/// What the server answers before it closes (up to 4 KiB, within 5 s).
fn answer(stream: &mut TcpStream) -> String {
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(n) if n > 0 && got.len() <= 4096 => got.extend_from_slice(&buf[..n]),
            Ok(_) => break,
            Err(e) => {
                got.extend_from_slice(format!("<{e}>").as_bytes());
                break;
            }
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

/// The device server: `serve`'s one child process (it supervises, the child serves).
fn device_process(serve: u32) -> u32 {
    let children = std::fs::read_to_string(format!("/proc/{serve}/task/{serve}/children")).unwrap();
    let pids: Vec<u32> = children
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect();
    assert_eq!(pids.len(), 1, "serve's children: {children:?}");
    pids[0]
}

fn resident_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// A session's opening message in burn's encoding (`[{"Init": [2, [id], 0, token]}]`),
/// as one masked binary frame.
fn opening_frame(token: &str) -> Vec<u8> {
    let mut payload = vec![0x91, 0x81, 0xa4];
    payload.extend_from_slice(b"Init");
    payload.extend_from_slice(&[0x94, 0x02, 0x91, 0x07, 0x00, 0xc4, token.len() as u8]);
    payload.extend_from_slice(token.as_bytes());
    let mut frame = vec![0x82, 0x80 | payload.len() as u8, 0, 0, 0, 0];
    frame.extend_from_slice(&payload);
    frame
}

/// Clients that connect, send one kind of garbage each (a TLS hello, an oversized frame,
/// a wrong token, nothing at all) and hang up, in a loop on their own threads.
struct Garbage {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    threads: Vec<std::thread::JoinHandle<usize>>,
}

impl Garbage {
    fn start(at: &str, threads: usize) -> Self {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let threads = (0..threads)
            .map(|t| {
                let (at, stop) = (at.to_string(), stop.clone());
                std::thread::spawn(move || {
                    let mut sent = 0;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        let Ok(mut s) = TcpStream::connect(&at) else {
                            continue;
                        };
                        let _ = match (t + sent) % 4 {
                            0 => s.write_all(b"\x16\x03\x01\x02\x00\x01\x00garbage\r\n\r\n"),
                            1 => s.write_all(upgrade("/session").as_bytes()).and_then(|()| {
                                s.write_all(&[0x82, 0xFF, 0, 0, 0, 0, 0x40, 0, 0, 0])
                            }),
                            2 => s
                                .write_all(upgrade("/session").as_bytes())
                                .and_then(|()| s.write_all(&opening_frame("guess"))),
                            _ => Ok(()),
                        };
                        let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
                        let _ = s.read(&mut [0u8; 256]);
                        sent += 1;
                    }
                    sent
                })
            })
            .collect();
        Self { stop, threads }
    }

    /// Stops the clients; how many connections they made.
    fn stop(self) -> usize {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.threads.into_iter().map(|t| t.join().unwrap()).sum()
    }
}

#[test]
fn hostile_clients_are_bounded_and_real_clients_train_as_alone() {
    let dir = tempfile::tempdir().unwrap();
    let preset = tiny_preset_file(dir.path(), 3);
    let token = token_file(dir.path(), "token", TOKEN);
    let args = [
        "--max-connections",
        "24",
        "--handshake-timeout",
        "2",
        "--heartbeat",
        "1",
    ];
    let server = Server::start_with(Some(&token), &args);
    let pid = device_process(server.child.id());
    let at = address(&server.url);
    let before = resident_kib(pid);

    // Before any token: opening frames that announce 1 GiB are closed on their header,
    // and reserve nothing (burn's own server set 1 GiB aside for each).
    for _ in 0..4 {
        let mut s = TcpStream::connect(&at).unwrap();
        s.write_all(upgrade("/session").as_bytes()).unwrap();
        let mut head = [0u8; 512];
        let _ = s.read(&mut head);
        s.write_all(&[0x82, 0xFF, 0, 0, 0, 0, 0x40, 0, 0, 0, 1, 2, 3, 4])
            .unwrap();
        let _ = answer(&mut s);
    }
    let grown = resident_kib(pid).saturating_sub(before);
    assert!(grown < 64 * 1024, "the server grew by {grown} KiB");

    // Garbage: a TLS hello, random bytes, burn's unauthenticated /data route.
    let mut tls = TcpStream::connect(&at).unwrap();
    tls.write_all(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n")
        .unwrap();
    assert!(answer(&mut tls).starts_with("HTTP/1.1 404"));
    let mut data = TcpStream::connect(&at).unwrap();
    data.write_all(upgrade("/data").as_bytes()).unwrap();
    assert!(answer(&mut data).starts_with("HTTP/1.1 404"));
    // A wrong token in a well-formed opening: refused by burn's answer, then closed.
    let mut wrong = TcpStream::connect(&at).unwrap();
    wrong.write_all(upgrade("/session").as_bytes()).unwrap();
    wrong.write_all(&opening_frame("guess")).unwrap();
    let said = answer(&mut wrong);
    assert!(
        said.contains("101") && said.contains("Unauthorized"),
        "{said}"
    );

    // A flood of idle connections: past the cap, each is answered at once with the reason;
    // the admitted ones are closed, silently, after the handshake timeout. A connection
    // above may still be ending (its thread tears down burn's side after the client saw
    // the close), so up to 7 more than 40 - 24 can be refused, never fewer.
    let mut flood: Vec<TcpStream> = (0..40).map(|_| TcpStream::connect(&at).unwrap()).collect();
    let answers: Vec<String> = flood.iter_mut().map(answer).collect();
    let refused = answers
        .iter()
        .filter(|a| a.starts_with("HTTP/1.1 503") && a.contains("limit of 24 connections"))
        .count();
    let closed_idle = answers.iter().filter(|a| a.is_empty()).count();
    if !((16..=23).contains(&refused) && refused + closed_idle == 40) {
        panic!(
            "{refused} refused at the cap, {closed_idle} closed idle, answers {answers:?}; \
             the server said:\n{}",
            server.stop()
        );
    }
    drop(flood);

    // A client that opens a session and then neither sends nor answers pings is closed
    // (after four heartbeats), freeing the session for the next.
    let mut silent = TcpStream::connect(&at).unwrap();
    silent.write_all(upgrade("/session").as_bytes()).unwrap();
    silent.write_all(&opening_frame(TOKEN)).unwrap();
    silent
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 4096];
    while silent.read(&mut buf).is_ok_and(|n| n > 0) {}
    assert!(
        started.elapsed() < Duration::from_secs(12),
        "{:?}",
        started.elapsed()
    );

    // Real clients, one after the other, train what they train alone, while garbage
    // clients keep connecting beside them.
    let local = train_command(&preset, &dir.path().join("local"), None)
        .env("CW_BURN_CONV", "1")
        .output()
        .unwrap();
    assert_succeeded(&local);
    let garbage = Garbage::start(&at, 3);
    for name in ["first", "second"] {
        let remote = train_command(&preset, &dir.path().join(name), Some((&server.url, &token)))
            .output()
            .unwrap();
        assert_succeeded(&remote);
        let (a, b) = (step_losses(&local), step_losses(&remote));
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() < 1e-5, "{name}: local {a:?} vs remote {b:?}");
        }
    }
    let sent = garbage.stop();
    assert!(
        sent >= 6,
        "only {sent} garbage connections ran beside the real clients"
    );
    let said = server.stop();
    assert!(said.contains("announced 1073741824 bytes"), "{said}");
    assert!(
        said.contains("stopped answering the server's pings"),
        "{said}"
    );
    assert!(said.contains("presented the wrong token"), "{said}");
}

#[test]
fn a_second_client_is_told_the_server_is_busy() {
    let dir = tempfile::tempdir().unwrap();
    let token = token_file(dir.path(), "token", TOKEN);
    let server = Server::start(Some(&token));
    let long = tiny_preset_file(dir.path(), 100_000);
    let first_out = dir.path().join("first");
    let first_log = std::fs::File::create(dir.path().join("first.log")).unwrap();
    let mut first = train_command(&long, &first_out, Some((&server.url, &token)))
        .args(["--checkpoint-every", "2"])
        .stdout(Stdio::null())
        .stderr(first_log)
        .spawn()
        .unwrap();
    wait_for_checkpoint(&first_out);
    let short = tiny_preset_file(dir.path(), 2);
    let second = train_command(
        &short,
        &dir.path().join("second"),
        Some((&server.url, &token)),
    )
    .output()
    .unwrap();
    let still_training = first.try_wait().unwrap().is_none();
    first.kill().unwrap();
    first.wait().unwrap();
    let said = String::from_utf8_lossy(&second.stderr);
    assert!(
        still_training && second.status.code() == Some(1) && said.contains("the server is busy"),
        "first still training: {still_training}; second: {:?} {said}\nfirst said:\n{}\nthe server said:\n{}",
        second.status,
        std::fs::read_to_string(dir.path().join("first.log")).unwrap(),
        server.stop()
    );
}

#[test]
fn a_server_that_never_answers_is_a_clear_error() {
    // Accepts connections and reads them, and never says a word.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming().flatten() {
            held.push(s);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let preset = tiny_preset_file(dir.path(), 2);
    let started = Instant::now();
    let out = train_command(&preset, &dir.path().join("out"), None)
        .args(["--backend", "remote", "--remote", &url])
        .env("CW_REMOTE_HANDSHAKE_SECS", "2")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("did not answer within 2 s"), "{said}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
}

/// The server's process is suspended mid-run (SIGSTOP): the run ends with a message that
/// says so and its checkpoint kept; Ctrl-C on a stalled run is honoured at once.
#[test]
fn a_stalled_server_ends_the_run_with_its_checkpoint_and_ctrl_c_is_honoured() {
    let dir = tempfile::tempdir().unwrap();
    let token = token_file(dir.path(), "token", TOKEN);
    let preset = tiny_preset_file(dir.path(), 100_000);
    for interrupt in [false, true] {
        let server = Server::start_with(Some(&token), &["--heartbeat", "1"]);
        let folder = dir.path().join(format!("out-{interrupt}"));
        let run = train_command(&preset, &folder, Some((&server.url, &token)))
            .args(["--checkpoint-every", "2"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        wait_for_checkpoint(&folder);
        let pid = device_process(server.child.id()) as i32;
        assert_eq!(unsafe_free_kill(pid, "STOP"), 0);
        let stopped = Instant::now();
        if interrupt {
            std::thread::sleep(Duration::from_millis(1500));
            assert_eq!(unsafe_free_kill(run.id() as i32, "INT"), 0);
        }
        let out = run.wait_with_output().unwrap();
        let took = stopped.elapsed();
        unsafe_free_kill(pid, "CONT");
        let said = String::from_utf8_lossy(&out.stderr);
        let limit = if interrupt { 5 } else { 15 };
        assert!(took < Duration::from_secs(limit), "took {took:?}: {said}");
        let failed = json_lines(&out)
            .into_iter()
            .find(|v| v["event"] == "failed")
            .unwrap_or_else(|| panic!("no failed event: {said}"));
        let message = failed["message"].as_str().unwrap();
        let expected = if interrupt {
            "interrupted while waiting"
        } else {
            "has sent nothing for"
        };
        assert!(message.contains(expected), "{message}");
        assert!(Checkpoint::read(&folder).unwrap().step >= 2);
        drop(server);
    }
}

/// `kill -SIG pid` (the tests keep the crate's no-unsafe rule).
fn unsafe_free_kill(pid: i32, signal: &str) -> i32 {
    std::process::Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .unwrap()
        .code()
        .unwrap_or(-1)
}

#[test]
fn a_session_past_the_memory_bound_ends_its_process_and_the_next_client_is_served() {
    let dir = tempfile::tempdir().unwrap();
    let token = token_file(dir.path(), "token", TOKEN);
    let server = Server::start_with(Some(&token), &["--max-memory-gib", "1", "--heartbeat", "1"]);
    let mut device = device_process(server.child.id());
    // Twice: the second restart, coming fast, waits a second.
    for _ in 0..2 {
        ask_for_16_gib(&server.url, &token);
        device = fresh_device_process(&server, device);
    }
    let preset = tiny_preset_file(dir.path(), 2);
    let out = train_command(
        &preset,
        &dir.path().join("next"),
        Some((&server.url, &token)),
    )
    .output()
    .unwrap();
    let said = server.stop();
    assert_succeeded(&out);
    assert!(
        said.contains("memory allocation of")
            && said.contains("Starting a fresh one on ws")
            && said.contains("in 1 s"),
        "{said}"
    );
}

/// An authorised client asks for 16 GiB of zeros and reads them back; it must fail.
fn ask_for_16_gib(url: &str, token: &std::path::Path) {
    use contrastive_workbench::engine::backend::remote::connect;
    let (url, token_path) = (url.to_string(), token.to_string_lossy().into_owned());
    let (done, outcome) = crossbeam_channel::bounded(1);
    std::thread::spawn(move || {
        let asked = std::panic::catch_unwind(|| {
            let (device, _) = connect(&url, &token_path).unwrap();
            let device = device.without_autodiff();
            burn::tensor::Tensor::<1>::zeros([1usize << 32], &device).into_data()
        });
        let _ = done.send(asked.is_ok());
    });
    let served = outcome.recv_timeout(Duration::from_secs(60));
    assert_eq!(
        served,
        Ok(false),
        "the 16 GiB tensor was served or never failed"
    );
}

/// Waits for `serve` to run a device process other than `old`, listening.
fn fresh_device_process(server: &Server, old: u32) -> u32 {
    let started = Instant::now();
    loop {
        let serve = server.child.id();
        let now = std::fs::read_to_string(format!("/proc/{serve}/task/{serve}/children")).unwrap();
        match now
            .split_whitespace()
            .next()
            .map(|p| p.parse::<u32>().unwrap())
        {
            Some(pid) if pid != old && TcpStream::connect(address(&server.url)).is_ok() => {
                return pid;
            }
            _ => {}
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no fresh device process"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
