//! A real PostgreSQL server for tests: a fresh cluster (`initdb`) in a
//! temp dir, listening on a free loopback port, stopped on drop. As root it
//! runs as the `postgres` user (PostgreSQL refuses to run as root).
//!
//! The binaries come from Debian's `postgresql` package
//! (`/usr/lib/postgresql/<version>/bin`); [`Postgres::start`] returns
//! `None` locally when they are missing and panics under `CI=true`.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::{TempDir, in_ci, wait_for};

/// A running PostgreSQL server.
#[derive(Debug)]
pub struct Postgres {
    child: Child,
    port: u16,
    dir: TempDir,
}

/// The newest `/usr/lib/postgresql/*/bin` that has `initdb`.
fn bin_dir() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| Some(e.ok()?.path().join("bin")))
        .filter(|d| d.join("initdb").exists())
        .collect();
    dirs.sort();
    dirs.pop()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// `program args` as the postgres user when we are root.
fn command(program: &Path, root: bool) -> Command {
    if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

impl Postgres {
    /// Starts a new cluster with user `voip` (trust auth on loopback).
    pub fn start() -> Option<Self> {
        let Some(bin) = bin_dir() else {
            let message = "PostgreSQL is not installed (apt-get install postgresql, or bash scripts/setup.sh)";
            assert!(!in_ci(), "{message}");
            eprintln!("skipped: {message}");
            return None;
        };
        let root = is_root();
        let dir = TempDir::new("voip-postgres");
        let data = dir.path().join("pgdata");
        if root {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .unwrap();
            assert!(status.success(), "chown of the PostgreSQL temp dir failed");
        }
        let output = command(&bin.join("initdb"), root)
            .arg("-D")
            .arg(&data)
            .args(["-U", "voip", "--auth=trust", "-E", "UTF8", "--no-sync"])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let port = crate::free_tcp_port();
        let log = std::fs::File::create(dir.path().join("postgres.log")).unwrap();
        let child = command(&bin.join("postgres"), root)
            .arg("-D")
            .arg(&data)
            .args(["-p", &port.to_string(), "-c", "listen_addresses=127.0.0.1"])
            .arg("-k")
            .arg(dir.path())
            .args(["-c", "fsync=off"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut pg = Self { child, port, dir };
        let up = wait_for(Duration::from_secs(30), || {
            if let Ok(Some(status)) = pg.child.try_wait() {
                panic!("postgres exited with {status}: {}", pg.log());
            }
            TcpStream::connect(("127.0.0.1", port)).ok().map(|_| ())
        });
        assert!(up.is_some(), "postgres did not listen: {}", pg.log());
        // accepting TCP is not accepting queries yet: ask pg_isready
        let ready = wait_for(Duration::from_secs(30), || {
            Command::new(bin.join("pg_isready"))
                .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-U", "voip"])
                .stdout(Stdio::null())
                .status()
                .ok()?
                .success()
                .then_some(())
        });
        assert!(ready.is_some(), "postgres not ready: {}", pg.log());
        pg.port = port;
        Some(pg)
    }

    /// `postgres://voip@127.0.0.1:PORT/postgres`.
    pub fn url(&self) -> String {
        format!("postgres://voip@127.0.0.1:{}/postgres", self.port)
    }

    /// Runs `sql` with psql and returns its unaligned output.
    pub fn query(&self, sql: &str) -> String {
        let output = Command::new("psql")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "voip",
            ])
            .args(["-d", "postgres", "-At", "-c", sql])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "psql failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    /// The server's log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("postgres.log")).unwrap_or_default()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        // SIGINT: fast shutdown (backends end, no checkpoint wait)
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        if wait_for(Duration::from_secs(10), || {
            self.child.try_wait().ok().flatten()
        })
        .is_none()
        {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
