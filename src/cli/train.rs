//! `nocscope train`: reads one series (history store, CSV or recording), trains an LSTM
//! autoencoder with a progress line and saves the model. Wiring only: the maths is detect/'s,
//! pooling and model paths are trainer's; this file reads inputs and reports.

use std::io::{BufRead, BufReader, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::{Cli, EXIT_OK, EXIT_PROBLEM, EXIT_USAGE};
use crate::detect::{DataRange, EpochReport, FitOptions, LstmAutoencoder};
use crate::detect::{DetectError, ThresholdPolicy};
use crate::model::Vital;
use crate::model::{Input, Millis, Payload};
use crate::replay;
use crate::sanitize::sanitize;
use crate::store::Reader;
use crate::trainer::{min_points, model_dir, pool_standardised};

#[derive(Debug, clap::Args)]
pub struct TrainArgs {
    /// Series to train on: 'host=H,vital=V' with V a vital key or short name (cpu, mem, swap,
    /// load1, disk, disk_read, disk_write, net_rx, net_tx), optionally ',from=T,to=T'. Read
    /// from the history store, or from each --replay recording. Repeat to pool several series
    /// (each is standardised on its own, then they are concatenated).
    #[arg(long, value_name = "SPEC")]
    pub series: Vec<String>,
    /// Train on a CSV of `timestamp,value` lines (header optional; timestamps as Unix seconds
    /// or ms, or RFC 3339). Repeat to pool.
    #[arg(long, value_name = "FILE", conflicts_with = "replay")]
    pub csv: Vec<PathBuf>,
    /// Play a recording headless at full speed and take each --series host's vital after each
    /// of its polls. Repeat to pool recordings.
    #[arg(long, value_name = "FILE.nsr")]
    pub replay: Vec<PathBuf>,
    /// Start of the data: RFC 3339 (UTC), Unix ms, `-6h` (before now) or `+10m` (after the
    /// series' first point)
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    pub from: Option<String>,
    /// End of the data, same forms as --from
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    pub to: Option<String>,
    /// Model directory (default: <data_dir>/models/<host>/<vital>/)
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub lstm: super::lstm_args::LstmArgs,
}

/// A vital by its store key (`cpu_pct`) or short name (`cpu`).
pub fn parse_vital(name: &str) -> Result<Vital, String> {
    let short = |v: Vital| match v {
        Vital::Cpu => "cpu",
        Vital::Mem => "mem",
        Vital::Swap => "swap",
        Vital::Load1 => "load",
        Vital::DiskMax => "disk",
        Vital::DiskRead => "disk_read",
        Vital::DiskWrite => "disk_write",
        Vital::NetRx => "net_rx",
        Vital::NetTx => "net_tx",
    };
    Vital::ALL
        .iter()
        .copied()
        .find(|&v| v.key() == name || short(v) == name)
        .ok_or_else(|| {
            let names: Vec<String> = Vital::ALL
                .iter()
                .map(|&v| format!("{} ({})", short(v), v.key()))
                .collect();
            format!("unknown vital {name:?}; accepted: {}", names.join(", "))
        })
}

/// A time bound as given on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeBound {
    At(Millis),
    BeforeNow(Millis),
    AfterFirst(Millis),
}

impl TimeBound {
    pub fn parse(s: &str) -> Result<TimeBound, String> {
        let accepted = "accepted: RFC 3339 in UTC (2026-11-21T13:00:00Z), Unix ms, -DURATION \
                        (before now, e.g. -6h) or +DURATION (after the first point, e.g. +10m)";
        let dur = |d: &str| {
            crate::config::parse_duration(d)
                .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
                .ok_or_else(|| format!("time {s:?}: {accepted}"))
        };
        if let Some(d) = s.strip_prefix('-') {
            return Ok(TimeBound::BeforeNow(dur(d)?));
        }
        if let Some(d) = s.strip_prefix('+') {
            return Ok(TimeBound::AfterFirst(dur(d)?));
        }
        if let Ok(ms) = s.parse::<i64>() {
            return Ok(TimeBound::At(ms));
        }
        humantime::parse_rfc3339_weak(s)
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| TimeBound::At(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)))
            .ok_or_else(|| format!("time {s:?}: {accepted}"))
    }

    fn resolve(self, now: Millis, first: Millis) -> Millis {
        match self {
            TimeBound::At(t) => t,
            TimeBound::BeforeNow(d) => now.saturating_sub(d),
            TimeBound::AfterFirst(d) => first.saturating_add(d),
        }
    }
}

