//! Console render cost: one full frame of each main view with 500 hosts on a TestBackend
//! (layout, widgets and the buffer diff; no terminal I/O), and the anomalies view with its
//! filter. Target: overview ≤ 2 ms median.

#[path = "../tests/ui_fixture/mod.rs"]
mod ui_fixture;

use divan::Bencher;
use nocscope::config::theme::Theme;
use nocscope::ui::render;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn main() {
    divan::main();
}

const HOSTS: usize = 500;

#[divan::bench(args = [(80, 24), (200, 50)])]
fn overview_500_hosts(bencher: Bencher, (w, h): (u16, u16)) {
    let snap = ui_fixture::big_snapshot(HOSTS);
    let mut state = ui_fixture::state(&snap);
    // Mid-list selection, so the visible window is not simply the first rows.
    ui_fixture::press(&mut state, "<C-f> <C-f> <C-f>");
    let theme = Theme::embedded_default();
    // TestBackend cannot fail (its error type is uninhabited).
    let Ok(mut terminal) = Terminal::new(TestBackend::new(w, h));
    bencher.bench_local(|| {
        // A changed buffer each time: clear forces the diff to see every cell, as after a resize.
        let _ = terminal.clear();
        let _ = terminal.draw(|f| render(f, divan::black_box(&snap), &state, &theme));
    });
}

#[divan::bench]
fn sync_500_hosts(bencher: Bencher) {
    let snap = ui_fixture::big_snapshot(HOSTS);
    let mut state = ui_fixture::state(&snap);
    bencher.bench_local(|| state.sync(divan::black_box(&snap)));
}

#[divan::bench]
fn alerts_and_targets_500_hosts(bencher: Bencher) {
    let snap = ui_fixture::big_snapshot(HOSTS);
    let theme = Theme::embedded_default();
    let mut a = ui_fixture::state(&snap);
    ui_fixture::press(&mut a, "3");
    let Ok(mut terminal) = Terminal::new(TestBackend::new(200, 50));
    bencher.bench_local(|| {
        let _ = terminal.clear();
        let _ = terminal.draw(|f| render(f, &snap, &a, &theme));
    });
}

/// The anomalies view over the 500-host fixture (one run per seventh host), filtered, so the
/// filter's per-run label sets are part of the cost of a keypress there.
#[divan::bench(args = ["", "vital=cpu_pct !host0007"])]
fn anomalies_view_500_hosts(bencher: Bencher, filter: &str) {
    let snap = ui_fixture::big_snapshot(HOSTS);
    let theme = Theme::embedded_default();
    let mut a = ui_fixture::state(&snap);
    ui_fixture::press(&mut a, "6");
    if !filter.is_empty() {
        let keys: Vec<String> = filter
            .chars()
            .map(|c| match c {
                ' ' => "<Space>".to_string(),
                '<' => "<lt>".to_string(),
                c => c.to_string(),
            })
            .collect();
        ui_fixture::press(&mut a, &format!("/ {} <Enter>", keys.join(" ")));
    }
    let Ok(mut terminal) = Terminal::new(TestBackend::new(200, 50));
    bencher.bench_local(|| {
        a.sync(divan::black_box(&snap));
        let _ = terminal.clear();
        let _ = terminal.draw(|f| render(f, &snap, &a, &theme));
    });
}
