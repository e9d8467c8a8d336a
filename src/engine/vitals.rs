//! Vitals derived from exporter samples: node_exporter and windows_exporter metrics folded into
//! the source-independent `Vitals` view. Sees one scrape's samples at a time; keeps no state.

use crate::expo::Label;
use crate::model::{DiskUsage, Millis, Vitals};

use super::rate::counter_delta;

/// Filesystems that are not disks a sysadmin fills: kernel pseudo file systems and RAM-backed
/// mounts. node_exporter already drops most of these by default; the rest (tmpfs, ramfs) would
/// put `/run` and `/dev/shm` next to real disks.
const IGNORED_FSTYPES: &[&str] = &[
    "tmpfs",
    "ramfs",
    "devtmpfs",
    "squashfs",
    "overlay",
    "nsfs",
    "proc",
    "sysfs",
    "cgroup",
    "cgroup2",
    "autofs",
    "tracefs",
    "debugfs",
    "devpts",
    "mqueue",
    "hugetlbfs",
    "securityfs",
    "pstore",
    "bpf",
    "configfs",
    "binfmt_misc",
    "fusectl",
    "fuse.lxcfs",
    "efivarfs",
    "rpc_pipefs",
    "iso9660",
];

/// Network devices whose traffic is counted again on a physical interface (bridges, veths),
/// or never leaves the box (loopback).
const IGNORED_NET_PREFIXES: &[&str] = &[
    "lo", "veth", "docker", "br-", "virbr", "cni", "cali", "flannel", "vxlan",
];

/// Previous sample of a series, for counter deltas.
#[derive(Clone, Copy, Debug)]
pub struct Prev {
    pub ts: Millis,
    pub value: f64,
}

#[derive(Default)]
struct RateSum {
    /// Σ per-series increase/second.
    per_sec: f64,
    seen: bool,
    /// Some series had no previous sample: the sum would be too small, so report nothing.
    incomplete: bool,
}

impl RateSum {
    fn add(&mut self, cur: f64, ts: Millis, prev: Option<Prev>) {
        self.seen = true;
        match prev {
            Some(p) if ts > p.ts => {
                self.per_sec += counter_delta(p.value, cur) / ((ts - p.ts) as f64 / 1000.0);
            }
            _ => self.incomplete = true,
        }
    }
    fn get(&self) -> Option<f64> {
        (self.seen && !self.incomplete).then_some(self.per_sec)
    }
}

#[derive(Default)]
struct Fs {
    mount: String,
    size: Option<f64>,
    free: Option<f64>,
    avail: Option<f64>,
}

/// Accumulates one scrape's relevant samples, then `finish` computes the vitals.
#[derive(Default)]
pub struct VitalsAcc {
    cpu_idle: f64,
    cpu_total: f64,
    cpu_seen: bool,
    cpu_incomplete: bool,
    mem_total: Option<f64>,
    mem_avail: Option<f64>,
    mem_free: Option<f64>,
    mem_buffers: Option<f64>,
    mem_cached: Option<f64>,
    swap_total: Option<f64>,
    swap_free: Option<f64>,
    load: [Option<f64>; 3],
    boot_time: Option<f64>,
    time: Option<f64>,
    fs: Vec<Fs>,
    disk_read: RateSum,
    disk_write: RateSum,
    net_rx: RateSum,
    net_tx: RateSum,
}