/// A series as read: `(timestamp ms, value)`, oldest first.
pub type Points = Vec<(Millis, f64)>;

/// One `--series` spec.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesSpec {
    pub host: String,
    pub vital: Vital,
    pub from: Option<TimeBound>,
    pub to: Option<TimeBound>,
}

impl SeriesSpec {
    pub fn parse(s: &str) -> Result<SeriesSpec, String> {
        let accepted = "accepted: host=H,vital=V[,from=T][,to=T]";
        let (mut host, mut vital, mut from, mut to) = (None, None, None, None);
        for part in s.split(',') {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| format!("series {s:?}: {part:?} is not key=value; {accepted}"))?;
            let v = v.trim();
            match k.trim() {
                "host" if !v.is_empty() => host = Some(v.to_string()),
                "vital" => vital = Some(parse_vital(v).map_err(|e| format!("series {s:?}: {e}"))?),
                "from" => from = Some(TimeBound::parse(v)?),
                "to" => to = Some(TimeBound::parse(v)?),
                other => {
                    return Err(format!(
                        "series {s:?}: unknown or empty key {other:?}; {accepted}"
                    ));
                }
            }
        }
        match (host, vital) {
            (Some(host), Some(vital)) => Ok(SeriesSpec {
                host,
                vital,
                from,
                to,
            }),
            _ => Err(format!(
                "series {s:?}: both host and vital are needed; {accepted}"
            )),
        }
    }
}

/// Largest CSV read; 256 MiB is ~10⁷ points, far more than a training needs.
const CSV_MAX_BYTES: u64 = 256 << 20;

/// Reads `timestamp,value` lines. Errors name `file:line` and what is accepted.
pub fn read_csv(path: &Path) -> Result<Vec<(Millis, f64)>, String> {
    let name = sanitize(&path.display().to_string()).into_owned();
    let file = std::fs::File::open(path).map_err(|e| format!("{name}: {e}"))?;
    let mut reader = BufReader::new(file.take(CSV_MAX_BYTES + 1));
    let mut out = Vec::new();
    let mut line = String::new();
    let mut read = 0u64;
    let mut n = 0usize;
    loop {
        line.clear();
        let got = reader
            .read_line(&mut line)
            .map_err(|e| format!("{name}:{}: {e} (UTF-8 text expected)", n + 1))?;
        if got == 0 {
            break;
        }
        read += got as u64;
        if read > CSV_MAX_BYTES {
            return Err(format!("{name}: larger than {CSV_MAX_BYTES} bytes"));
        }
        n += 1;
        let text = line.trim();
        if text.is_empty() || text.starts_with('#') {
            continue;
        }
        let mut fields = text.split(',').map(|f| f.trim().trim_matches('"'));
        let (ts, val) = match (fields.next(), fields.next(), fields.next()) {
            (Some(t), Some(v), None) => (t, v),
            _ => {
                if out.is_empty() && n == 1 {
                    // A header of any shape on the first line.
                    continue;
                }
                return Err(format!(
                    "{name}:{n}: expected 2 fields `timestamp,value`, got {:?}",
                    sanitize(text)
                ));
            }
        };
        let parsed = (parse_csv_time(ts), val.parse::<f64>());
        match parsed {
            (Some(t), Ok(v)) if v.is_finite() => {
                if let Some(&(prev, _)) = out.last()
                    && t < prev
                {
                    return Err(format!(
                        "{name}:{n}: timestamp {} is before the previous line's; rows must be \
                         in time order",
                        sanitize(ts)
                    ));
                }
                out.push((t, v));
            }
            _ if n == 1 => continue,
            (None, _) => {
                return Err(format!(
                    "{name}:{n}: timestamp {:?} is not Unix seconds or ms, nor RFC 3339 \
                     (2026-11-21T13:00:00Z or 2026-11-21 13:00:00)",
                    sanitize(ts)
                ));
            }
            (Some(_), _) => {
                return Err(format!(
                    "{name}:{n}: value {:?} is not a finite number",
                    sanitize(val)
                ));
            }
        }
    }
    Ok(out)
}

