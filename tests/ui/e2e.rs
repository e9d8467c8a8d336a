//! End to end in a real terminal: tmux runs this test binary's `console_child` (the real
//! `run_console` polling a loopback exporter and a closed port), types keys, reads the screen,
//! and checks that quitting leaves the alternate screen and raw mode behind. The replay tests
//! run the real `nocscope` binary the same way.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::time::{Duration, Instant};

use nocscope::app::{ConsoleOptions, run_console};

const CHILD_ENV: &str = "NOCSCOPE_E2E_CHILD";

fn serve_exporter() -> u16 {
    let Ok(listener) = TcpListener::bind("127.0.0.1:0") else {
        panic!("cannot bind a loopback port");
    };
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
    std::thread::spawn(move || {
        let mut busy = 100.0f64;
        for stream in listener.incoming().flatten() {
            let mut s = stream;
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            busy += 7.0;
            let body = format!(
                "# TYPE node_cpu_seconds_total counter\n\
                 node_cpu_seconds_total{{cpu=\"0\",mode=\"idle\"}} {}\n\
                 node_cpu_seconds_total{{cpu=\"0\",mode=\"user\"}} {busy}\n\
                 # TYPE node_load1 gauge\nnode_load1 0.5\n",
                busy * 0.4
            );
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

/// Runs only inside tmux, started by the test below.
#[test]
fn console_child() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    let port = serve_exporter();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let text = format!(
        "[defaults]\ninterval = \"1s\"\ntimeout = \"500ms\"\ndata_dir = \"{}\"\n\n\
         [[target]]\nname = \"web1-node\"\nkind = \"exporter\"\nhost = \"web1\"\nurl = \"http://127.0.0.1:{port}/metrics\"\nlabels = {{ job = \"node\" }}\n\n\
         [[target]]\nname = \"db1-node\"\nkind = \"exporter\"\nhost = \"db1\"\nurl = \"http://127.0.0.1:1/metrics\"\n",
        dir.path().display()
    );
    let config =
        nocscope::config::parse(&text, "e2e.toml", dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let code = run_console(
        config,
        ConsoleOptions {
            history: false,
            ..ConsoleOptions::default()
        },
    );
    assert_eq!(code, 0);
}

struct Tmux {
    socket: String,
}

impl Tmux {
    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("tmux: {e}"));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
    fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "e2e"])
    }
    fn keys(&self, keys: &[&str]) {
        for k in keys {
            self.run(&["send-keys", "-t", "e2e", k]);
        }
    }
    /// Wait (bounded) until the screen shows `text`; the screen is returned for the message.
    /// Wait for the last thing a frame draws: tmux can capture a frame half written.
    fn wait_for(&self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let s = self.screen();
            if s.contains(text) || Instant::now() > deadline {
                return s;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.run(&["kill-server"]);
    }
}

/// Start the console under tmux; `None` when tmux is missing.
fn start(tag: &str) -> Option<Tmux> {
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("{e}"));
    start_cmd(
        tag,
        &format!(
            "env {CHILD_ENV}=1 TERM=xterm-256color '{}' --exact e2e::console_child --nocapture --test-threads=1",
            exe.display()
        ),
    )
}

/// Run `console` under tmux, then report its exit code and the terminal's line discipline.
fn start_cmd(tag: &str, console: &str) -> Option<Tmux> {
    // A missing binary fails the test, naming the package: a skipped end-to-end test would
    // let a broken console through.
    if Command::new("tmux").arg("-V").output().is_err() {
        panic!("tmux is not installed: run scripts/test or apt-get install tmux");
    }
    let tmux = Tmux {
        socket: format!("nocscope-e2e-{tag}-{}", std::process::id()),
    };
    let cmd = format!(
        "{console}; \
         echo EXITED $?; stty -a | tr ' ;' '\\n\\n' | grep -x -e -icanon -e icanon; sleep 60"
    );
    tmux.run(&[
        "new-session",
        "-d",
        "-s",
        "e2e",
        "-x",
        "100",
        "-y",
        "30",
        &cmd,
    ]);
    Some(tmux)
}

fn assert_restored(tmux: &Tmux) {
    let s = tmux.wait_for("EXITED");
    assert!(s.contains("EXITED 0"), "exit:\n{s}");
    let s = tmux.wait_for("icanon");
    assert!(
        s.lines().any(|l| l.trim() == "icanon"),
        "terminal left in raw mode:\n{s}"
    );
    assert_eq!(
        tmux.run(&["display", "-p", "-t", "e2e", "#{alternate_on}"])
            .trim(),
        "0",
        "still on the alternate screen"
    );
}

