//! Load: a headless Locust run against the entry point, judged on Locust's own statistics
//! (its CSV, read back, never re-computed): the 95th percentile of the response times,
//! the share of failed requests, and the throughput, against `[verify.load]`'s thresholds.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use super::entry::Entry;
use super::{Context, failed, not_run, passed};
use crate::config::verify::Load;
#[cfg(test)]
use crate::release::verification::CheckStatus;
use crate::release::verification::{CheckKind, CheckRecord};

const NAME: &str = "load";

/// How long Locust may take past its run time (start, spawn, stop, write) before it is
/// stopped and the check counts as not run.
const GRACE: Duration = Duration::from_secs(60);

/// What the report shows of a load test beside its figures.
#[derive(Debug, Clone, Default)]
pub struct LoadRun {
    /// The aggregated statistics over the run, one point per Locust sample (each second).
    pub history: Vec<Point>,
    /// Locust's HTML report and CSV files.
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// Seconds since the run started.
    pub second: u64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub rps: f64,
}

/// Locust's figures for all requests together (the `Aggregated` row).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Totals {
    pub requests: f64,
    pub failures: f64,
    pub rps: f64,
    pub p95_ms: f64,
}

pub async fn run(
    ctx: &Context<'_>,
    entry: &Entry,
    settings: &Load,
    artifacts: &Path,
) -> (CheckRecord, Option<LoadRun>) {
    let (url, token) = match entry.ready() {
        Ok(ready) => ready,
        Err(why) => return (not_run(NAME, CheckKind::Load, &why), None),
    };
    if let Err(e) = std::fs::create_dir_all(artifacts) {
        let why = format!("cannot create {}: {e}", artifacts.display());
        return (not_run(NAME, CheckKind::Load, &why), None);
    }
    let prefix = artifacts.join("locust");
    let html = artifacts.join("locust.html");
    let mut command = tokio::process::Command::new(&settings.locust);
    command
        .arg("-f")
        .arg(ctx.root.join(&settings.locustfile))
        .args(["--headless", "--only-summary", "--csv-full-history"])
        .arg(format!("--users={}", settings.users))
        .arg(format!("--spawn-rate={}", settings.spawn_rate))
        .arg(format!("--run-time={}s", settings.duration_seconds))
        .arg(format!("--host={url}"))
        .arg("--csv")
        .arg(&prefix)
        .arg("--html")
        .arg(&html)
        // Failed requests are judged here, against the threshold; Locust's own exit code
        // says only that one failed.
        .arg("--exit-code-on-error=0")
        .env(
            "FACTURASCAN_VERIFY_TOKEN",
            token.map(|t| t.expose()).unwrap_or(""),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let limit = Duration::from_secs(u64::from(settings.duration_seconds)) + GRACE;
    let child = match command.spawn() {
        Ok(child) => child,
        Err(e) => {
            let why = format!(
                "cannot start `{}`: {e} (install the pinned Locust: scripts/python-env, or set [verify.load] locust)",
                settings.locust
            );
            return (not_run(NAME, CheckKind::Load, &why), None);
        }
    };
    let output = match tokio::time::timeout(limit, child.wait_with_output()).await {
        Ok(Ok(output)) => output,
        Ok(Err(e)) => {
            return (
                not_run(NAME, CheckKind::Load, &format!("locust: {e}")),
                None,
            );
        }
        Err(_) => {
            let why = format!(
                "locust did not finish within {} s: stopped",
                limit.as_secs()
            );
            return (not_run(NAME, CheckKind::Load, &why), None);
        }
    };
    let stats = with_suffix(&prefix, "_stats.csv");
    let totals = match std::fs::read_to_string(&stats).map(|t| totals(&t, &settings.p95_request)) {
        Ok(Some(totals)) => totals,
        _ => {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let last = stderr
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("");
            let why = format!(
                "locust wrote no statistics ({}; exit {}): {last}",
                stats.display(),
                output.status.code().unwrap_or(-1)
            );
            return (not_run(NAME, CheckKind::Load, &why), None);
        }
    };
    let history_file = with_suffix(&prefix, "_stats_history.csv");
    let run = LoadRun {
        history: std::fs::read_to_string(&history_file)
            .map(|t| history(&t))
            .unwrap_or_default(),
        files: vec![html, stats, history_file],
    };
    (judge(&totals, settings), Some(run))
}

fn with_suffix(prefix: &Path, suffix: &str) -> PathBuf {
    let mut name = prefix.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// The check's verdict on Locust's totals.
pub fn judge(totals: &Totals, settings: &Load) -> CheckRecord {
    let error_rate = if totals.requests > 0.0 {
        totals.failures / totals.requests * 100.0
    } else {
        0.0
    };
    let figures = vec![
        ("requests", totals.requests),
        ("failures", totals.failures),
        ("error_rate_percent", round2(error_rate)),
        ("p95_ms", totals.p95_ms),
        ("rps", round2(totals.rps)),
    ];
    let mut problems = Vec::new();
    if totals.requests == 0.0 {
        problems.push("no request was made".to_string());
    }
    if totals.p95_ms.is_nan() || totals.p95_ms > settings.max_p95_ms {
        problems.push(format!(
            "p95 of {} {} ms is above {} ms",
            settings.p95_request, totals.p95_ms, settings.max_p95_ms
        ));
    }
    if error_rate > settings.max_error_rate_percent {
        problems.push(format!(
            "error rate {:.2} % is above {} %",
            error_rate, settings.max_error_rate_percent
        ));
    }
    if totals.rps < settings.min_rps {
        problems.push(format!(
            "throughput {:.2} requests/s is below {}",
            totals.rps, settings.min_rps
        ));
    }
    if problems.is_empty() {
        passed(NAME, CheckKind::Load, figures)
    } else {
        failed(NAME, CheckKind::Load, figures, problems)
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The `Aggregated` row of Locust's `_stats.csv`, with the 95th percentile of the
/// `p95_request` row (`Aggregated` too, or one request's name). Locust computes its
/// percentiles over a histogram of response times rounded to two significant digits
/// (locust/stats.py, `calculate_response_time_percentile`): read as it reports them.
pub fn totals(csv: &str, p95_request: &str) -> Option<Totals> {
    let mut lines = csv.lines();
    let header = split(lines.next()?);
    let column = |name: &str| header.iter().position(|h| h == name);
    let (name, requests, failures, rps, p95) = (
        column("Name")?,
        column("Request Count")?,
        column("Failure Count")?,
        column("Requests/s")?,
        column("95%")?,
    );
    let rows: Vec<Vec<String>> = lines.map(split).collect();
    let row = |wanted: &str| {
        rows.iter()
            .find(|r| r.get(name).map(String::as_str) == Some(wanted))
    };
    let number = |r: &Vec<String>, i: usize| {
        r.get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(f64::NAN)
    };
    let all = row("Aggregated")?;
    Some(Totals {
        requests: number(all, requests),
        failures: number(all, failures),
        rps: number(all, rps),
        // A request that was never made has no percentile: NaN fails the threshold.
        p95_ms: row(p95_request).map_or(f64::NAN, |r| number(r, p95)),
    })
}

/// The `Aggregated` rows of Locust's `_stats_history.csv`, in time order, from the first
/// one with requests.
pub fn history(csv: &str) -> Vec<Point> {
    let mut lines = csv.lines();
    let Some(header) = lines.next().map(split) else {
        return Vec::new();
    };
    let column = |name: &str| header.iter().position(|h| h == name);
    let (Some(time), Some(name), Some(rps), Some(p50), Some(p95)) = (
        column("Timestamp"),
        column("Name"),
        column("Requests/s"),
        column("50%"),
        column("95%"),
    ) else {
        return Vec::new();
    };
    let rows: Vec<Vec<String>> = lines
        .map(split)
        .filter(|r| r.get(name).map(String::as_str) == Some("Aggregated"))
        .collect();
    let number = |r: &Vec<String>, i: usize| r.get(i).and_then(|v| v.parse::<f64>().ok());
    let start = rows.iter().find_map(|r| number(r, time)).unwrap_or(0.0);
    rows.iter()
        .filter_map(|r| {
            Some(Point {
                second: (number(r, time)? - start).max(0.0) as u64,
                p50_ms: number(r, p50)?,
                p95_ms: number(r, p95)?,
                rps: number(r, rps)?,
            })
        })
        .collect()
}

/// One CSV line's fields (RFC 4180 quoting, as Python's csv module writes it).
fn split(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(std::mem::take(&mut field)),
            _ => field.push(c),
        }
    }
    fields.push(field);
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATS: &str = "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%\n\
POST,/invoices,180,2,12,15.3,3,90,60,29.9,0.3,12,14,16,17,22,31,45,60,90,90,90\n\
,Aggregated,200,2,12,15.1,3,90,58,33.2,0.3,12,14,16,17,22,30,44,60,90,90,90\n";

    #[test]
    fn totals_are_locusts_aggregated_row() {
        assert_eq!(
            totals(STATS, "Aggregated"),
            Some(Totals {
                requests: 200.0,
                failures: 2.0,
                rps: 33.2,
                p95_ms: 30.0
            })
        );
        assert_eq!(totals(STATS, "/invoices").map(|t| t.p95_ms), Some(31.0));
        assert!(totals(STATS, "GET /missing").is_some_and(|t| t.p95_ms.is_nan()));
        assert_eq!(totals("Type,Name\n", "Aggregated"), None);
    }

    #[test]
    fn quoted_fields_keep_their_commas() {
        assert_eq!(split(r#"a,"b,c","d""e""#), vec!["a", "b,c", "d\"e"]);
    }

    #[test]
    fn history_starts_at_the_first_sample() {
        let csv = "Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%\n\
1700000000,1,,Aggregated,0,0,N/A,N/A,N/A,N/A,N/A,N/A\n\
1700000001,2,,Aggregated,10.5,0,12,13,14,15,16,20\n\
1700000001,2,GET,/health,10.5,0,12,13,14,15,16,20\n\
1700000002,2,,Aggregated,11,0,13,13,14,15,16,22\n";
        let points = history(csv);
        assert_eq!(points.len(), 2);
        assert_eq!(
            points[0],
            Point {
                second: 1,
                p50_ms: 12.0,
                p95_ms: 20.0,
                rps: 10.5
            }
        );
        assert_eq!(points[1].second, 2);
    }
}

#[cfg(test)]
mod judged {
    use super::*;

    fn settings() -> Load {
        Load {
            locustfile: "verify/locustfile.py".into(),
            users: 1,
            spawn_rate: 1,
            duration_seconds: 1,
            p95_request: "Aggregated".into(),
            max_p95_ms: 5000.0,
            max_error_rate_percent: 1.0,
            min_rps: 5.0,
            locust: "locust".into(),
        }
    }

    /// Simulated runs (a seeded generator over the figures' ranges): the verdict passes
    /// exactly when every threshold holds, and each broken one is named.
    #[test]
    fn the_verdict_is_every_threshold_over_simulated_runs() {
        let limits = settings();
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = |max: f64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % 10_000) as f64 / 10_000.0 * max
        };
        for _ in 0..5_000 {
            let requests = next(2_000.0).floor();
            let totals = Totals {
                requests,
                failures: next(requests * 0.03).floor(),
                rps: next(20.0),
                p95_ms: next(10_000.0),
            };
            let verdict = judge(&totals, &limits);
            let rate = if requests > 0.0 {
                totals.failures / requests * 100.0
            } else {
                0.0
            };
            let holds = requests > 0.0
                && totals.p95_ms <= limits.max_p95_ms
                && rate <= limits.max_error_rate_percent
                && totals.rps >= limits.min_rps;
            assert_eq!(
                verdict.status == CheckStatus::Passed,
                holds,
                "{totals:?} {verdict:?}"
            );
            let named = verdict.problems.join("; ");
            assert_eq!(
                named.contains("p95"),
                totals.p95_ms > limits.max_p95_ms,
                "{named}"
            );
            assert_eq!(
                named.contains("error rate"),
                rate > limits.max_error_rate_percent,
                "{named}"
            );
            assert_eq!(
                named.contains("throughput"),
                totals.rps < limits.min_rps,
                "{named}"
            );
        }
    }
}