/// Unix seconds (below 10¹¹, i.e. before year 5138) or ms, fractional allowed, or RFC 3339.
fn parse_csv_time(s: &str) -> Option<Millis> {
    if let Ok(x) = s.parse::<f64>() {
        if !x.is_finite() || x < 0.0 {
            return None;
        }
        let ms = if x < 1e11 { x * 1000.0 } else { x };
        return (ms < 9e15).then_some(ms as Millis);
    }
    humantime::parse_rfc3339_weak(s)
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()
        .and_then(|d| i64::try_from(d.as_millis()).ok())
}

/// Replays `path` through a fresh engine and collects, for each spec, the host's vital after
/// each scrape or SNMP poll of one of the host's targets. Hosts the recording does not have
/// give an empty series. A damaged tail is reported on stderr and what came before is used.
/// Also returns the recording's host names, for the error when a host is in none of them.
pub fn read_replay(
    path: &Path,
    specs: &[SeriesSpec],
) -> Result<(Vec<Points>, Vec<String>), String> {
    let name = sanitize(&path.display().to_string()).into_owned();
    let file = std::fs::File::open(path).map_err(|e| format!("{name}: {e}"))?;
    let mut reader = replay::Reader::new(
        BufReader::with_capacity(1 << 20, file),
        replay::Limits::default(),
    )
    .map_err(|e| format!("{name}: {}", sanitize(&e.to_string())))?;
    let header = reader.header().clone();
    let mut engine = replay::player::engine_for(&header)
        .map_err(|e| format!("{name}: {}", sanitize(&e.to_string())))?;
    let target_host: Vec<&str> = header.targets.iter().map(|t| t.host.as_str()).collect();
    let mut out: Vec<Vec<(Millis, f64)>> = vec![Vec::new(); specs.len()];
    loop {
        let record = match reader.next_record() {
            Ok(Some(r)) => r,
            Ok(None) => break,
            Err(e) => {
                eprintln!(
                    "nocscope train: {name}: {}; using the records before it",
                    sanitize(&e.to_string())
                );
                break;
            }
        };
        match record {
            replay::Record::Input { input, .. } => {
                engine.apply(&input);
                engine.take_batches();
                engine.take_events();
                let Input::Observation(obs) = &input else {
                    continue;
                };
                // Pings and probes refresh a host's vitals too but carry none of these; taking
                // a point after them would repeat the last scrape's value.
                if !matches!(obs.payload, Payload::Scrape(_) | Payload::Snmp(_)) {
                    continue;
                }
                let Some(host) = usize::try_from(obs.target.0)
                    .ok()
                    .and_then(|i| target_host.get(i))
                else {
                    continue;
                };
                for (spec, series) in specs.iter().zip(out.iter_mut()) {
                    if spec.host != *host {
                        continue;
                    }
                    let last = engine
                        .history(host, spec.vital)
                        .and_then(|h| h.back().copied());
                    if let Some((t, v)) = last
                        && series.last().is_none_or(|&(pt, _)| t > pt)
                    {
                        out_push(series, t, v);
                    }
                }
            }
            replay::Record::Dropped { count } => engine.set_dropped_observations(count),
            replay::Record::End { .. } => {}
        }
    }
    let mut hosts: Vec<String> = target_host.iter().map(|h| h.to_string()).collect();
    hosts.sort();
    hosts.dedup();
    Ok((out, hosts))
}

