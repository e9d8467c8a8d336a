//! The files side of `nocscope eval`: walking a NAB-layout data folder, matching `--files`
//! globs, loading each series, and writing NAB result CSVs. The scoring maths is detect/'s;
//! this module only reads and writes files.

use std::path::{Path, PathBuf};

use crate::detect::DetectError;
use crate::detect::eval::{
    DetectorFactory, EvalOptions, EvalReport, FileResult, FileRun, Labels, Totals, evaluate_series,
    format_timestamp, unit_score,
};
use crate::detect::nab::load_csv;

/// Every `*.csv` under `dir` (recursively, at most 4 levels), as `/`-separated paths relative to
/// `dir`, sorted; only those matching `glob` (`*` any run of characters, `?` one) when given.
pub fn list_files(dir: &Path, glob: Option<&str>) -> Result<Vec<String>, DetectError> {
    fn walk(
        base: &Path,
        rel: &str,
        depth: usize,
        out: &mut Vec<String>,
    ) -> Result<(), DetectError> {
        let here = if rel.is_empty() {
            base.to_path_buf()
        } else {
            base.join(rel)
        };
        let io = |e: std::io::Error| {
            DetectError::Data(format!(
                "data directory {}: {e}; expected a directory of <category>/<file>.csv",
                here.display()
            ))
        };
        for entry in std::fs::read_dir(&here).map_err(io)? {
            let entry = entry.map_err(io)?;
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            let child = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            // file_type does not follow symlinks, so a link loop cannot recurse forever.
            let ft = entry.file_type().map_err(io)?;
            if ft.is_dir() && depth < 4 {
                walk(base, &child, depth + 1, out)?;
            } else if name.ends_with(".csv") && !ft.is_dir() {
                out.push(child);
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, "", 0, &mut out)?;
    if let Some(g) = glob {
        out.retain(|f| glob_match(g, f));
    }
    out.sort();
    Ok(out)
}

/// `*` matches any run of characters (also `/`), `?` exactly one; everything else itself.
pub fn glob_match(pattern: &str, s: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let s: Vec<char> = s.chars().collect();
    // Greedy with one backtrack point: linear for patterns without stars, O(n·m) worst case.
    let (mut pi, mut si) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        match (p.get(pi), s.get(si)) {
            (Some('*'), _) => {
                star = Some((pi, si));
                pi += 1;
            }
            (Some('?'), _) => {
                pi += 1;
                si += 1;
            }
            (Some(a), Some(b)) if a == b => {
                pi += 1;
                si += 1;
            }
            _ => match star {
                Some((sp, ss)) => {
                    pi = sp + 1;
                    si = ss + 1;
                    star = Some((sp, ss + 1));
                }
                None => return false,
            },
        }
    }
    p.get(pi..)
        .is_some_and(|rest| rest.iter().all(|&c| c == '*'))
}

/// Where NAB puts a detector's results for `file`: `<dir>/<detector>/<category>/<detector>_<name>`.
pub fn result_path(dir: &Path, detector: &str, file: &str) -> PathBuf {
    let (category, name) = file.rsplit_once('/').unwrap_or(("", file));
    let mut p = dir.join(detector);
    if !category.is_empty() {
        p = p.join(category);
    }
    p.join(format!("{detector}_{name}"))
}

/// Writes `timestamp,value,anomaly_score,label` rows (score via [`unit_score`]; training rows 0).
pub fn write_result_csv(
    path: &Path,
    run: &FileRun,
    threshold: f32,
    split: usize,
) -> Result<(), DetectError> {
    use std::fmt::Write as _;
    let io = |e: std::io::Error| DetectError::Data(format!("result file {}: {e}", path.display()));
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    let mut text = String::from("timestamp,value,anomaly_score,label\n");
    let rows = run
        .series
        .timestamps
        .iter()
        .zip(&run.series.values)
        .zip(run.scores.iter().zip(&run.labels))
        .enumerate();
    for (i, ((&ts, &v), (&s, &l))) in rows {
        let u = if i < split {
            0.0
        } else {
            unit_score(s, threshold)
        };
        let _ = writeln!(text, "{},{v},{u},{}", format_timestamp(ts), u8::from(l));
    }
    std::fs::write(path, text).map_err(io)
}

/// Evaluates every `files` entry (relative to `data`) with a fresh detector from `make`, against
/// `labels`; writes result CSVs when asked; calls `on_file` after each file. Stops at the first
/// error, which names the file.
pub fn run(
    data: &Path,
    labels: &Labels,
    files: &[String],
    make: &mut DetectorFactory<'_>,
    opts: &EvalOptions,
    on_file: &mut dyn FnMut(&FileResult),
) -> Result<EvalReport, DetectError> {
    opts.validate()?;
    if files.is_empty() {
        return Err(DetectError::Data(format!(
            "{}: no CSV files to evaluate; expected <category>/<file>.csv below it",
            data.display()
        )));
    }
    // Check every label entry before the first (possibly long) training, so a typo fails fast.
    if let Some(f) = files.iter().find(|f| !labels.contains(f)) {
        return Err(DetectError::Data(format!(
            "no labels for {f:?}; the label file must have an entry (possibly []) for every \
             file evaluated"
        )));
    }
    let mut results = Vec::with_capacity(files.len());
    let mut name = String::new();
    for file in files {
        let series = load_csv(&data.join(file))?;
        let ranges = labels.ranges(file, &series.timestamps).unwrap_or_default();
        let mut det = make()?;
        name = det.name().to_owned();
        let run = evaluate_series(det.as_mut(), file, series, &ranges, opts)?;
        if let Some(dir) = &opts.results_out {
            write_result_csv(
                &result_path(dir, &name, file),
                &run,
                run.result.threshold,
                run.result.train_points,
            )?;
        }
        on_file(&run.result);
        results.push(run.result);
    }
    Ok(EvalReport {
        detector: name,
        options: opts.clone(),
        total: Totals::of(&results),
        files: results,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn glob_table() {
        let cases = [
            ("*", "a/b.csv", true),
            ("realKnownCause/*", "realKnownCause/x.csv", true),
            ("realKnownCause/*", "realAWS/x.csv", false),
            (
                "*cpu*",
                "realAWSCloudwatch/ec2_cpu_utilization_24ae8d.csv",
                true,
            ),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "axxbyy", false),
            ("", "", true),
            ("", "x", false),
            ("**", "", true),
        ];
        for (p, s, want) in cases {
            assert_eq!(glob_match(p, s), want, "{p} ~ {s}");
        }
    }

    proptest! {
        #[test]
        fn glob_star_matches_any_affix(pre in "[a-z/]{0,6}", mid in "[a-z.]{0,6}", post in "[a-z]{0,6}") {
            let s = format!("{pre}{mid}{post}");
            let pattern = format!("*{mid}*");
            prop_assert!(glob_match(&pattern, &s));
            prop_assert!(glob_match(&s, &s));
        }
    }
}
