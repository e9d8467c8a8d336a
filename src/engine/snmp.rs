//! SNMP profiles: turns one poll's varbinds into vitals, per-interface state and series.
//! Counters stay exact integers; a Counter32 wrap is accepted only with proof (sysUpTime grew,
//! no discontinuity, a plausible rate), otherwise the interval is skipped as a discontinuity.
//! Pure: keeps per-target counter state between polls, reads no clock.

use std::collections::{BTreeMap, HashMap};

use crate::config::{CustomOid, CustomOidKind};
use crate::model::{DiskUsage, InterfaceStatus, Millis, SnmpValue, Varbind, Vitals};

const SYS_UPTIME: &[u32] = &[1, 3, 6, 1, 2, 1, 1, 3, 0];
const HR_SYSTEM_UPTIME: &[u32] = &[1, 3, 6, 1, 2, 1, 25, 1, 1, 0];
const IF_ENTRY: &[u32] = &[1, 3, 6, 1, 2, 1, 2, 2, 1];
const IFX_ENTRY: &[u32] = &[1, 3, 6, 1, 2, 1, 31, 1, 1, 1];
const HR_STORAGE_ENTRY: &[u32] = &[1, 3, 6, 1, 2, 1, 25, 2, 3, 1];
const HR_PROCESSOR_LOAD: &[u32] = &[1, 3, 6, 1, 2, 1, 25, 3, 3, 1, 2];
const UCD_MEM: &[u32] = &[1, 3, 6, 1, 4, 1, 2021, 4];
const UCD_SYSTEM_STATS: &[u32] = &[1, 3, 6, 1, 4, 1, 2021, 11];
const UCD_DSK_ENTRY: &[u32] = &[1, 3, 6, 1, 4, 1, 2021, 9, 1];
const UCD_LA_LOAD: &[u32] = &[1, 3, 6, 1, 4, 1, 2021, 10, 1, 3];
const HR_STORAGE_RAM: &[u32] = &[1, 3, 6, 1, 2, 1, 25, 2, 1, 2];
const HR_STORAGE_FIXED_DISK: &[u32] = &[1, 3, 6, 1, 2, 1, 25, 2, 1, 4];
const HR_STORAGE_NETWORK_DISK: &[u32] = &[1, 3, 6, 1, 2, 1, 25, 2, 1, 10];
/// ifType softwareLoopback(24): its traffic never leaves the box.
const IF_TYPE_LOOPBACK: i64 = 24;

/// Allowed slack over an interface's nominal speed before a rate is called absurd.
const SPEED_SLACK: f64 = 1.05;

/// Counter state of one SNMP target, kept between polls.
#[derive(Debug, Default)]
pub struct SnmpState {
    /// Previous sysUpTime (ticks) and when it was read.
    uptime: Option<(Millis, u32)>,
    counters: HashMap<Vec<u32>, PrevCounter>,
    /// ifCounterDiscontinuityTime per ifIndex.
    discontinuity: HashMap<u32, u32>,
}

#[derive(Clone, Copy, Debug)]
struct PrevCounter {
    at: Millis,
    value: u64,
}

/// What one poll yields.
#[derive(Debug, Default)]
pub struct Decoded {
    pub vitals: Vitals,
    /// (canonical series key, value)
    pub series: Vec<(String, f64)>,
    /// Counter intervals skipped as discontinuities (restart, implausible wrap, absurd rate).
    pub discontinuities: u32,
}

/// Varbinds grouped for lookups: exact OIDs, and table columns by their index suffix.
struct Index<'a> {
    by_oid: HashMap<&'a [u32], &'a SnmpValue>,
}

impl<'a> Index<'a> {
    fn new(vbs: &'a [Varbind]) -> Self {
        Index {
            by_oid: vbs.iter().map(|v| (v.oid.as_slice(), &v.value)).collect(),
        }
    }
    fn get(&self, oid: &[u32]) -> Option<&'a SnmpValue> {
        self.by_oid.get(oid).copied().filter(|v| is_present(v))
    }
    fn scalar(&self, prefix: &[u32], arc: u32) -> Option<&'a SnmpValue> {
        let mut oid = prefix.to_vec();
        oid.extend([arc, 0]);
        self.get(&oid)
    }
    /// Rows of table column `entry.column`: (index suffix, value), sorted by index.
    fn column(&self, entry: &[u32], column: u32) -> BTreeMap<Vec<u32>, &'a SnmpValue> {
        let mut prefix = entry.to_vec();
        prefix.push(column);
        self.by_oid
            .iter()
            .filter(|(oid, v)| {
                oid.len() > prefix.len() && oid.starts_with(&prefix) && is_present(v)
            })
            .map(|(oid, v)| (oid[prefix.len()..].to_vec(), *v))
            .collect()
    }
}

