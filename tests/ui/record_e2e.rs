//! `nocscope --record FILE` in the live console (issue 4): the real binary runs in tmux against
//! a real node_exporter, quits on `q`, and the recording replays cleanly to the same host.

use crate::support;

use std::process::Command;
use std::time::{Duration, Instant};

fn tmux(socket: &str, args: &[&str]) -> String {
    let out = Command::new("tmux")
        .arg("-L")
        .arg(socket)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("tmux is not installed ({e}): apt-get install tmux"));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Poll the screen until `text` shows (bounded); returns the last capture.
fn wait_for(socket: &str, text: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let s = tmux(socket, &["capture-pane", "-p", "-t", "rec"]);
        if s.contains(text) || Instant::now() > deadline {
            return s;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_live_console_records_and_the_recording_replays() {
    let ne = support::NodeExporter::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("config.toml");
    std::fs::write(
        &cfg,
        format!(
            "[defaults]\ninterval = \"1s\"\ntimeout = \"1s\"\ndata_dir = \"{}\"\n\n[[target]]\nname = \"recorded\"\nkind = \"exporter\"\nurl = \"{}\"\n",
            dir.path().join("data").display(),
            ne.url()
        ),
    )
    .expect("write config");
    let rec = dir.path().join("console.nsr");
    let socket = format!("nocscope-rec-{}", std::process::id());
    let cmd = format!(
        "TERM=xterm-256color '{}' --config '{}' --record '{}'; echo EXITED $?; sleep 30",
        env!("CARGO_BIN_EXE_nocscope"),
        cfg.display(),
        rec.display()
    );
    tmux(
        &socket,
        &[
            "new-session",
            "-d",
            "-s",
            "rec",
            "-x",
            "120",
            "-y",
            "35",
            &cmd,
        ],
    );
    let screen = wait_for(&socket, "recorded");
    assert!(screen.contains("LIVE"), "{screen}");
    // Let a few polls and ticks go into the recording, then quit.
    let screen = wait_for(&socket, "OK");
    assert!(screen.contains("recorded"), "{screen}");
    std::thread::sleep(Duration::from_millis(2500));
    tmux(&socket, &["send-keys", "-t", "rec", "q"]);
    let screen = wait_for(&socket, "EXITED");
    tmux(&socket, &["kill-server"]);
    assert!(screen.contains("EXITED 0"), "{screen}");

    let out = Command::new(env!("CARGO_BIN_EXE_nocscope"))
        .args(["replay", "--headless", "--format", "json"])
        .arg(&rec)
        .output()
        .expect("run replay");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "a cleanly closed recording: {text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("\"recorded\""), "{text}");
}
