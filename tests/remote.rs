//! Training on another process's device: `serve` hosts a CPU (flex) device on loopback in
//! a child process and `train --backend remote` trains on it. Its own test binary: a
//! process that talks to a remote server runs burn's async runtime.
#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use contrastive_workbench::engine::checkpoint::Checkpoint;

mod common;

use common::{assert_succeeded, json_lines, step_losses, tiny_preset_file};

use common::remote::{BIN, Server, token_file, train_command, wait_for_checkpoint};

#[test]
fn three_remote_steps_give_the_local_losses_and_a_second_client_is_served() {
    let dir = tempfile::tempdir().unwrap();
    let preset = tiny_preset_file(dir.path(), 3);
    let token = token_file(dir.path(), "token", "s3cret");
    // The server runs burn's own ops; so does the local run with the fused kernels off.
    let local_out = train_command(&preset, &dir.path().join("local"), None)
        .env("CW_BURN_CONV", "1")
        .output()
        .unwrap();
    assert_succeeded(&local_out);
    let server = Server::start(Some(&token));
    let remote = train_command(
        &preset,
        &dir.path().join("remote"),
        Some((&server.url, &token)),
    )
    .output()
    .unwrap();
    assert_succeeded(&remote);
    // The client names the server's device, which it asked the server for.
    let said = String::from_utf8_lossy(&remote.stderr);
    let expected = format!("backend: remote CPU (flex) at {}", server.url);
    assert!(said.contains(&expected), "no {expected:?} in:\n{said}");
    let (local, remote_losses) = (step_losses(&local_out), step_losses(&remote));
    assert_eq!(local.len(), 3, "{local:?}");
    assert_eq!(remote_losses.len(), 3, "{remote_losses:?}");
    for (a, b) in local.iter().zip(&remote_losses) {
        assert!(
            (a - b).abs() < 1e-5,
            "local {local:?} vs remote {remote_losses:?}"
        );
    }
    // Each logged step measured the round trip to the server; a local run has none.
    let trips = |out: &Output| -> Vec<Option<f64>> {
        json_lines(out)
            .iter()
            .filter(|v| v.get("loss").is_some())
            .map(|v| v["round_trip_ms"].as_f64())
            .collect()
    };
    assert!(trips(&remote).iter().all(|t| t.is_some_and(|ms| ms > 0.0)));
    assert!(trips(&local_out).iter().all(Option::is_none));
    // The run folder is this machine's, complete.
    let folder = dir.path().join("remote");
    assert!(folder.join("encoder.safetensors").is_file());
    assert_eq!(Checkpoint::read(&folder).unwrap().step, 3);
    // The first client's session ended with its process; a second one trains, with its
    // views rendered on the server's device by its producer thread (a second stream of
    // the same session): the same losses as the CPU's views.
    let again = train_command(
        &preset,
        &dir.path().join("again"),
        Some((&server.url, &token)),
    )
    .args(["--augment-on", "device"])
    .output()
    .unwrap();
    assert_succeeded(&again);
    let device_views = step_losses(&again);
    assert_eq!(device_views.len(), 3, "{device_views:?}");
    for (a, b) in local.iter().zip(&device_views) {
        assert!(
            (a - b).abs() <= 1e-4 * a.abs(),
            "local {local:?} vs remote with views made there {device_views:?}"
        );
    }
    let said_again = String::from_utf8_lossy(&again.stderr);
    assert!(!said_again.contains("augment_on"), "{said_again}");
    let said = server.stop();
    assert_eq!(said.matches("session opened for").count(), 2, "{said}");
}

#[test]
fn a_wrong_or_missing_token_is_refused_on_both_sides() {
    let dir = tempfile::tempdir().unwrap();
    let preset = tiny_preset_file(dir.path(), 1);
    let right = token_file(dir.path(), "right", "s3cret");
    let wrong = token_file(dir.path(), "wrong", "guess");
    let server = Server::start(Some(&right));
    let out = train_command(
        &preset,
        &dir.path().join("out"),
        Some((&server.url, &wrong)),
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("refused this client: wrong or missing token"),
        "{stderr}"
    );
    // No token at all: the preset names the server but no token file.
    let mut cmd = train_command(&preset, &dir.path().join("out2"), None);
    let out = cmd
        .args(["--backend", "remote", "--remote", &server.url])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("wrong or missing token"));
    let said = server.stop_when(|said| said.matches("refused WebSocket client").count() >= 2);
    assert_eq!(
        said.matches("refused WebSocket client").count(),
        2,
        "{said}"
    );
    assert!(said.contains("wrong token"), "{said}");
}