fn out_push(series: &mut Vec<(Millis, f64)>, t: Millis, v: f32) {
    if v.is_finite() {
        series.push((t, f64::from(v)));
    }
}

/// One series ready for training, with where it came from.
struct Segment {
    label: String,
    points: Vec<(Millis, f64)>,
}

/// The data dir of the config (when one is given or exists), else the XDG default.
fn data_dir(cli: &Cli) -> Result<PathBuf, i32> {
    let has_config =
        cli.config.is_some() || crate::config::default_path().is_some_and(|p| p.exists());
    if has_config {
        return super::load_config(cli.config.as_deref()).map(|c| c.defaults.data_dir);
    }
    let var = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(x) = var("XDG_DATA_HOME").filter(|p| p.is_absolute()) {
        return Ok(x.join("nocscope"));
    }
    match var("HOME") {
        Some(h) => Ok(h.join(".local/share/nocscope")),
        None => {
            eprintln!(
                "nocscope train: no data dir: pass --out DIR or --config FILE (neither \
                 $XDG_DATA_HOME nor $HOME is set)"
            );
            Err(EXIT_USAGE)
        }
    }
}

fn usage(msg: &str) -> i32 {
    eprintln!("nocscope train: {}", sanitize(msg));
    EXIT_USAGE
}

