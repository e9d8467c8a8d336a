//! A rule file of `n` alerting rules shaped like the community node_exporter collections
//! (memory, CPU, disk, network, filesystem, load; ratios, rates, aggregations, `and`,
//! `predict_linear`), thresholds set so a few fire and most do not. The rules benchmark uses
//! it, and exports it for the Prometheus comparison.

/// Twenty expressions; `{x}` is the threshold.
const SHAPES: [&str; 20] = [
    "node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes * 100 < {x}",
    "sum by (instance) (rate(node_network_receive_bytes_total[2m])) / 1024 / 1024 > {x}",
    "sum by (instance) (rate(node_network_transmit_bytes_total[2m])) / 1024 / 1024 > {x}",
    "sum by (instance) (rate(node_disk_read_bytes_total[2m])) / 1024 / 1024 > {x}",
    "sum by (instance) (rate(node_disk_written_bytes_total[2m])) / 1024 / 1024 > {x}",
    "(node_filesystem_avail_bytes * 100) / node_filesystem_size_bytes < {x} and on (instance, device, mountpoint) node_filesystem_readonly == 0",
    "predict_linear(node_filesystem_avail_bytes{fstype!~\"tmpfs\"}[5m], 4 * 3600) < {x}",
    "node_filesystem_files_free / node_filesystem_files * 100 < {x}",
    "100 - (avg by (instance) (rate(node_cpu_seconds_total{mode=\"idle\"}[2m])) * 100) > {x}",
    "avg by (instance) (rate(node_cpu_seconds_total{mode=\"iowait\"}[5m])) * 100 > {x}",
    "(node_memory_SwapTotal_bytes - node_memory_SwapFree_bytes) / node_memory_SwapTotal_bytes * 100 > {x}",
    "node_load1 / on (instance) count by (instance) (node_cpu_seconds_total{mode=\"idle\"}) > {x}",
    "increase(node_vmstat_oom_kill[5m]) > {x}",
    "rate(node_context_switches_total[5m]) / on (instance) count by (instance) (node_cpu_seconds_total{mode=\"idle\"}) > {x}",
    "node_time_seconds - node_boot_time_seconds < {x}",
    "rate(node_network_receive_errs_total[2m]) / rate(node_network_receive_packets_total[2m]) > {x}",
    "node_nf_conntrack_entries / node_nf_conntrack_entries_limit > {x}",
    "max_over_time(node_load1[5m]) > {x}",
    "sum by (instance) (rate(node_cpu_seconds_total{mode!=\"idle\"}[5m])) > {x}",
    "up == {x}",
];

/// Thresholds per shape: one variant in fifty fires on every host (about 2 % of rule × host
/// pairs alert, a bad day rather than a quiet one); the others never do.
fn threshold(shape: usize, k: usize) -> f64 {
    let fires = k.is_multiple_of(50);
    let below = matches!(shape, 0 | 5 | 6 | 7 | 14);
    match (shape, below, fires) {
        (19, _, true) => 1.0,
        (19, _, false) => 0.0,
        (_, true, true) => 1e18,
        (_, true, false) => -1e18 - k as f64,
        (_, false, true) => -1e18,
        (_, false, false) => 1e18 + k as f64,
    }
}

/// `n` rules in `groups` groups of equal size.
pub fn rules_yaml(n: usize, groups: usize) -> String {
    let mut out = String::from("groups:\n");
    for g in 0..groups {
        out.push_str(&format!("  - name: bench{g}\n    rules:\n"));
        for r in 0..n / groups {
            let i = g * (n / groups) + r;
            let shape = i % SHAPES.len();
            let k = i / SHAPES.len();
            let expr = SHAPES[shape].replace("{x}", &format!("{}", threshold(shape, k)));
            out.push_str(&format!(
                "      - alert: Bench{i}\n        expr: '{}'\n        for: 1m\n        labels:\n          severity: warning\n        annotations:\n          summary: '{{{{ $labels.instance }}}} value {{{{ $value | humanize }}}}'\n",
                expr.replace('\'', "''")
            ));
        }
    }
    out
}