fn label<'l>(labels: &'l [Label<'_>], name: &str) -> Option<&'l str> {
    labels
        .iter()
        .find(|l| l.name == name)
        .map(|l| l.value.as_ref())
}

/// The byte counters summed into per-second rates.
#[derive(Clone, Copy)]
enum Io {
    DiskRead,
    DiskWrite,
    NetRx,
    NetTx,
}

impl VitalsAcc {
    fn io(&mut self, which: Io) -> &mut RateSum {
        match which {
            Io::DiskRead => &mut self.disk_read,
            Io::DiskWrite => &mut self.disk_write,
            Io::NetRx => &mut self.net_rx,
            Io::NetTx => &mut self.net_tx,
        }
    }

    /// Offer one sample. Cheap for the vast majority of names that are not vitals.
    pub fn observe(
        &mut self,
        name: &str,
        labels: &[Label<'_>],
        value: f64,
        ts: Millis,
        prev: Option<Prev>,
    ) {
        if let Some(rest) = name.strip_prefix("node_") {
            self.observe_node(rest, labels, value, ts, prev);
        } else if let Some(rest) = name.strip_prefix("windows_") {
            self.observe_windows(rest, labels, value, ts, prev);
        }
    }

    fn cpu(&mut self, idle: bool, value: f64, ts: Millis, prev: Option<Prev>) {
        self.cpu_seen = true;
        match prev {
            Some(p) if ts > p.ts => {
                let d = counter_delta(p.value, value);
                self.cpu_total += d;
                if idle {
                    self.cpu_idle += d;
                }
            }
            _ => self.cpu_incomplete = true,
        }
    }

    fn fs_entry(&mut self, mount: &str) -> &mut Fs {
        let pos = match self.fs.iter().position(|f| f.mount == mount) {
            Some(p) => p,
            None => {
                self.fs.push(Fs {
                    mount: mount.to_string(),
                    ..Fs::default()
                });
                self.fs.len() - 1
            }
        };
        &mut self.fs[pos]
    }

    fn observe_node(
        &mut self,
        rest: &str,
        labels: &[Label<'_>],
        value: f64,
        ts: Millis,
        prev: Option<Prev>,
    ) {
        match rest {
            "cpu_seconds_total" => {
                // iowait is time the CPU could have run something else: count it as idle, as
                // top's "us+sy" view and most node dashboards do.
                let mode = label(labels, "mode").unwrap_or("");
                let idle = mode == "idle" || mode == "iowait";
                self.cpu(idle, value, ts, prev);
            }
            "memory_MemTotal_bytes" => self.mem_total = Some(value),
            "memory_MemAvailable_bytes" => self.mem_avail = Some(value),
            "memory_MemFree_bytes" => self.mem_free = Some(value),
            "memory_Buffers_bytes" => self.mem_buffers = Some(value),
            "memory_Cached_bytes" => self.mem_cached = Some(value),
            "memory_SwapTotal_bytes" => self.swap_total = Some(value),
            "memory_SwapFree_bytes" => self.swap_free = Some(value),
            "load1" => self.load[0] = Some(value),
            "load5" => self.load[1] = Some(value),
            "load15" => self.load[2] = Some(value),
            "boot_time_seconds" => self.boot_time = Some(value),
            "time_seconds" => self.time = Some(value),
            "filesystem_size_bytes" | "filesystem_avail_bytes" | "filesystem_free_bytes" => {
                let fstype = label(labels, "fstype").unwrap_or("");
                if IGNORED_FSTYPES.contains(&fstype) {
                    return;
                }
                let Some(mount) = label(labels, "mountpoint") else {
                    return;
                };
                let fs = self.fs_entry(mount);
                // The same mount point can appear for several devices (bind mounts, stacked
                // mounts): the first one wins, as `df` shows the top of the stack once.
                let slot = match rest {
                    "filesystem_size_bytes" => &mut fs.size,
                    "filesystem_avail_bytes" => &mut fs.avail,
                    _ => &mut fs.free,
                };
                if slot.is_none() {
                    *slot = Some(value);
                }
            }
            "disk_read_bytes_total" | "disk_written_bytes_total" => {
                // Device-mapper devices sit on top of real disks: counting both doubles I/O.
                if label(labels, "device").is_some_and(|d| d.starts_with("dm-")) {
                    return;
                }
                let dir = if rest == "disk_read_bytes_total" {
                    Io::DiskRead
                } else {
                    Io::DiskWrite
                };
                self.io(dir).add(value, ts, prev);
            }
            "network_receive_bytes_total" | "network_transmit_bytes_total" => {
                let dev = label(labels, "device").unwrap_or("");
                if IGNORED_NET_PREFIXES.iter().any(|p| dev.starts_with(p)) {
                    return;
                }
                let dir = if rest == "network_receive_bytes_total" {
                    Io::NetRx
                } else {
                    Io::NetTx
                };
                self.io(dir).add(value, ts, prev);
            }
            _ => {}
        }
    }

    fn observe_windows(
        &mut self,
        rest: &str,
        labels: &[Label<'_>],
        value: f64,
        ts: Millis,
        prev: Option<Prev>,
    ) {
        match rest {
            // windows_exporter renamed collectors over time; both generations are accepted.
            "cpu_time_total" => {
                let idle = label(labels, "mode") == Some("idle");
                self.cpu(idle, value, ts, prev);
            }
            "cs_physical_memory_bytes" | "memory_physical_total_bytes" => {
                self.mem_total = Some(value)
            }
            "os_physical_memory_free_bytes" | "memory_physical_free_bytes" => {
                self.mem_avail = Some(value)
            }
            "os_paging_limit_bytes" | "pagefile_limit_bytes" => self.swap_total = Some(value),
            "system_boot_time_timestamp_seconds" => self.boot_time = Some(value),
            "os_time" | "time_current_timestamp_seconds" => self.time = Some(value),
            "os_paging_free_bytes" | "pagefile_free_bytes" => self.swap_free = Some(value),
            "logical_disk_size_bytes" | "logical_disk_free_bytes" => {
                let Some(vol) = label(labels, "volume") else {
                    return;
                };
                // Volumes without a drive letter are recovery/boot partitions.
                if vol.starts_with("HarddiskVolume") || vol == "_Total" {
                    return;
                }
                let fs = self.fs_entry(vol);
                if rest == "logical_disk_size_bytes" {
                    fs.size = Some(value);
                } else {
                    // NTFS has no root reserve: free and available are the same.
                    fs.free = Some(value);
                    fs.avail = Some(value);
                }
            }
            "logical_disk_read_bytes_total" | "logical_disk_write_bytes_total" => {
                let vol = label(labels, "volume").unwrap_or("");
                if vol.starts_with("HarddiskVolume") || vol == "_Total" {
                    return;
                }
                let dir = if rest == "logical_disk_read_bytes_total" {
                    Io::DiskRead
                } else {
                    Io::DiskWrite
                };
                self.io(dir).add(value, ts, prev);
            }
            "net_bytes_received_total" | "net_bytes_sent_total" => {
                let nic = label(labels, "nic").unwrap_or("");
                if nic.contains("isatap") || nic.contains("Loopback") {
                    return;
                }
                let dir = if rest == "net_bytes_received_total" {
                    Io::NetRx
                } else {
                    Io::NetTx
                };
                self.io(dir).add(value, ts, prev);
            }
            _ => {}
        }
    }

    /// Turn the scrape's samples into vitals; anything that could not be computed is `None`.
    pub fn finish(self) -> Vitals {
        let pct = |num: f64, den: f64| {
            if den > 0.0 && num.is_finite() && den.is_finite() {
                Some((num / den * 100.0).clamp(0.0, 100.0))
            } else {
                None
            }
        };
        let cpu_pct = if self.cpu_seen && !self.cpu_incomplete {
            if self.cpu_total > 0.0 {
                pct(self.cpu_total - self.cpu_idle, self.cpu_total)
            } else {
                // No CPU time passed at all between scrapes (same timestamps): unknown.
                None
            }
        } else {
            None
        };
        // Older kernels (< 3.14) have no MemAvailable: approximate it the way `free` did.
        let avail =
            self.mem_avail.or_else(
                || match (self.mem_free, self.mem_buffers, self.mem_cached) {
                    (Some(f), b, c) => Some(f + b.unwrap_or(0.0) + c.unwrap_or(0.0)),
                    _ => None,
                },
            );
        let mem_pct = match (self.mem_total, avail) {
            (Some(t), Some(a)) => pct(t - a, t),
            _ => None,
        };
        let swap_pct = match (self.swap_total, self.swap_free) {
            (Some(t), Some(f)) if t > 0.0 => pct(t - f, t),
            _ => None,
        };
        let mut disks: Vec<DiskUsage> = self
            .fs
            .into_iter()
            .filter_map(|f| {
                let size = f.size?;
                if size <= 0.0 {
                    return None;
                }
                let free = f.free?;
                let avail = f.avail.unwrap_or(free);
                // df's formula: used / (used + available), so the root reserve counts as full.
                let used = size - free;
                Some(DiskUsage {
                    mount: f.mount,
                    used_pct: pct(used, used + avail)?,
                })
            })
            .collect();
        disks.sort_by(|a, b| a.mount.cmp(&b.mount));
        Vitals {
            up: None,
            cpu_pct,
            mem_pct,
            swap_pct,
            load1: self.load[0],
            load5: self.load[1],
            load15: self.load[2],
            disks,
            disk_read_bps: self.disk_read.get(),
            disk_write_bps: self.disk_write.get(),
            net_rx_bps: self.net_rx.get(),
            net_tx_bps: self.net_tx.get(),
            uptime_s: match (self.boot_time, self.time) {
                (Some(b), Some(t)) if t >= b => Some(t - b),
                _ => None,
            },
            ..Vitals::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    fn l<'a>(pairs: &[(&'a str, &'a str)]) -> Vec<Label<'a>> {
        pairs
            .iter()
            .map(|&(n, v)| Label {
                name: n,
                value: Cow::Borrowed(v),
            })
            .collect()
    }

    #[test]
    fn cpu_needs_two_scrapes_and_counts_iowait_as_idle() {
        let mut a = VitalsAcc::default();
        a.observe(
            "node_cpu_seconds_total",
            &l(&[("cpu", "0"), ("mode", "idle")]),
            100.0,
            1000,
            None,
        );
        assert_eq!(a.finish().cpu_pct, None);

        let mut a = VitalsAcc::default();
        let p = |v| Some(Prev { ts: 0, value: v });
        a.observe(
            "node_cpu_seconds_total",
            &l(&[("cpu", "0"), ("mode", "idle")]),
            106.0,
            10_000,
            p(100.0),
        );
        a.observe(
            "node_cpu_seconds_total",
            &l(&[("cpu", "0"), ("mode", "iowait")]),
            11.0,
            10_000,
            p(10.0),
        );
        a.observe(
            "node_cpu_seconds_total",
            &l(&[("cpu", "0"), ("mode", "user")]),
            53.0,
            10_000,
            p(50.0),
        );
        let v = a.finish();
        assert!((v.cpu_pct.unwrap() - 30.0).abs() < 1e-9);
    }

    #[test]
    fn memory_swap_load_and_disks() {
        let mut a = VitalsAcc::default();
        a.observe("node_memory_MemTotal_bytes", &[], 1000.0, 0, None);
        a.observe("node_memory_MemAvailable_bytes", &[], 250.0, 0, None);
        a.observe("node_memory_SwapTotal_bytes", &[], 0.0, 0, None);
        a.observe("node_memory_SwapFree_bytes", &[], 0.0, 0, None);
        a.observe("node_load1", &[], 0.5, 0, None);
        let root = l(&[
            ("device", "/dev/vda"),
            ("fstype", "ext4"),
            ("mountpoint", "/"),
        ]);
        a.observe("node_filesystem_size_bytes", &root, 100.0, 0, None);
        a.observe("node_filesystem_free_bytes", &root, 20.0, 0, None);
        a.observe("node_filesystem_avail_bytes", &root, 15.0, 0, None);
        let run = l(&[
            ("device", "tmpfs"),
            ("fstype", "tmpfs"),
            ("mountpoint", "/run"),
        ]);
        a.observe("node_filesystem_size_bytes", &run, 100.0, 0, None);
        a.observe("node_filesystem_free_bytes", &run, 1.0, 0, None);
        let v = a.finish();
        assert_eq!(v.mem_pct, Some(75.0));
        assert_eq!(v.swap_pct, None, "no swap configured is not 0% or 100%");
        assert_eq!(v.load1, Some(0.5));
        assert_eq!(v.disks.len(), 1);
        assert_eq!(v.disks[0].mount, "/");
        // used 80 of (80 + 15) available to users.
        assert!((v.disks[0].used_pct - 80.0 / 95.0 * 100.0).abs() < 1e-9);
    }

    #[test]
    fn network_skips_loopback_and_handles_reset() {
        let mut a = VitalsAcc::default();
        let p = |v| Some(Prev { ts: 0, value: v });
        a.observe(
            "node_network_receive_bytes_total",
            &l(&[("device", "lo")]),
            1e9,
            10_000,
            p(0.0),
        );
        a.observe(
            "node_network_receive_bytes_total",
            &l(&[("device", "eth0")]),
            2000.0,
            10_000,
            p(1000.0),
        );
        // eth1's counter restarted: the new value is all new traffic.
        a.observe(
            "node_network_receive_bytes_total",
            &l(&[("device", "eth1")]),
            500.0,
            10_000,
            p(9000.0),
        );
        assert_eq!(a.finish().net_rx_bps, Some(150.0));
    }

    #[test]
    fn windows_exporter_vitals() {
        let mut a = VitalsAcc::default();
        let p = |v| Some(Prev { ts: 0, value: v });
        a.observe(
            "windows_cpu_time_total",
            &l(&[("core", "0,0"), ("mode", "idle")]),
            19.0,
            10_000,
            p(10.0),
        );
        a.observe(
            "windows_cpu_time_total",
            &l(&[("core", "0,0"), ("mode", "user")]),
            1.0,
            10_000,
            p(0.0),
        );
        a.observe("windows_cs_physical_memory_bytes", &[], 800.0, 0, None);
        a.observe("windows_os_physical_memory_free_bytes", &[], 200.0, 0, None);
        a.observe(
            "windows_logical_disk_size_bytes",
            &l(&[("volume", "C:")]),
            100.0,
            0,
            None,
        );
        a.observe(
            "windows_logical_disk_free_bytes",
            &l(&[("volume", "C:")]),
            10.0,
            0,
            None,
        );
        a.observe(
            "windows_logical_disk_size_bytes",
            &l(&[("volume", "HarddiskVolume1")]),
            5.0,
            0,
            None,
        );
        let v = a.finish();
        assert!((v.cpu_pct.unwrap() - 10.0).abs() < 1e-9);
        assert_eq!(v.mem_pct, Some(75.0));
        assert_eq!(v.disks.len(), 1);
        assert!((v.disks[0].used_pct - 90.0).abs() < 1e-9);
    }
}
