//! A real S3 API on 127.0.0.1 for tests: the `moto` server from the
//! virtual environment that `.ci/run` makes (`target/moto-venv`, or the
//! `moto_server` named by `XITDB_MOTO_SERVER`). Not part of the API.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};

/// A running S3 server; stopped when dropped.
#[derive(Debug)]
pub struct S3Server {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub endpoint: String,
}

fn moto_server() -> std::path::PathBuf {
    match std::env::var_os("XITDB_MOTO_SERVER") {
        Some(p) => p.into(),
        None => std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../target/moto-venv/bin/moto_server"),
    }
}

impl S3Server {
    /// Starts the server, or says why it cannot. With `XITDB_REQUIRE_S3`
    /// set (CI sets it), a server that cannot start is a failure instead.
    pub fn start() -> Option<S3Server> {
        match Self::try_start() {
            Ok(s) => Some(s),
            Err(reason) => {
                assert!(
                    std::env::var_os("XITDB_REQUIRE_S3").is_none(),
                    "the S3 server must start: {reason}"
                );
                eprintln!("skipped: no S3 server ({reason}); run .ci/run once to install it");
                None
            }
        }
    }

    fn try_start() -> Result<S3Server, String> {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let bin = moto_server();
        let child = Command::new(&bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("{}: {e}", bin.display()))?;
        let server = S3Server {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        // it takes a moment to listen; give up only if it died
        let mut server = server;
        loop {
            if let Ok(Some(status)) = server.child.try_wait() {
                return Err(format!("moto_server exited: {status}"));
            }
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Ok(server)
    }

    /// A store on this server (settings given, not taken from the
    /// process environment, which tests running in parallel share).
    pub fn remote(&self, url: &str) -> crate::Result<crate::Remote> {
        crate::Remote::open_with(url, &self.vars())
    }

    /// The `AWS_*` variables that point at this server, for child processes.
    pub fn vars(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT", self.endpoint.clone()),
            ("AWS_ACCESS_KEY_ID", "test".into()),
            ("AWS_SECRET_ACCESS_KEY", "test".into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ALLOW_HTTP", "true".into()),
        ]
    }

    /// Creates a bucket (a plain `PUT /bucket`).
    pub fn bucket(&self, name: &str) -> std::io::Result<()> {
        let addr = self.endpoint.trim_start_matches("http://");
        let mut s = TcpStream::connect(addr)?;
        write!(
            s,
            "PUT /{name} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )?;
        let mut reply = String::new();
        s.read_to_string(&mut reply)?;
        if reply.starts_with("HTTP/1.1 200") || reply.starts_with("HTTP/1.0 200") {
            Ok(())
        } else {
            Err(std::io::Error::other(
                reply.lines().next().unwrap_or("").to_string(),
            ))
        }
    }

    /// The server's process id (tests pause it with SIGSTOP).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