/// `noSuchObject`/`noSuchInstance`/`endOfMibView` mean "not supported", never a value.
fn is_present(v: &SnmpValue) -> bool {
    !matches!(
        v,
        SnmpValue::NoSuchObject
            | SnmpValue::NoSuchInstance
            | SnmpValue::EndOfMibView
            | SnmpValue::Null
    )
}

fn as_f64(v: &SnmpValue) -> Option<f64> {
    match v {
        SnmpValue::Integer(i) => Some(*i as f64),
        SnmpValue::Counter32(c) | SnmpValue::Gauge32(c) | SnmpValue::TimeTicks(c) => {
            Some(f64::from(*c))
        }
        SnmpValue::Counter64(c) => Some(*c as f64),
        // laLoad and similar objects are numbers sent as text.
        SnmpValue::OctetString(b) => std::str::from_utf8(b).ok()?.trim().parse().ok(),
        _ => None,
    }
}

fn as_text(v: &SnmpValue) -> Option<String> {
    match v {
        SnmpValue::OctetString(b) => Some(String::from_utf8_lossy(b).into_owned()),
        _ => None,
    }
}

fn as_oid(v: &SnmpValue) -> Option<&[u32]> {
    match v {
        SnmpValue::ObjectId(o) => Some(o),
        _ => None,
    }
}

fn dotted(arcs: &[u32]) -> String {
    arcs.iter()
        .map(|a| a.to_string())
        .collect::<Vec<_>>()
        .join(".")
}

