//! The table, the JSON and the SVG plot of one run.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::{Value, json};

use super::native::{W4_FLOOR, W4_TEMPDIRS};
use super::{Results, Sample};

/// Writes `bench.json` and `w1.svg` into `dir`.
pub(crate) fn write_files(r: &Results, dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("bench.json"), json(r) + "\n")?;
    std::fs::write(dir.join("w1.svg"), svg(r))?;
    Ok(())
}

fn human_ns(ns: f64) -> String {
    if ns >= 1_000_000.0 {
        format!("{:.2} ms", ns / 1_000_000.0)
    } else if ns >= 1_000.0 {
        format!("{:.2} µs", ns / 1_000.0)
    } else {
        format!("{ns:.0} ns")
    }
}

const WORKLOADS: [(&str, &str); 5] = [
    ("W1", "mkstemp + close N files, then one cleanup"),
    ("W2", "mkstemp, close, remove, per file"),
    ("W3", "mktemp names only (tracked, not created)"),
    (
        "W4",
        "two threads sharing one instance, then one cleanup; floor: two threads on one shared dir fd, then one removal pass",
    ),
    (
        "W5",
        "status(), against the one fstatat it cannot do without",
    ),
];

/// The human-readable table, with the targets checked at the end.
pub(crate) fn table(r: &Results) -> String {
    let mut t = String::new();
    let _ = writeln!(t, "tempdirs bench: {}", r.machine);
    let _ = writeln!(
        t,
        "in {} ({}); {} runs; times are medians of the runs; ratio = median over runs of (time per op / the baseline's in the same run), min-max of those beside it{}",
        r.root,
        if r.tmpfs {
            "tmpfs"
        } else {
            "the system temp dir, not tmpfs"
        },
        r.runs,
        if r.quick { "; --quick sizes" } else { "" }
    );
    for (w, what) in WORKLOADS {
        let mut rows: Vec<&Sample> = r.samples.iter().filter(|s| s.workload == w).collect();
        if rows.is_empty() {
            continue;
        }
        // Python's rows come after every native one; stable, so each N keeps its order.
        rows.sort_by_key(|s| s.n);
        let _ = writeln!(t, "\n{w}: {what}");
        let _ = writeln!(
            t,
            "  {:>9}  {:<22} {:>11} {:>10} {:>8} {:>13}  baseline",
            "N", "comparator", "per op", "total", "ratio", "min-max"
        );
        for s in rows {
            let (ratio, spread) = match r.run_ratios(s) {
                Some(v) if s.comparator != s.baseline => {
                    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
                    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    (
                        format!("{:.2}x", super::median(v)),
                        format!("{lo:.2}-{hi:.2}x"),
                    )
                }
                Some(_) => ("1.00x".into(), String::new()),
                None => ("-".into(), String::new()),
            };
            let _ = writeln!(
                t,
                "  {:>9}  {:<22} {:>11} {:>10} {:>8} {:>13}  {}",
                s.n,
                s.comparator,
                human_ns(s.per_op_ns()),
                human_ns(s.median_ns()),
                ratio,
                spread,
                s.baseline
            );
        }
    }
    if let Some(m) = &r.memory {
        let _ = writeln!(
            t,
            "\nW3 memory ({} tracked mktemp names, fresh process each, peak RSS growth per name): one after another {:.1} B; every other one forgotten, so no two are neighbours {:.1} B; the names themselves average {:.1} B (only the newest run keeps them)",
            m.names, m.in_order_per_name, m.apart_per_name, m.name_len,
        );
    }
    for s in &r.skipped {
        let _ = writeln!(t, "\n{s}");
    }
    let _ = writeln!(t, "\ntargets:");
    for target in targets(r) {
        let _ = writeln!(
            t,
            "  [{}] {}: {}",
            if target.met { "met" } else { "NOT met" },
            target.what,
            target.value
        );
    }
    t
}

/// One target this run measured.
struct Target {
    what: String,
    /// The measured value, as printed.
    value: String,
    /// The measured value, for machines.
    x: f64,
    met: bool,
}