pub fn run(args: &TrainArgs, cli: &Cli) -> i32 {
    let cfg = match args.lstm.config() {
        Ok(c) => c,
        Err(e) => return usage(&e),
    };
    let specs: Vec<SeriesSpec> = match args.series.iter().map(|s| SeriesSpec::parse(s)).collect() {
        Ok(s) => s,
        Err(e) => return usage(&sanitize(&e)),
    };
    let parse_bound = |s: &Option<String>| s.as_deref().map(TimeBound::parse).transpose();
    let (from, to) = match (parse_bound(&args.from), parse_bound(&args.to)) {
        (Ok(f), Ok(t)) => (f, t),
        (Err(e), _) | (_, Err(e)) => return usage(&sanitize(&e)),
    };
    if !args.csv.is_empty() && !specs.is_empty() {
        return usage("--series does not apply to --csv (a CSV holds one series)");
    }
    if args.csv.is_empty() && specs.is_empty() {
        return usage("nothing to train on: give --series 'host=H,vital=V' or --csv FILE");
    }
    let needs_data_dir = args.out.is_none() || (args.csv.is_empty() && args.replay.is_empty());
    let data_dir = if needs_data_dir {
        match data_dir(cli) {
            Ok(d) => Some(d),
            Err(code) => return code,
        }
    } else {
        None
    };

    // Gather the raw series.
    let mut segments: Vec<(Segment, Option<&SeriesSpec>)> = Vec::new();
    let now = crate::collect::scheduler::wall_clock_ms();
    if !args.csv.is_empty() {
        for path in &args.csv {
            match read_csv(path) {
                Ok(points) => segments.push((
                    Segment {
                        label: sanitize(&path.display().to_string()).into_owned(),
                        points,
                    },
                    None,
                )),
                Err(e) => return usage(&e),
            }
        }
    } else if !args.replay.is_empty() {
        let mut hosts = Vec::new();
        for path in &args.replay {
            let series = match read_replay(path, &specs) {
                Ok((s, h)) => {
                    hosts.extend(h);
                    s
                }
                Err(e) => return usage(&e),
            };
            let file = sanitize(&path.display().to_string()).into_owned();
            for (spec, points) in specs.iter().zip(series) {
                if !points.is_empty() {
                    segments.push((
                        Segment {
                            label: format!("{file} {}/{}", spec.host, spec.vital.key()),
                            points,
                        },
                        Some(spec),
                    ));
                }
            }
        }
        if let Some(spec) = specs
            .iter()
            .find(|s| !segments.iter().any(|(_, sp)| *sp == Some(*s)))
        {
            hosts.sort();
            hosts.dedup();
            return usage(&format!(
                "no recording has {} of host {:?}; the recordings' hosts are: {}",
                spec.vital.key(),
                sanitize(&spec.host),
                sanitize(&hosts.join(", "))
            ));
        }
    } else {
        let Some(dir) = &data_dir else {
            return usage("no data dir for the history store");
        };
        let db = dir.join("history.db");
        if !db.exists() {
            return usage(&format!(
                "no history store at {}; run `nocscope` or `nocscope check --for` first, or \
                 train from --csv or --replay",
                sanitize(&db.display().to_string())
            ));
        }
        let reader = match Reader::open(&db) {
            Ok(r) => r,
            Err(e) => return usage(&sanitize(&e.to_string())),
        };
        for spec in &specs {
            let source = format!("host/{}", spec.host);
            match reader.query(&source, spec.vital.key(), Millis::MIN, Millis::MAX) {
                Ok(points) => segments.push((
                    Segment {
                        label: format!("{}/{}", spec.host, spec.vital.key()),
                        points,
                    },
                    Some(spec),
                )),
                Err(e) => return usage(&sanitize(&e.to_string())),
            }
        }
    }

    // Time bounds: the spec's own, else the command line's.
    for (seg, spec) in &mut segments {
        let first = seg.points.first().map_or(0, |p| p.0);
        let lo = spec
            .and_then(|s| s.from)
            .or(from)
            .map(|b| b.resolve(now, first));
        let hi = spec
            .and_then(|s| s.to)
            .or(to)
            .map(|b| b.resolve(now, first));
        seg.points.retain(|&(t, v)| {
            v.is_finite() && lo.is_none_or(|lo| t >= lo) && hi.is_none_or(|hi| t <= hi)
        });
    }

    let series: Vec<f32> = if segments.len() == 1 {
        segments
            .iter()
            .flat_map(|(s, _)| s.points.iter().map(|p| p.1 as f32))
            .collect()
    } else {
        let raw: Vec<Vec<f32>> = segments
            .iter()
            .map(|(s, _)| s.points.iter().map(|p| p.1 as f32).collect())
            .collect();
        pool_standardised(&raw, cfg.window)
    };
    let needed = min_points(&cfg);
    if series.len() < needed {
        let total: usize = segments.iter().map(|(s, _)| s.points.len()).sum();
        let per: Vec<String> = segments
            .iter()
            .map(|(s, _)| format!("{}: {}", s.label, s.points.len()))
            .collect();
        return usage(&format!(
            "too little data: {total} points ({}); training needs at least {needed} \
             (one window of {} and {} windows in all){}",
            if per.is_empty() {
                "no series found".to_string()
            } else {
                per.join(", ")
            },
            cfg.window,
            crate::trainer::MIN_WINDOWS,
            if segments.len() > 1 {
                format!(
                    ", counting only series of at least {} points that are not constant",
                    cfg.window
                )
            } else {
                String::new()
            }
        ));
    }

    let out_dir = match (&args.out, &data_dir) {
        (Some(o), _) => o.clone(),
        (None, Some(d)) => match (segments.as_slice(), args.csv.as_slice()) {
            ([(_, Some(spec))], _) => model_dir(d, &spec.host, spec.vital.key()),
            ([_], [csv]) => {
                let stem = csv
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                model_dir(d, "csv", &stem)
            }
            _ => return usage("several series are pooled into one model: give --out DIR"),
        },
        (None, None) => return usage("give --out DIR"),
    };

    let range = segments
        .iter()
        .flat_map(|(s, _)| [s.points.first(), s.points.last()])
        .flatten()
        .fold(None, |acc: Option<DataRange>, &(t, _)| {
            Some(match acc {
                None => DataRange {
                    start_ms: t,
                    end_ms: t,
                },
                Some(r) => DataRange {
                    start_ms: r.start_ms.min(t),
                    end_ms: r.end_ms.max(t),
                },
            })
        });

    let threads = args.lstm.threads.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });
    let mut model = match LstmAutoencoder::new(&cfg, args.lstm.seed) {
        Ok(m) => m,
        Err(e) => return usage(&e.to_string()),
    };
    let mut progress = Progress::new(cfg.max_epochs);
    let fitted = model.fit(
        &series,
        &FitOptions {
            threads,
            cancel: None,
            data_range: range,
        },
        |e| progress.epoch(e),
    );
    progress.finish();
    let report = match fitted {
        Ok(r) => r,
        Err(e @ DetectError::Data(_)) => {
            eprintln!("nocscope train: {}", sanitize(&e.to_string()));
            return EXIT_PROBLEM;
        }
        Err(e) => return usage(&e.to_string()),
    };
    if let Err(e) = model.save(&out_dir) {
        eprintln!("nocscope train: {}", sanitize(&e.to_string()));
        return EXIT_PROBLEM;
    }
    let best = report
        .loss_curve
        .iter()
        .find(|e| e.epoch == report.best_epoch);
    let mut o = std::io::stdout().lock();
    let _ = writeln!(
        o,
        "trained on {} points from {} series ({}): {} windows ({} train, {} validation)",
        series.len(),
        segments.len(),
        if segments.len() > 1 {
            "each standardised, pooled"
        } else {
            "standardised by the model"
        },
        report.train_windows + report.val_windows,
        report.train_windows,
        report.val_windows
    );
    let _ = writeln!(
        o,
        "epochs {} of {} ({}), best epoch {}: loss {}, val loss {}",
        report.epochs,
        cfg.max_epochs,
        if report.stopped_early {
            "stopped early"
        } else {
            "ran to the limit"
        },
        report.best_epoch,
        best.map_or("-".into(), |b| format!("{:.5}", b.train_loss)),
        best.and_then(|b| b.val_loss)
            .map_or("-".into(), |v| format!("{v:.5}")),
    );
    let _ = writeln!(
        o,
        "threshold {:.5} ({}; largest training error {:.5})",
        report.threshold,
        policy_text(cfg.threshold),
        report.max_error
    );
    let _ = writeln!(o, "saved to {}", sanitize(&out_dir.display().to_string()));
    EXIT_OK
}