fn label_value(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

impl SnmpState {
    /// The increase of a counter since the last poll, or `None` for the first poll or a
    /// discontinuity. `restart` says the agent restarted since the last poll; `max_per_s` is
    /// the most the counter can plausibly grow per second (for wrap proof and absurd rates).
    fn delta(
        &mut self,
        oid: &[u32],
        value: &SnmpValue,
        at: Millis,
        restart: bool,
        max_per_s: Option<f64>,
        discontinuities: &mut u32,
    ) -> Option<(f64, f64)> {
        let (cur, bits32) = match value {
            SnmpValue::Counter32(c) => (u64::from(*c), true),
            SnmpValue::Counter64(c) => (*c, false),
            _ => return None,
        };
        let prev = self
            .counters
            .insert(oid.to_vec(), PrevCounter { at, value: cur })?;
        let secs = (at - prev.at) as f64 / 1000.0;
        if secs <= 0.0 {
            return None;
        }
        if restart {
            *discontinuities += 1;
            return None;
        }
        let delta = if cur >= prev.value {
            cur - prev.value
        } else if bits32 {
            // Only a plausible rate makes a decrease a wrap rather than a reset we missed.
            let wrapped = cur + (1u64 << 32) - prev.value;
            match max_per_s {
                Some(limit) if wrapped as f64 / secs <= limit => wrapped,
                _ => {
                    *discontinuities += 1;
                    return None;
                }
            }
        } else {
            // A Counter64 never wraps in practice: a decrease is a reset.
            *discontinuities += 1;
            return None;
        };
        let rate = delta as f64 / secs;
        if max_per_s.is_some_and(|limit| rate > limit) {
            *discontinuities += 1;
            return None;
        }
        Some((delta as f64, rate))
    }
}

/// Decode one poll. `at` is the poll time.
pub fn decode(state: &mut SnmpState, vbs: &[Varbind], at: Millis, custom: &[CustomOid]) -> Decoded {
    let ix = Index::new(vbs);
    let mut out = Decoded::default();

    // Restart detection: sysUpTime must have grown. TimeTicks are 1/100 s and wrap after 497
    // days; a smaller value is treated as a restart, which at worst skips one interval.
    let uptime = ix
        .get(SYS_UPTIME)
        .or_else(|| ix.get(HR_SYSTEM_UPTIME))
        .and_then(|v| match v {
            SnmpValue::TimeTicks(t) => Some(*t),
            _ => None,
        });
    let restart = match (state.uptime, uptime) {
        (Some((_, prev)), Some(cur)) => cur < prev,
        // Without sysUpTime nothing proves continuity.
        (Some(_), None) => true,
        _ => false,
    };
    state.uptime = uptime.map(|u| (at, u));
    if let Some(u) = uptime {
        out.vitals.uptime_s = Some(f64::from(u) / 100.0);
        out.series
            .push(("sysUpTime".to_string(), f64::from(u) / 100.0));
    }

    interfaces(state, &ix, at, restart, &mut out);
    cpu(state, &ix, at, restart, &mut out);
    memory(&ix, &mut out);
    disks(&ix, &mut out);
    let load: Vec<Option<f64>> = (1..=3)
        .map(|i| {
            let mut oid = UCD_LA_LOAD.to_vec();
            oid.push(i);
            ix.get(&oid).and_then(as_f64)
        })
        .collect();
    out.vitals.load1 = load[0];
    out.vitals.load5 = load[1];
    out.vitals.load15 = load[2];
    custom_objects(state, vbs, &ix, at, restart, custom, &mut out);
    out
}

fn interfaces(state: &mut SnmpState, ix: &Index<'_>, at: Millis, restart: bool, out: &mut Decoded) {
    let descr = ix.column(IF_ENTRY, 2);
    let kind = ix.column(IF_ENTRY, 3);
    let speed = ix.column(IF_ENTRY, 5);
    let admin = ix.column(IF_ENTRY, 7);
    let oper = ix.column(IF_ENTRY, 8);
    let in32 = ix.column(IF_ENTRY, 10);
    let out32 = ix.column(IF_ENTRY, 16);
    let errs: Vec<_> = [13, 14, 19, 20]
        .iter()
        .map(|c| ix.column(IF_ENTRY, *c))
        .collect();
    let name = ix.column(IFX_ENTRY, 1);
    let in64 = ix.column(IFX_ENTRY, 6);
    let out64 = ix.column(IFX_ENTRY, 10);
    let high = ix.column(IFX_ENTRY, 15);
    let alias = ix.column(IFX_ENTRY, 18);
    let disc = ix.column(IFX_ENTRY, 19);

    let mut rows: Vec<Vec<u32>> = descr
        .keys()
        .chain(name.keys())
        .chain(oper.keys())
        .cloned()
        .collect();
    rows.sort();
    rows.dedup();
    let (mut rx_sum, mut tx_sum, mut any_rate) = (0.0, 0.0, false);
    for idx in rows {
        let [if_index] = idx.as_slice() else { continue };
        let label = name
            .get(&idx)
            .and_then(|v| as_text(v))
            .filter(|s| !s.is_empty())
            .or_else(|| descr.get(&idx).and_then(|v| as_text(v)))
            .unwrap_or_else(|| format!("if{if_index}"));
        let speed_bps = high
            .get(&idx)
            .and_then(|v| as_f64(v))
            .filter(|s| *s > 0.0)
            .map(|mbps| mbps * 1e6)
            .or_else(|| speed.get(&idx).and_then(|v| as_f64(v)).filter(|s| *s > 0.0));
        // A changed discontinuity time means the counters were reset under us.
        let disc_now = disc.get(&idx).and_then(|v| match v {
            SnmpValue::TimeTicks(t) => Some(*t),
            _ => None,
        });
        let discontinuity = match (disc_now, state.discontinuity.get(if_index)) {
            (Some(now), Some(prev)) => now != *prev,
            _ => false,
        };
        if let Some(d) = disc_now {
            state.discontinuity.insert(*if_index, d);
        }
        let reset = restart || discontinuity;
        let max_bytes_per_s = speed_bps.map(|b| b / 8.0 * SPEED_SLACK);
        let mut rate_of = |col64: &BTreeMap<Vec<u32>, &SnmpValue>,
                           col32: &BTreeMap<Vec<u32>, &SnmpValue>,
                           entry: &[u32],
                           c64: u32,
                           c32: u32| {
            let (oid, v) = if let Some(v) = col64.get(&idx) {
                let mut o = IFX_ENTRY.to_vec();
                o.push(c64);
                (o, *v)
            } else {
                let v = col32.get(&idx)?;
                let mut o = entry.to_vec();
                o.push(c32);
                (o, *v)
            };
            let mut full = oid;
            full.push(*if_index);
            state
                .delta(
                    &full,
                    v,
                    at,
                    reset,
                    max_bytes_per_s,
                    &mut out.discontinuities,
                )
                .map(|(_, r)| r)
        };
        let rx = rate_of(&in64, &in32, IF_ENTRY, 6, 10);
        let tx = rate_of(&out64, &out32, IF_ENTRY, 10, 16);
        let mut err_rate = None;
        for (col, c) in errs.iter().zip([13u32, 14, 19, 20]) {
            if let Some(v) = col.get(&idx) {
                let mut oid = IF_ENTRY.to_vec();
                oid.extend([c, *if_index]);
                // Errors cannot outnumber minimum-size frames at line rate.
                let limit = speed_bps.map(|b| b / 8.0 / 64.0 * SPEED_SLACK);
                if let Some((_, r)) =
                    state.delta(&oid, v, at, reset, limit, &mut out.discontinuities)
                {
                    err_rate = Some(err_rate.unwrap_or(0.0) + r);
                }
            }
        }
        let admin_up = admin.get(&idx).and_then(|v| as_f64(v)) == Some(1.0);
        let oper_up = oper.get(&idx).and_then(|v| as_f64(v)) == Some(1.0);
        let is_loopback = kind.get(&idx).and_then(|v| as_f64(v)) == Some(IF_TYPE_LOOPBACK as f64);
        let l = format!(
            "{{ifIndex=\"{if_index}\",ifName=\"{}\"}}",
            label_value(&label)
        );
        out.series.push((
            format!("ifOperStatus{l}"),
            oper.get(&idx).and_then(|v| as_f64(v)).unwrap_or(f64::NAN),
        ));
        out.series.push((
            format!("ifAdminStatus{l}"),
            admin.get(&idx).and_then(|v| as_f64(v)).unwrap_or(f64::NAN),
        ));
        if let Some(r) = rx {
            out.series.push((format!("if_rx_bytes_per_second{l}"), r));
        }
        if let Some(r) = tx {
            out.series.push((format!("if_tx_bytes_per_second{l}"), r));
        }
        if !is_loopback {
            if let Some(r) = rx {
                rx_sum += r;
                any_rate = true;
            }
            if let Some(r) = tx {
                tx_sum += r;
            }
        }
        out.vitals.interfaces.push(InterfaceStatus {
            name: label,
            alias: alias.get(&idx).and_then(|v| as_text(v)).unwrap_or_default(),
            admin_up,
            oper_up,
            rx_bps: rx,
            tx_bps: tx,
            speed_bps,
            errors_ps: err_rate,
        });
    }
    if any_rate {
        out.vitals.net_rx_bps = Some(rx_sum);
        out.vitals.net_tx_bps = Some(tx_sum);
    }
}

fn cpu(state: &mut SnmpState, ix: &Index<'_>, at: Millis, restart: bool, out: &mut Decoded) {
    // UCD raw CPU ticks (1/100 s per CPU): busy = 1 − (idle + wait) / total over the interval.
    let cpus = ix
        .scalar(UCD_SYSTEM_STATS, 67)
        .and_then(as_f64)
        .or_else(|| {
            let n = ix
                .column(&HR_PROCESSOR_LOAD[..HR_PROCESSOR_LOAD.len() - 1], 2)
                .len();
            (n > 0).then_some(n as f64)
        })
        .unwrap_or(1.0)
        .max(1.0);
    // Ticks cannot grow faster than 100 per second per CPU (with slack for clock skew).
    let limit = Some(100.0 * cpus * 1.5);
    let mut total = 0.0;
    let mut idle = 0.0;
    let mut complete = true;
    let mut seen = false;
    for (arc, is_idle) in [
        (50, false),
        (51, false),
        (52, false),
        (53, true),
        (54, true),
        (64, false),
    ] {
        let Some(v) = ix.scalar(UCD_SYSTEM_STATS, arc) else {
            continue;
        };
        seen = true;
        let mut oid = UCD_SYSTEM_STATS.to_vec();
        oid.extend([arc, 0]);
        match state.delta(&oid, v, at, restart, limit, &mut out.discontinuities) {
            Some((d, _)) => {
                total += d;
                if is_idle {
                    idle += d;
                }
            }
            None => complete = false,
        }
    }
    out.vitals.cpu_pct = if seen && complete && total > 0.0 {
        Some(((total - idle) / total * 100.0).clamp(0.0, 100.0))
    } else if !seen {
        // HOST-RESOURCES: per-CPU 1-minute busy averages.
        let loads: Vec<f64> = ix
            .column(&HR_PROCESSOR_LOAD[..HR_PROCESSOR_LOAD.len() - 1], 2)
            .values()
            .filter_map(|v| as_f64(v))
            .collect();
        (!loads.is_empty())
            .then(|| loads.iter().sum::<f64>() / loads.len() as f64)
            .or_else(|| {
                ix.scalar(UCD_SYSTEM_STATS, 11)
                    .and_then(as_f64)
                    .map(|idle| 100.0 - idle)
            })
    } else {
        None
    };
    if let Some(c) = out.vitals.cpu_pct {
        out.series.push(("cpu_busy_percent".to_string(), c));
    }
}

fn memory(ix: &Index<'_>, out: &mut Decoded) {
    let kb = |arc| ix.scalar(UCD_MEM, arc).and_then(as_f64);
    // Prefer the 64-bit objects and memSysAvail (≈ Linux MemAvailable); memAvailReal alone
    // is only free memory, so add buffers and cache as `free` did.
    let total = kb(20).or_else(|| kb(5));
    let avail = kb(27).or_else(|| {
        let free = kb(21).or_else(|| kb(6))?;
        Some(free + kb(14).unwrap_or(0.0) + kb(15).unwrap_or(0.0))
    });
    out.vitals.mem_pct = match (total, avail) {
        (Some(t), Some(a)) if t > 0.0 => Some(((t - a) / t * 100.0).clamp(0.0, 100.0)),
        _ => None,
    };
    if let (Some(t), Some(a)) = (kb(3), kb(4))
        && t > 0.0
    {
        out.vitals.swap_pct = Some(((t - a) / t * 100.0).clamp(0.0, 100.0));
    }
    if out.vitals.mem_pct.is_none() {
        // HOST-RESOURCES: the RAM row of hrStorageTable.
        for (idx, ty) in ix.column(HR_STORAGE_ENTRY, 2) {
            if as_oid(ty) == Some(HR_STORAGE_RAM)
                && let Some(p) = storage_pct(ix, &idx)
            {
                out.vitals.mem_pct = Some(p);
            }
        }
    }
    if let Some(m) = out.vitals.mem_pct {
        out.series.push(("memory_used_percent".to_string(), m));
    }
}

fn storage_pct(ix: &Index<'_>, idx: &[u32]) -> Option<f64> {
    let get = |col: u32| {
        let mut oid = HR_STORAGE_ENTRY.to_vec();
        oid.push(col);
        oid.extend_from_slice(idx);
        ix.get(&oid).and_then(as_f64)
    };
    let (size, used) = (get(5)?, get(6)?);
    (size > 0.0).then(|| (used / size * 100.0).clamp(0.0, 100.0))
}

fn disks(ix: &Index<'_>, out: &mut Decoded) {
    // UCD dskTable, with the 64-bit High/Low halves when the agent has them (the 32-bit kB
    // columns latch at 2 TB).
    let paths = ix.column(UCD_DSK_ENTRY, 2);
    for (idx, path) in &paths {
        let get = |col: u32| {
            let mut oid = UCD_DSK_ENTRY.to_vec();
            oid.push(col);
            oid.extend_from_slice(idx);
            ix.get(&oid).and_then(as_f64)
        };
        let wide = |lo: u32, hi: u32| Some(get(hi)? * 4_294_967_296.0 + get(lo)?);
        let avail = wide(13, 14).or_else(|| get(7));
        let used = wide(15, 16).or_else(|| get(8));
        let Some(mount) = as_text(path) else { continue };
        if let (Some(a), Some(u)) = (avail, used)
            && a + u > 0.0
        {
            out.vitals.disks.push(DiskUsage {
                mount,
                used_pct: (u / (u + a) * 100.0).clamp(0.0, 100.0),
            });
        }
    }
    if paths.is_empty() {
        for (idx, ty) in ix.column(HR_STORAGE_ENTRY, 2) {
            let t = as_oid(ty);
            if t != Some(HR_STORAGE_FIXED_DISK) && t != Some(HR_STORAGE_NETWORK_DISK) {
                continue;
            }
            let mut oid = HR_STORAGE_ENTRY.to_vec();
            oid.push(3);
            oid.extend_from_slice(&idx);
            let mount = ix
                .get(&oid)
                .and_then(as_text)
                .unwrap_or_else(|| dotted(&idx));
            if let Some(p) = storage_pct(ix, &idx) {
                out.vitals.disks.push(DiskUsage { mount, used_pct: p });
            }
        }
    }
    out.vitals.disks.sort_by(|a, b| a.mount.cmp(&b.mount));
    for d in &out.vitals.disks {
        out.series.push((
            format!(
                "disk_used_percent{{mountpoint=\"{}\"}}",
                label_value(&d.mount)
            ),
            d.used_pct,
        ));
    }
}

fn custom_objects(
    state: &mut SnmpState,
    vbs: &[Varbind],
    ix: &Index<'_>,
    at: Millis,
    restart: bool,
    custom: &[CustomOid],
    out: &mut Decoded,
) {
    for c in custom {
        let rows: Vec<(&[u32], &SnmpValue)> = if c.walk {
            vbs.iter()
                .filter(|v| {
                    v.oid.len() > c.oid.len() && v.oid.starts_with(&c.oid) && is_present(&v.value)
                })
                .map(|v| (&v.oid[c.oid.len()..], &v.value))
                .collect()
        } else {
            ix.get(&c.oid)
                .map(|v| vec![(&[][..], v)])
                .unwrap_or_default()
        };
        for (suffix, value) in rows {
            let mut labels: Vec<(String, String)> = Vec::new();
            if !suffix.is_empty() {
                if c.index_labels.len() == suffix.len() {
                    for (n, a) in c.index_labels.iter().zip(suffix) {
                        labels.push((n.clone(), a.to_string()));
                    }
                } else {
                    let n = c
                        .index_labels
                        .first()
                        .cloned()
                        .unwrap_or_else(|| "index".to_string());
                    labels.push((n, dotted(suffix)));
                }
            }
            let number = as_f64(value);
            let v = match c.kind {
                CustomOidKind::Text => {
                    let Some(t) = as_text(value) else { continue };
                    labels.push(("value".to_string(), t));
                    1.0
                }
                CustomOidKind::Gauge => match number {
                    Some(n) => n,
                    None => continue,
                },
                CustomOidKind::Counter => {
                    // Counters are stored raw; their rate goes alongside.
                    let mut full = c.oid.clone();
                    full.extend_from_slice(suffix);
                    if let Some((_, r)) =
                        state.delta(&full, value, at, restart, None, &mut out.discontinuities)
                    {
                        out.series
                            .push((key(&format!("{}_per_second", c.name), &labels), r));
                    }
                    match number {
                        Some(n) => n,
                        None => continue,
                    }
                }
            };
            if let Some(name) = number.and_then(|n| {
                c.lookup
                    .iter()
                    .find(|(k, _)| *k as f64 == n)
                    .map(|(_, s)| s.clone())
            }) {
                labels.push(("state".to_string(), name));
            }
            out.series.push((key(&c.name, &labels), v));
        }
    }
}

fn key(name: &str, labels: &[(String, String)]) -> String {
    if labels.is_empty() {
        return name.to_string();
    }
    let mut sorted: Vec<&(String, String)> = labels.iter().collect();
    sorted.sort();
    let body: Vec<String> = sorted
        .iter()
        .map(|(n, v)| format!("{n}=\"{}\"", label_value(v)))
        .collect();
    format!("{name}{{{}}}", body.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn vb(oid: &[u32], value: SnmpValue) -> Varbind {
        Varbind {
            oid: oid.to_vec(),
            value,
        }
    }

    fn with(prefix: &[u32], tail: &[u32], value: SnmpValue) -> Varbind {
        let mut o = prefix.to_vec();
        o.extend_from_slice(tail);
        vb(&o, value)
    }

    fn text(s: &str) -> SnmpValue {
        SnmpValue::OctetString(Bytes::from(s.to_string()))
    }

    /// One interface eth0 (ifIndex 2, 1 Gb/s) with 32-bit and optional 64-bit octets.
    fn iface(uptime: u32, in32: u32, hc_in: Option<u64>, oper: i64) -> Vec<Varbind> {
        let mut v = vec![
            vb(SYS_UPTIME, SnmpValue::TimeTicks(uptime)),
            with(IF_ENTRY, &[2, 2], text("eth0")),
            with(IF_ENTRY, &[3, 2], SnmpValue::Integer(6)),
            with(IF_ENTRY, &[7, 2], SnmpValue::Integer(1)),
            with(IF_ENTRY, &[8, 2], SnmpValue::Integer(oper)),
            with(IF_ENTRY, &[10, 2], SnmpValue::Counter32(in32)),
            with(IF_ENTRY, &[16, 2], SnmpValue::Counter32(0)),
            with(IFX_ENTRY, &[1, 2], text("eth0")),
            with(IFX_ENTRY, &[15, 2], SnmpValue::Gauge32(1000)),
        ];
        if let Some(hc) = hc_in {
            v.push(with(IFX_ENTRY, &[6, 2], SnmpValue::Counter64(hc)));
        }
        v
    }

    #[test]
    fn counter32_wrap_with_proof_is_a_rate() {
        let mut st = SnmpState::default();
        decode(&mut st, &iface(1000, u32::MAX - 999, None, 1), 0, &[]);
        // 10 s later the counter wrapped: 1000 + 1000 bytes went through (200 B/s).
        let d = decode(&mut st, &iface(2000, 1000, None, 1), 10_000, &[]);
        assert_eq!(d.discontinuities, 0);
        assert_eq!(d.vitals.interfaces[0].rx_bps, Some(200.0));
        assert_eq!(d.vitals.net_rx_bps, Some(200.0));
    }

    #[test]
    fn a_decrease_after_a_reboot_is_a_discontinuity_not_a_wrap() {
        let mut st = SnmpState::default();
        decode(&mut st, &iface(100_000, 5_000_000, None, 1), 0, &[]);
        // sysUpTime went down: the agent restarted; the counter restarted too.
        let d = decode(&mut st, &iface(500, 1_000, None, 1), 10_000, &[]);
        assert_eq!(d.vitals.interfaces[0].rx_bps, None);
        assert!(d.discontinuities >= 1);
        // The next interval is fine again.
        let d = decode(&mut st, &iface(1500, 2_000, None, 1), 20_000, &[]);
        assert_eq!(d.vitals.interfaces[0].rx_bps, Some(100.0));
    }

    #[test]
    fn an_implausible_wrap_is_rejected() {
        let mut st = SnmpState::default();
        decode(&mut st, &iface(1000, 10, None, 1), 0, &[]);
        // A "wrap" from 10 to 5 would mean ~4 GB in 1 s on a 1 Gb/s link: impossible.
        let d = decode(&mut st, &iface(1100, 5, None, 1), 1_000, &[]);
        assert_eq!(d.vitals.interfaces[0].rx_bps, None);
        assert_eq!(d.discontinuities, 1);
    }

    #[test]
    fn absurd_counter64_is_never_a_rate() {
        let mut st = SnmpState::default();
        decode(&mut st, &iface(1000, 0, Some(1_000), 1), 0, &[]);
        let d = decode(
            &mut st,
            &iface(2000, 0, Some(18_446_744_073_708_309_388), 1),
            10_000,
            &[],
        );
        assert_eq!(
            d.vitals.interfaces[0].rx_bps, None,
            "rate above link speed is rejected"
        );
        assert_eq!(d.discontinuities, 1);
    }

    #[test]
    fn hc_counters_are_preferred_and_oper_status_reported() {
        let mut st = SnmpState::default();
        decode(&mut st, &iface(1000, 0, Some(0), 2), 0, &[]);
        let d = decode(&mut st, &iface(2000, 7, Some(50_000), 2), 10_000, &[]);
        let i = &d.vitals.interfaces[0];
        assert_eq!(i.rx_bps, Some(5_000.0));
        assert!(i.admin_up && !i.oper_up);
        assert_eq!(i.speed_bps, Some(1e9));
    }

    #[test]
    fn ucd_memory_cpu_disk_and_load() {
        let mut st = SnmpState::default();
        let poll = |user: u32, idle: u32| {
            vec![
                vb(SYS_UPTIME, SnmpValue::TimeTicks(1000 + user + idle)),
                with(UCD_MEM, &[3, 0], SnmpValue::Integer(1000)),
                with(UCD_MEM, &[4, 0], SnmpValue::Integer(750)),
                with(UCD_MEM, &[5, 0], SnmpValue::Integer(8000)),
                with(UCD_MEM, &[27, 0], SnmpValue::Integer(2000)),
                with(UCD_SYSTEM_STATS, &[50, 0], SnmpValue::Counter32(user)),
                with(UCD_SYSTEM_STATS, &[53, 0], SnmpValue::Counter32(idle)),
                with(UCD_SYSTEM_STATS, &[67, 0], SnmpValue::Integer(2)),
                with(UCD_DSK_ENTRY, &[2, 1], text("/")),
                with(UCD_DSK_ENTRY, &[7, 1], SnmpValue::Integer(25)),
                with(UCD_DSK_ENTRY, &[8, 1], SnmpValue::Integer(75)),
                with(UCD_LA_LOAD, &[1], text("0.42")),
            ]
        };
        let d = decode(&mut st, &poll(100, 900), 0, &[]);
        assert_eq!(d.vitals.mem_pct, Some(75.0));
        assert_eq!(d.vitals.swap_pct, Some(25.0));
        assert_eq!(d.vitals.cpu_pct, None, "a rate needs two polls");
        assert_eq!(d.vitals.disks[0].used_pct, 75.0);
        assert_eq!(d.vitals.load1, Some(0.42));
        let d = decode(&mut st, &poll(400, 1600), 10_000, &[]);
        assert!((d.vitals.cpu_pct.unwrap() - 30.0).abs() < 1e-9);
    }

    #[test]
    fn host_resources_fallbacks() {
        let mut st = SnmpState::default();
        let d = decode(
            &mut st,
            &[
                with(
                    &HR_PROCESSOR_LOAD[..HR_PROCESSOR_LOAD.len() - 1],
                    &[2, 196608],
                    SnmpValue::Integer(10),
                ),
                with(
                    &HR_PROCESSOR_LOAD[..HR_PROCESSOR_LOAD.len() - 1],
                    &[2, 196609],
                    SnmpValue::Integer(30),
                ),
                with(
                    HR_STORAGE_ENTRY,
                    &[2, 1],
                    SnmpValue::ObjectId(HR_STORAGE_RAM.to_vec()),
                ),
                with(HR_STORAGE_ENTRY, &[5, 1], SnmpValue::Integer(100)),
                with(HR_STORAGE_ENTRY, &[6, 1], SnmpValue::Integer(40)),
                with(
                    HR_STORAGE_ENTRY,
                    &[2, 31],
                    SnmpValue::ObjectId(HR_STORAGE_FIXED_DISK.to_vec()),
                ),
                with(HR_STORAGE_ENTRY, &[3, 31], text("/")),
                with(HR_STORAGE_ENTRY, &[5, 31], SnmpValue::Integer(200)),
                with(HR_STORAGE_ENTRY, &[6, 31], SnmpValue::Integer(190)),
                with(HR_STORAGE_ENTRY, &[2, 32], SnmpValue::NoSuchInstance),
            ],
            0,
            &[],
        );
        assert_eq!(d.vitals.cpu_pct, Some(20.0));
        assert_eq!(d.vitals.mem_pct, Some(40.0));
        assert_eq!(d.vitals.disks.len(), 1);
        assert_eq!(d.vitals.disks[0].used_pct, 95.0);
    }

    #[test]
    fn custom_objects_walk_with_labels_and_lookup() {
        let custom = vec![CustomOid {
            name: "ups_state".into(),
            oid: vec![1, 3, 6, 1, 4, 1, 9999, 1],
            kind: CustomOidKind::Gauge,
            walk: true,
            index_labels: vec!["ups".into()],
            lookup: vec![(1, "online".into()), (2, "battery".into())],
        }];
        let mut st = SnmpState::default();
        let d = decode(
            &mut st,
            &[
                vb(&[1, 3, 6, 1, 4, 1, 9999, 1, 1], SnmpValue::Integer(1)),
                vb(&[1, 3, 6, 1, 4, 1, 9999, 1, 2], SnmpValue::Integer(2)),
            ],
            0,
            &custom,
        );
        assert!(
            d.series
                .contains(&("ups_state{state=\"online\",ups=\"1\"}".to_string(), 1.0))
        );
        assert!(
            d.series
                .contains(&("ups_state{state=\"battery\",ups=\"2\"}".to_string(), 2.0))
        );
    }
}
