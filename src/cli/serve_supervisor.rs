//! `serve`'s supervising process. The device server (the guard and burn's server) runs in
//! a child process with a bound on its heap; when a session ends it (a client asked for
//! more memory than the bound, or anything else that kills a process), the supervisor
//! starts a fresh one on the same address, so the next client is served. The child
//! watches its stdin, a pipe only the supervisor holds: when the supervisor dies, even
//! killed, the child sees it close and exits, so no server outlives its `serve`.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};

/// Set in the child's environment: run the device server itself, not a supervisor.
pub const WORKER_ENV: &str = "CW_SERVE_WORKER";
/// Set on a restarted child: the address to listen on (the first child's, port included).
pub const LISTEN_ENV: &str = "CW_SERVE_LISTEN";

/// Restarts within this window count as coming fast: each waits twice as long as the
/// last (1 s, 2 s, ... at most `MAX_BACKOFF`), so a client that ends the process again and
/// again slows its restarts down but never stops the server.
const RESTART_WINDOW: Duration = Duration::from_secs(60);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// The heap bound for the device process: `gib`, or three quarters of this machine's
/// memory (none where it cannot be read).
pub fn heap_bound(gib: Option<u64>) -> Option<u64> {
    match gib {
        Some(gib) => Some(gib << 30),
        None => physical_memory_bytes().map(|total| total / 4 * 3),
    }
}

fn physical_memory_bytes() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Runs the device server in a child process, restarting it when it dies after it began
/// serving. Returns when the child exits on its own (with its status) or fails to start.
pub fn supervise(heap_bytes: Option<u64>) -> anyhow::Result<()> {
    let exe = std::env::current_exe().context("cannot find this program to start the server")?;
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    let mut listen: Option<String> = None;
    let mut restarts: Vec<Instant> = Vec::new();
    loop {
        let mut command = Command::new(&exe);
        command
            .args(&args)
            .env(WORKER_ENV, "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some(bytes) = heap_bytes {
            command.env(crate::allocator::HEAP_LIMIT_ENV, bytes.to_string());
        }
        if let Some(address) = &listen {
            command.env(LISTEN_ENV, address);
        }
        let mut child = command
            .spawn()
            .context("cannot start the device server process")?;
        let serving = forward_stdout(&mut child);
        let status = child.wait().context("lost the device server process")?;
        let Some(url) = serving else {
            // It never began serving: its own error is on stderr already.
            return exit_like(status);
        };
        if status.success() {
            return Ok(());
        }
        restarts.retain(|t| t.elapsed() < RESTART_WINDOW);
        let wait = match restarts.len() {
            0 => Duration::ZERO,
            fast => Duration::from_secs(1 << (fast - 1).min(5)).min(MAX_BACKOFF),
        };
        restarts.push(Instant::now());
        crate::errln!(
            "the device server process ended ({}); its session is closed. Starting a fresh \
             one on {url}{}",
            describe(status),
            if wait.is_zero() {
                String::new()
            } else {
                format!(" in {} s", wait.as_secs())
            }
        );
        std::thread::sleep(wait);
        listen = Some(url.trim_start_matches("ws://").to_string());
    }
}

/// Passes the child's stdout lines on (its one "serving" line, for scripts) until it
/// closes; returns the URL it serves, if it said.
fn forward_stdout(child: &mut Child) -> Option<String> {
    let stdout = child.stdout.take()?;
    let mut url = None;
    for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else { break };
        if url.is_none()
            && let Ok(value) = serde_json::from_str::<serde_json::Value>(&line)
            && value["event"] == "serving"
        {
            url = value["url"].as_str().map(str::to_string);
        }
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }
    url
}

fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (_, Some(6)) => "it aborted: most likely a session asked for more memory than \
             --max-memory-gib allows (see 'memory allocation of N bytes failed' above)"
            .into(),
        (_, Some(9)) => "it was killed (SIGKILL; the system's out-of-memory killer?)".into(),
        (_, Some(signal)) => format!("signal {signal}"),
        (Some(code), _) => format!("exit status {code}"),
        _ => "unknown status".into(),
    }
}

fn exit_like(status: ExitStatus) -> anyhow::Result<()> {
    if status.success() {
        Ok(())
    } else {
        // The child printed why; say nothing more than how it ended.
        Err(anyhow!(
            "the device server did not start ({})",
            describe(status)
        ))
    }
}

/// In the child: exit when the supervisor goes away (its end of our stdin closes).
pub fn exit_with_supervisor() {
    let _ = std::thread::Builder::new()
        .name("serve-supervisor-watch".into())
        .spawn(|| {
            let mut sink = Vec::new();
            let _ = std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut sink);
            std::process::exit(0);
        });
}