fn policy_text(p: ThresholdPolicy) -> String {
    match p {
        ThresholdPolicy::MaxScaled { factor } => format!("max:{factor}"),
        ThresholdPolicy::MeanStd { k } => format!("mean-std:{k}"),
        ThresholdPolicy::Quantile { q } => format!("quantile:{q}"),
    }
}

/// The per-epoch line: rewritten in place on a terminal, one plain line per epoch otherwise
/// (logs and CI keep every epoch).
struct Progress {
    tty: bool,
    start: Instant,
    max_epochs: usize,
}

impl Progress {
    fn new(max_epochs: usize) -> Self {
        Self {
            tty: std::io::stderr().is_terminal(),
            start: Instant::now(),
            max_epochs,
        }
    }

    fn epoch(&mut self, e: &EpochReport) {
        let elapsed = self.start.elapsed().as_secs_f64();
        let per = elapsed / e.epoch.max(1) as f64;
        // An upper bound: early stopping usually ends sooner.
        let eta = per * self.max_epochs.saturating_sub(e.epoch) as f64;
        let val = e.val_loss.map_or("-".into(), |v| format!("{v:.5}"));
        let line = format!(
            "epoch {}/{}  loss {:.5}  val {}  {:.2}s/epoch  ETA ≤ {}",
            e.epoch,
            self.max_epochs,
            e.train_loss,
            val,
            per,
            humantime::format_duration(std::time::Duration::from_secs(eta.round() as u64))
        );
        let mut err = std::io::stderr().lock();
        let _ = if self.tty {
            write!(err, "\r\x1b[2K{line}")
        } else {
            writeln!(err, "{line}")
        };
        let _ = err.flush();
    }