#[test]
fn tmux_drives_the_console_and_the_terminal_is_restored() {
    let Some(tmux) = start("keys") else { return };

    let s = tmux.wait_for("web1");
    assert!(
        s.contains("LIVE") && s.contains("db1"),
        "start screen:\n{s}"
    );
    let s = tmux.wait_for("connect failed");
    assert!(s.contains("UNKN"), "the closed port shows as unknown:\n{s}");
    assert_eq!(
        tmux.run(&["display", "-p", "-t", "e2e", "#{alternate_on}"])
            .trim(),
        "1"
    );

    tmux.keys(&["/", "w", "e", "b", "Enter"]);
    let s = tmux.wait_for("hosts 1/2");
    assert!(
        s.contains("/web") && !s.lines().any(|l| l.contains("UNKN db1")),
        "filtered:\n{s}"
    );
    tmux.keys(&["Enter"]);
    let s = tmux.wait_for("poll web1-node");
    assert!(s.contains("web1 cpu %"), "host view:\n{s}");
    tmux.keys(&["?"]);
    let s = tmux.wait_for("view_host");
    assert!(s.contains("help keys"), "help:\n{s}");
    tmux.keys(&["q", "q", "Escape", "q"]);
    assert_restored(&tmux);
}

#[test]
fn sigterm_ends_the_console_and_restores_the_terminal() {
    let Some(tmux) = start("term") else { return };
    let s = tmux.wait_for("web1");
    assert!(s.contains("LIVE"), "start screen:\n{s}");
    let shell = tmux.run(&["display", "-p", "-t", "e2e", "#{pane_pid}"]);
    let out = Command::new("pgrep")
        .args(["-P", shell.trim()])
        .output()
        .unwrap_or_else(|e| panic!("pgrep: {e}"));
    let child = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        !child.is_empty(),
        "no console process under the pane's shell"
    );
    let status = Command::new("kill")
        .args(["-TERM", &child])
        .status()
        .unwrap_or_else(|e| panic!("kill: {e}"));
    assert!(status.success());
    assert_restored(&tmux);
}

/// The real binary on a recording (or, with no file, the bare `nocscope` on the embedded demo)
/// with HOME and XDG dirs in an empty temp dir, so no user config or keymap leaks in.
fn start_replay(tag: &str, file: Option<&std::path::Path>) -> Option<(Tmux, tempfile::TempDir)> {
    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let h = home.path().display();
    let args = match file {
        Some(f) => format!("replay '{}'", f.display()),
        None => String::new(),
    };
    let console = format!(
        "cd '{h}' && env HOME='{h}' XDG_CONFIG_HOME='{h}/config' XDG_DATA_HOME='{h}/data' \
         TERM=xterm-256color '{}' {args}",
        env!("CARGO_BIN_EXE_nocscope")
    );
    start_cmd(tag, &console).map(|t| (t, home))
}

fn replay_session(tmux: &Tmux, badge: &str) {
    let s = tmux.wait_for("x1 ");
    assert!(s.contains(badge), "start screen:\n{s}");
    tmux.keys(&["Space"]);
    let s = tmux.wait_for("paused");
    assert!(s.contains("x1 paused"), "Space pauses:\n{s}");
    tmux.keys(&[">"]);
    let s = tmux.wait_for("x2 paused");
    assert!(s.contains("x2 paused"), "> speeds up:\n{s}");
    tmux.keys(&["Space", "r"]);
    let s = tmux.wait_for("x2 loop");
    assert!(s.contains("x2 loop"), "Space resumes, r loops:\n{s}");
    tmux.keys(&["q"]);
    assert_restored(tmux);
}

#[test]
fn tmux_bare_nocscope_plays_the_demo_and_restores_the_terminal() {
    let Some((tmux, home)) = start_replay("demo", None) else {
        return;
    };
    // It says it is a demo, and where a config was looked for.
    let s = tmux.wait_for("x1 ");
    let looked = format!(
        "no config at {}/config/nocscope/config.toml",
        home.path().display()
    );
    assert!(s.contains(&looked) && s.contains("examples/"), "{s}");
    replay_session(&tmux, "DEMO");
}

#[test]
fn tmux_replay_file_plays_in_the_console() {
    let fixture =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/incident-shared-host.nsr");
    let Some((tmux, _home)) = start_replay("file", Some(&fixture)) else {
        return;
    };
    replay_session(&tmux, "REPLAY");
}