impl Target {
    fn new(what: String, x: f64, unit: &str, met: bool) -> Target {
        Target {
            what,
            value: format!("{x:.2}{unit}"),
            x,
            met,
        }
    }
}

/// Every target this run measured. W1 and W2 at every N: at most 1.05x the raw floor and
/// below both `tempfile` and `cap-tempfile`; W4's throughput at least 0.95x the two-thread
/// floor's; W3 at most 64 bytes per tracked name beyond the name. Every ratio is the median
/// of per-run ratios, so "below" compares the two in each run.
fn targets(r: &Results) -> Vec<Target> {
    let mut out = Vec::new();
    for w in ["W1", "W2"] {
        for s in r
            .samples
            .iter()
            .filter(|s| s.workload == w && s.comparator == "tempdirs")
        {
            if let Some(x) = r.ratio(s) {
                let what = format!("{w} N={} tempdirs <= 1.05x the floor", s.n);
                out.push(Target::new(what, x, "x", x <= 1.05));
            }
            for other in ["tempfile", "cap-tempfile"] {
                if let Some(x) = r.ratio_between(w, s.n, "tempdirs", other) {
                    let what = format!("{w} N={} tempdirs below {other} (time ratio < 1)", s.n);
                    out.push(Target::new(what, x, "x", x < 1.0));
                }
            }
        }
    }
    for s in r.samples.iter().filter(|s| s.comparator == W4_TEMPDIRS) {
        // Throughput is the inverse of time: the floor's time over ours, run by run.
        if let Some(x) = r.ratio_between("W4", s.n, W4_FLOOR, W4_TEMPDIRS) {
            let what = format!(
                "W4 N={} per thread: throughput >= 0.95x the two-thread floor",
                s.n
            );
            out.push(Target::new(what, x, "x", x >= 0.95));
        }
    }
    if let Some(m) = &r.memory {
        // The set keeps no copy of a name it made: all of its growth is beyond the name.
        let worst = m.in_order_per_name.max(m.apart_per_name);
        out.push(Target::new(
            "W3 <= 64 B per tracked name beyond the name (peak RSS growth, worst case)".into(),
            worst,
            " B",
            worst <= 64.0,
        ));
    }
    out
}

/// A finite number, or JSON's `null`.
fn number(x: f64) -> Value {
    if x.is_finite() {
        json!((x * 1000.0).round() / 1000.0)
    } else {
        Value::Null
    }
}

/// The same results for machines.
pub(crate) fn json(r: &Results) -> String {
    let rows: Vec<Value> = r
        .samples
        .iter()
        .map(|s| {
            let run_ratios = r.run_ratios(s);
            json!({
                "workload": s.workload,
                "n": s.n,
                "comparator": s.comparator,
                "ops": s.ops,
                "median_ns": number(s.median_ns()),
                "per_op_ns": number(s.per_op_ns()),
                "baseline": s.baseline,
                "ratio": r.ratio(s).map_or(Value::Null, number),
                "run_ratios": run_ratios.map_or(Value::Null, |v| v.into_iter().map(number).collect()),
                "runs_ns": s.runs_ns,
            })
        })
        .collect();
    let memory = r.memory.as_ref().map_or(Value::Null, |m| {
        json!({
            "names": m.names,
            "in_order_bytes_per_name": number(m.in_order_per_name),
            "apart_bytes_per_name": number(m.apart_per_name),
            "name_len": number(m.name_len),
        })
    });
    let targets: Vec<Value> = targets(r)
        .into_iter()
        .map(|t| json!({ "target": t.what, "value": number(t.x), "met": t.met }))
        .collect();
    let doc = json!({
        "machine": r.machine,
        "root": r.root,
        "tmpfs": r.tmpfs,
        "runs": r.runs,
        "quick": r.quick,
        "ratio": "median over runs of (time per op / the baseline's in the same run)",
        "rows": rows,
        "memory": memory,
        "targets": targets,
        "skipped": r.skipped,
    });
    serde_json::to_string_pretty(&doc).expect("a JSON value always serialises")
}

const COLOURS: [&str; 8] = [
    "#000000", "#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2",
];