    fn finish(&mut self) {
        if self.tty {
            let _ = writeln!(std::io::stderr());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_specs_table() {
        let ok = [
            ("host=web1,vital=cpu", "web1", Vital::Cpu, None),
            ("host=db,vital=mem_pct", "db", Vital::Mem, None),
            (
                "vital=net_rx, host=a b ,from=+10m",
                "a b",
                Vital::NetRx,
                Some(TimeBound::AfterFirst(600_000)),
            ),
            (
                "host=x,vital=load,from=-6h",
                "x",
                Vital::Load1,
                Some(TimeBound::BeforeNow(6 * 3_600_000)),
            ),
        ];
        for (s, host, vital, from) in ok {
            let spec = SeriesSpec::parse(s);
            assert_eq!(
                spec,
                Ok(SeriesSpec {
                    host: host.into(),
                    vital,
                    from,
                    to: None
                }),
                "{s}"
            );
        }
        let bad = [
            ("host=web1", "both host and vital"),
            ("vital=cpu", "both host and vital"),
            ("host=web1,vital=temperature", "unknown vital"),
            ("host=web1,vital=cpu,colour=red", "unknown or empty key"),
            ("host=,vital=cpu", "unknown or empty key"),
            ("web1/cpu", "not key=value"),
            ("host=a,vital=cpu,from=yesterday", "RFC 3339"),
        ];
        for (s, want) in bad {
            let e = SeriesSpec::parse(s).err().unwrap_or_default();
            assert!(e.contains(want), "{s}: {e}");
            assert!(e.contains("accepted"), "{s}: {e}");
        }
    }

    #[test]
    fn time_bounds_and_policies() {
        assert_eq!(
            TimeBound::parse("2026-11-21T13:00:00Z"),
            Ok(TimeBound::At(1_795_266_000_000))
        );
        assert_eq!(TimeBound::parse("1000"), Ok(TimeBound::At(1000)));
        assert_eq!(TimeBound::BeforeNow(10).resolve(100, 5), 90);
        assert_eq!(TimeBound::AfterFirst(10).resolve(100, 5), 15);
    }

    #[test]
    fn csv_times() {
        let cases = [
            ("1700000000", Some(1_700_000_000_000)),
            ("1700000000.5", Some(1_700_000_000_500)),
            ("1700000000000", Some(1_700_000_000_000)),
            ("2014-04-01 00:00:00", Some(1_396_310_400_000)),
            ("2014-04-01T00:00:00Z", Some(1_396_310_400_000)),
            ("-5", None),
            ("NaN", None),
            ("soon", None),
        ];
        for (s, want) in cases {
            assert_eq!(parse_csv_time(s), want, "{s}");
        }
    }

    proptest::proptest! {
        #[test]
        fn csv_round_trips(rows in proptest::collection::vec((0u32..1_000_000, -1e9f64..1e9), 0..200)) {
            let dir = tempfile::tempdir().map_err(|e| proptest::test_runner::TestCaseError::fail(e.to_string()))?;
            let path = dir.path().join("s.csv");
            let mut t = 1_600_000_000_000i64;
            let mut want = Vec::new();
            let mut text = String::from("timestamp,value\n");
            for (dt, v) in rows {
                t += i64::from(dt);
                text.push_str(&format!("{t},{v}\n"));
                want.push((t, v));
            }
            std::fs::write(&path, text).map_err(|e| proptest::test_runner::TestCaseError::fail(e.to_string()))?;
            proptest::prop_assert_eq!(read_csv(&path), Ok(want));
        }

        #[test]
        fn csv_and_specs_never_panic(body in proptest::collection::vec(proptest::num::u8::ANY, 0..400), spec in ".{0,60}") {
            let dir = tempfile::tempdir().map_err(|e| proptest::test_runner::TestCaseError::fail(e.to_string()))?;
            let path = dir.path().join("x.csv");
            std::fs::write(&path, &body).map_err(|e| proptest::test_runner::TestCaseError::fail(e.to_string()))?;
            if let Err(e) = read_csv(&path) {
                proptest::prop_assert!(e.contains("x.csv"), "{}", e);
            }
            let _ = SeriesSpec::parse(&spec);
            let _ = TimeBound::parse(&spec);
        }
    }
}
