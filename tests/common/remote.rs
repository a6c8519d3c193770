//! A `serve` child process and `train` commands against it, for the remote tests.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_contrastive-workbench");

/// A `serve` child process on a port the OS picks; killed when dropped.
pub struct Server {
    pub child: Child,
    pub url: String,
    /// Everything the server has said on stderr so far, read as it comes: the server logs
    /// a connection's end on its own thread, after the client may already have exited.
    said: Arc<Mutex<Vec<u8>>>,
    reader: Option<JoinHandle<()>>,
}

impl Server {
    pub fn start(token_file: Option<&Path>) -> Server {
        Self::start_with(token_file, &[])
    }

    /// A server with more `serve` arguments (its limits).
    pub fn start_with(token_file: Option<&Path>, args: &[&str]) -> Server {
        let mut cmd = Command::new(BIN);
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--device", "cpu"]);
        cmd.args(args);
        if let Some(file) = token_file {
            cmd.arg("--token-file").arg(file);
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let serving: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("serve printed {line:?} ({e})"));
        assert_eq!(serving["event"], "serving");
        assert_eq!(serving["device"], "CPU (flex)");
        let url = serving["url"].as_str().unwrap().to_string();
        assert!(url.starts_with("ws://127.0.0.1:"), "{url}");
        let mut stderr = child.stderr.take().unwrap();
        let said = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&said);
        let reader = std::thread::spawn(move || {
            let mut chunk = [0u8; 4096];
            while let Ok(n @ 1..) = stderr.read(&mut chunk) {
                sink.lock().unwrap().extend_from_slice(&chunk[..n]);
            }
        });
        Server {
            child,
            url,
            said,
            reader: Some(reader),
        }
    }

    fn said_so_far(&self) -> String {
        String::from_utf8_lossy(&self.said.lock().unwrap()).into_owned()
    }

    /// Stops the server once what it said satisfies `done` (or after 30 s, for the
    /// caller's assertion to show what it said instead), and returns all of it.
    pub fn stop_when(self, done: impl Fn(&str) -> bool) -> String {
        let started = Instant::now();
        while !done(&self.said_so_far()) && started.elapsed() < Duration::from_secs(30) {
            std::thread::sleep(Duration::from_millis(20));
        }
        self.stop()
    }

    /// Stops the server and returns what it said on stderr.
    pub fn stop(mut self) -> String {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        if let Some(reader) = self.reader.take() {
            reader.join().unwrap();
        }
        self.said_so_far()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits (at most 5 minutes) until `folder` holds a checkpoint.
pub fn wait_for_checkpoint(folder: &Path) {
    let started = Instant::now();
    while !folder.join("checkpoint.safetensors").is_file() {
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "no checkpoint in {} after 5 minutes",
            folder.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub fn token_file(dir: &Path, name: &str, token: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("{token}\n")).unwrap();
    path
}

pub fn train_command(preset: &Path, out: &Path, remote: Option<(&str, &Path)>) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.arg("train")
        .arg("--preset")
        .arg(preset)
        .arg("--out")
        .arg(out)
        .arg("--force")
        .stdin(Stdio::null());
    if let Some((url, token)) = remote {
        cmd.args(["--backend", "remote", "--remote", url, "--token-file"])
            .arg(token);
    }
    cmd
}