/// W1's per-file cost against N (log scale), one line per comparator: hand-written SVG.
pub(crate) fn svg(r: &Results) -> String {
    let (w, h) = (720.0, 440.0);
    let (left, right, top, bottom) = (70.0, 190.0, 40.0, 50.0);
    let mut comparators: Vec<&str> = Vec::new();
    let mut ns: Vec<u64> = Vec::new();
    for s in r.samples.iter().filter(|s| s.workload == "W1") {
        if !comparators.contains(&s.comparator.as_str()) {
            comparators.push(&s.comparator);
        }
        if !ns.contains(&s.n) {
            ns.push(s.n);
        }
    }
    ns.sort_unstable();
    let y_max = r
        .samples
        .iter()
        .filter(|s| s.workload == "W1")
        .map(|s| s.per_op_ns() / 1000.0)
        .fold(0.0_f64, f64::max)
        .max(1e-3)
        * 1.1;
    let (lo, hi) = match (ns.first(), ns.last()) {
        (Some(&a), Some(&b)) if a != b => ((a as f64).log10(), (b as f64).log10()),
        (Some(&a), _) => ((a as f64).log10() - 0.5, (a as f64).log10() + 0.5),
        _ => (0.0, 1.0),
    };
    let x = |n: u64| left + ((n as f64).log10() - lo) / (hi - lo) * (w - left - right);
    let y = |us: f64| h - bottom - us / y_max * (h - top - bottom);
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="{w}" height="{h}" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{left}" y="18" font-size="14">W1: per-file cost (mkstemp + close, then cleanup) against N; {}</text>"#,
        if r.tmpfs { "tmpfs" } else { "system temp dir" }
    );
    // Axes, ticks and grid.
    let _ = writeln!(
        s,
        r#"<path d="M{left} {top} V{} H{}" stroke="black" fill="none"/>"#,
        h - bottom,
        w - right
    );
    for i in 0..=5 {
        let v = y_max * f64::from(i) / 5.0;
        let yy = y(v);
        let _ = writeln!(
            s,
            r##"<line x1="{left}" x2="{}" y1="{yy:.1}" y2="{yy:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{v:.1}</text>"##,
            w - right,
            left - 6.0,
            yy + 4.0
        );
    }
    for &n in &ns {
        let xx = x(n);
        let _ = writeln!(
            s,
            r#"<line x1="{xx:.1}" x2="{xx:.1}" y1="{}" y2="{}" stroke="black"/><text x="{xx:.1}" y="{}" text-anchor="middle">{n}</text>"#,
            h - bottom,
            h - bottom + 5.0,
            h - bottom + 20.0
        );
    }
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">N (files, log scale)</text>"#,
        (left + w - right) / 2.0,
        h - 12.0
    );
    let _ = writeln!(
        s,
        r#"<text transform="translate(18 {}) rotate(-90)" text-anchor="middle">µs per file</text>"#,
        (top + h - bottom) / 2.0
    );
    for (i, c) in comparators.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let points: Vec<String> = ns
            .iter()
            .filter_map(|&n| r.find("W1", n, c))
            .map(|p| format!("{:.1},{:.1}", x(p.n), y(p.per_op_ns() / 1000.0)))
            .collect();
        let _ = writeln!(
            s,
            r#"<polyline points="{}" fill="none" stroke="{colour}" stroke-width="2"/>"#,
            points.join(" ")
        );
        for p in &points {
            let (px, py) = p.split_once(',').unwrap_or(("0", "0"));
            let _ = writeln!(s, r#"<circle cx="{px}" cy="{py}" r="3" fill="{colour}"/>"#);
        }
        let ly = top + 10.0 + 20.0 * i as f64;
        let lx = w - right + 15.0;
        let _ = writeln!(
            s,
            r#"<line x1="{lx}" x2="{}" y1="{ly}" y2="{ly}" stroke="{colour}" stroke-width="2"/><text x="{}" y="{}">{c}</text>"#,
            lx + 20.0,
            lx + 26.0,
            ly + 4.0
        );
    }
    let _ = writeln!(
        s,
        r##"<text x="{left}" y="34" font-size="10" fill="#555">{}; median of {} runs</text>"##,
        xml(&r.machine),
        r.runs
    );
    s.push_str("</svg>\n");
    s
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
