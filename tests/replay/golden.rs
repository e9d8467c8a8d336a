//! Golden replays: for every fixture in fixtures/, the alert timeline and final statuses are
//! checked into tests/golden/<name>.txt and .json, and must come out exactly the same from a
//! one-pass scan, from the player at ×1 stepping its virtual clock 100 ms at a time (no real
//! sleeping), and from the player at full speed. Where the recording script kept what the live
//! run printed (fixtures/<name>.live.txt), the replay must print exactly that too.
//! `UPDATE_GOLDEN=1 cargo test --test replay_golden` rewrites the golden files for review.

use std::path::{Path, PathBuf};
use std::time::Duration;

use nocscope::cli::{OutputFormat, render_scan};
use nocscope::replay::{self, Limits, Player, Scan, Speed};

fn fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("fixtures/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "nsr"))
        .collect();
    v.sort();
    assert!(!v.is_empty(), "no fixtures in {}", dir.display());
    v
}

fn golden(name: &str, ext: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(format!("{name}.{ext}"))
}

fn check_golden(name: &str, ext: &str, actual: &str) {
    let path = golden(name, ext);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).expect("write golden");
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run UPDATE_GOLDEN=1 cargo test --test replay_golden",
            path.display()
        )
    });
    assert!(
        want == actual,
        "{} differs from the replay; diff it with UPDATE_GOLDEN=1 and git diff",
        path.display()
    );
}

/// Play to the end and package the result like a scan, so the same renderer applies.
fn play(data: &[u8], speed: Speed, step: Duration) -> Scan {
    let mut p =
        Player::open_with(data.to_vec(), Limits::default(), nocscope::app::models()).expect("open");
    p.set_speed(speed);
    let mut events = Vec::new();
    while !p.is_finished() {
        let clock = p.clock();
        events.extend(p.advance(step).into_iter().map(|e| (clock, e)));
    }
    Scan {
        header: p.header().clone(),
        start: p.start(),
        end: p.end(),
        records: 0,
        events,
        snapshot: p.snapshot(),
        damage: p.damage().cloned(),
        ignored_observations: p.engine().ignored_observations(),
    }
}

/// Fixtures whose `live.txt` was printed before forecasts existed; later ones compare exactly.
const LIVE_BEFORE_FORECASTS: &[&str] = &["demo", "demo-v1", "incident-shared-host"];

/// These fixtures' `live.txt` were printed by builds that had neither capacity forecasts nor the
/// `DiskFillsSoon` rule built on them. Everything else the replay prints must match the live
/// run byte for byte, so only those two later additions are taken out before comparing: the
/// rule's transition lines and the `| <vital> full in …` suffixes of the final host lines.
fn as_printed_before_forecasts(text: &str) -> String {
    text.lines()
        .filter(|l| !l.contains(" DiskFillsSoon"))
        .map(|l| {
            let cut = l
                .match_indices("  | ")
                .find(|(i, _)| {
                    let rest = &l[i + 4..];
                    rest.split_once(' ').is_some_and(|(vital, after)| {
                        !vital.is_empty() && after.starts_with("full in ")
                    })
                })
                .map_or(l.len(), |(i, _)| i);
            format!("{}\n", &l[..cut])
        })
        .collect()
}

#[test]
fn every_fixture_replays_to_its_golden_timeline_at_every_speed() {
    for path in fixtures() {
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("utf-8 name")
            .to_string();
        let data = std::fs::read(&path).expect("read fixture");
        // With the shipped anomaly models, as `nocscope replay` and the console play it.
        let scan =
            replay::scan_with(&data, Limits::default(), &nocscope::app::models()).expect("scan");
        assert!(scan.damage.is_none(), "{name}: {:?}", scan.damage);
        assert_eq!(scan.ignored_observations, 0, "{name}");
        let text = render_scan(&scan, OutputFormat::Text);
        let json = render_scan(&scan, OutputFormat::Json);
        check_golden(&name, "txt", &text);
        check_golden(&name, "json", &json);

        // The renderer's text ignores the replay times and record counts, so player runs
        // compare on exactly what a person reads.
        let x1 = play(&data, Speed::Factor(1.0), Duration::from_millis(100));
        assert_eq!(render_scan(&x1, OutputFormat::Text), text, "{name} at x1");
        let max = play(&data, Speed::Max, Duration::ZERO);
        assert_eq!(render_scan(&max, OutputFormat::Text), text, "{name} at max");
        assert_eq!(
            serde_json::to_string(&max.snapshot).ok(),
            serde_json::to_string(&scan.snapshot).ok(),
            "{name}: final snapshot"
        );

        let live = path.with_extension("live.txt");
        if live.exists() {
            let printed = std::fs::read_to_string(&live).expect("live output");
            // The live runs had no anomaly models, so neither has this replay.
            let plain = replay::scan(&data, Limits::default()).expect("scan");
            let replayed = render_scan(&plain, OutputFormat::Text);
            let replayed = if LIVE_BEFORE_FORECASTS.contains(&name.as_str()) {
                as_printed_before_forecasts(&replayed)
            } else {
                replayed
            };
            assert_eq!(
                replayed, printed,
                "{name}: the replay prints exactly what the live run printed"
            );
        }
    }
}

#[test]
fn the_demo_has_the_incidents_it_promises() {
    let scan = replay::scan(replay::DEMO, Limits::default()).expect("demo");
    assert!(scan.damage.is_none());
    let minutes = (scan.end - scan.start) / 60_000;
    assert!(minutes >= 30, "demo spans only {minutes} minutes");
    assert!(scan.header.targets.len() >= 4);
    let fired = |rule: &str| {
        scan.events.iter().any(|(_, e)| {
            matches!(e, nocscope::engine::Event::Alert(t)
                if t.rule == rule && t.to == nocscope::model::AlertState::Firing)
        })
    };
    for rule in [
        "HostCpuHigh",
        "HostMemoryCritical",
        "HostDiskFull",
        "ExporterDown",
        "InterfaceDown",
        "PingPacketLoss",
        "HostUnreachable",
        "HttpCheckFailing",
        "TcpPortClosed",
        "SnmpAgentDown",
    ] {
        assert!(fired(rule), "the demo never fires {rule}");
    }
    // Every collector kind is in it, not only node_exporters.
    let kinds: std::collections::BTreeSet<String> = scan
        .header
        .targets
        .iter()
        .map(|t| {
            let debug = format!("{:?}", t.kind);
            debug
                .split([' ', '{'])
                .next()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    assert!(kinds.len() >= 5, "the demo records only {kinds:?}");
    assert!(
        replay::DEMO.len() < 4 << 20,
        "demo is {} bytes; keep fixtures to a few MB",
        replay::DEMO.len()
    );
}