#[test]
fn nothing_listening_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let preset = tiny_preset_file(dir.path(), 1);
    // A port that was just free.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut cmd = train_command(&preset, &dir.path().join("out"), None);
    let out = cmd
        .args([
            "--backend",
            "remote",
            "--remote",
            &format!("ws://127.0.0.1:{port}"),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("nothing answers at ws://127.0.0.1:"),
        "{stderr}"
    );
}

#[test]
fn a_server_that_does_not_name_its_device_is_refused_clearly() {
    // burn's bare server, not `serve`: it has no device-name operation, so it is not a
    // workbench server of this version, and the client says so instead of training on a
    // session the question ended.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let _ = burn::server::RemoteServer::new([burn::tensor::Device::flex()])
            .serve(burn::server::WebSocketTransport::from_listener(listener));
    });
    let dir = tempfile::tempdir().unwrap();
    let preset = tiny_preset_file(dir.path(), 1);
    let mut cmd = train_command(&preset, &dir.path().join("out"), None);
    let out = cmd
        .args(["--backend", "remote", "--remote", &url])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "the server at {url} did not say which device it hosts"
        )),
        "{stderr}"
    );
}

#[test]
fn serve_refuses_to_listen_beyond_loopback_without_a_token() {
    let out = Command::new(BIN)
        .args(["serve", "--listen", "0.0.0.0:0", "--device", "cpu"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs a token"));
}

#[test]
fn the_server_going_away_mid_run_fails_the_run_and_keeps_its_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let preset = tiny_preset_file(dir.path(), 100_000);
    let token = token_file(dir.path(), "token", "s3cret");
    let server = Server::start(Some(&token));
    let folder = dir.path().join("out");
    let mut run = train_command(&preset, &folder, Some((&server.url, &token)))
        .args(["--checkpoint-every", "2"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_checkpoint(&folder);
    server.stop();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = run.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(120) {
            run.kill().unwrap();
            panic!("the run did not end within 2 minutes of the server going away");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let out = run.wait_with_output().unwrap();
    assert_eq!(
        status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let failed = json_lines(&out)
        .into_iter()
        .find(|v| v["event"] == "failed")
        .unwrap_or_else(|| {
            panic!(
                "no failed event in {}",
                String::from_utf8_lossy(&out.stdout)
            )
        });
    let message = failed["message"].as_str().unwrap();
    assert!(message.contains("remote"), "{message}");
    let kept = Checkpoint::read(&folder).unwrap();
    assert!(kept.step >= 2, "{}", kept.step);
    assert!(folder.join("encoder.safetensors").is_file());
}

#[test]
fn a_sweep_over_two_servers_requeues_the_member_of_one_that_goes_away() {
    let dir = tempfile::tempdir().unwrap();
    let preset = tiny_preset_file(dir.path(), 40);
    let (a, b) = (Server::start(None), Server::start(None));
    let out = dir.path().join("sweep");
    let mut run = Command::new(BIN)
        .args(["sweep", "--preset"])
        .arg(&preset)
        .args([
            "--vary",
            "method.temperature=0.1,0.2,0.3",
            "--checkpoint-every",
            "2",
        ])
        .args(["--remote", &a.url, "--remote", &b.url, "--out"])
        .arg(&out)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Server a takes the first member; it goes away once that member has a checkpoint.
    let first = out.join("temperature=0.1-s0");
    wait_for_checkpoint(&first);
    a.stop();
    let started = Instant::now();
    while run.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(600) {
            run.kill().unwrap();
            panic!("the sweep did not end within 10 minutes of a server going away");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let done = run.wait_with_output().unwrap();
    assert_succeeded(&done);
    let lines = json_lines(&done);
    assert!(
        lines.iter().any(|v| v["event"] == "server_lost"),
        "{}",
        String::from_utf8_lossy(&done.stdout)
    );
    let finished: Vec<&serde_json::Value> =
        lines.iter().filter(|v| v["state"] == "finished").collect();
    assert_eq!(
        finished.len(),
        3,
        "every member finished on the server left"
    );
    // The member of the lost server resumed from its checkpoint and ran to the end.
    assert_eq!(Checkpoint::read(&first).unwrap().step, 40);
    let table = std::fs::read_to_string(out.join("sweep.csv")).unwrap();
    assert_eq!(table.matches(",finished,").count(), 3, "{table}");
    drop(b);
}

#[test]
fn more_than_one_session_is_warned_of() {
    let server = Server::start_with(None, &["--max-sessions", "2"]);
    let said = server.stop_when(|said| said.contains("--max-sessions 2"));
    assert!(
        said.contains("warning: --max-sessions 2") && said.contains("random generator"),
        "{said}"
    );
    let server = Server::start(None);
    let said = server.stop();
    assert!(!said.contains("--max-sessions"), "{said}");
}
