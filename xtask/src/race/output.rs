//! Output: the tables, the legend, the replay lines, JSON, and the progress bar.

use std::fmt::Write as _;

use super::args::Options;
use super::execute::Pass;
use super::free::FreeRow;
use super::run::Row;
use super::scenario::SCENARIOS;

const LEGEND: &str = "\
seeds      seeds run for the row (the in-memory rows --seeds, the disk rows the first --disk-runs)
harmed     seeds on which the victim did harm: a silent loss, or anything in foreign-rm,
           foreign-wr or outside; (n): the adversary is outside the threat model, not counted
worst      the seed with the most harm (then losses, then leaks); the next columns are its own
lost       victim files gone or changed when the victim needed them
silent     of those, files the victim read back without any error: it carries on with wrong data
foreign-rm entries of others inside the root that the victim removed
foreign-wr entries of others inside the root that the victim changed (content, mode, times,
           place), and entries it made in a directory it did not make
outside    the victim's own files outside the root (~/.bashrc, ~/secret) it made, removed, read
           or changed: only a planted symlink leads there
leaked     victim-made entries still present after its cleanup
detected   seeds on which the victim was told why (Reaped/Replaced/Swapped/Vanished, or
           status() != Intact)
flock      yes: the directory holds flock(LOCK_SH); no: the backend refuses it; -: path model
The path model is duplicity 3.2.1 by absolute path: its harm is the point of the table.
The attacker knows every name the victim hands out (a worst case: ps, logs, inotify).
Rows whose attacker has the victim's own uid are outside SECURITY.md's threat model: shown,
never counted. real-* reapers are the installed programs, run on the disk rows' root and
configured as their model twin is (atime and mtime only: ctime and btime cannot be made
old); each of their passes is compared with what the twin says it would remove.
";

/// A table: left-aligned text columns, right-aligned numbers, a blank line between
/// groups.
struct Table {
    header: Vec<&'static str>,
    left: Vec<bool>,
    rows: Vec<(usize, Vec<String>)>,
}

impl Table {
    fn render(&self, out: &mut String) {
        let mut width: Vec<usize> = self.header.iter().map(|h| h.len()).collect();
        for (_, cells) in &self.rows {
            for (w, c) in width.iter_mut().zip(cells) {
                *w = (*w).max(c.len());
            }
        }
        let line = |out: &mut String, cells: &[&str]| {
            let mut s = String::new();
            for (i, (cell, w)) in cells.iter().zip(&width).enumerate() {
                if self.left[i] {
                    let _ = write!(s, "{cell:<w$}  ");
                } else {
                    let _ = write!(s, "{cell:>w$}  ");
                }
            }
            let _ = writeln!(out, "{}", s.trim_end());
        };
        line(out, &self.header);
        let rule: Vec<String> = width.iter().map(|w| "-".repeat(*w)).collect();
        line(out, &rule.iter().map(String::as_str).collect::<Vec<_>>());
        let mut last = None;
        for (group, cells) in &self.rows {
            if last.is_some_and(|g| g != *group) {
                out.push('\n');
            }
            last = Some(*group);
            line(out, &cells.iter().map(String::as_str).collect::<Vec<_>>());
        }
    }
}

fn agreement(row: &Row) -> Option<String> {
    let (all, bad) = row.passes();
    if all == 0 {
        return None;
    }
    let failed = bad
        .iter()
        .filter(|(_, p)| matches!(p, Pass::Failed(_)))
        .count();
    let disagree = bad.len() - failed;
    let mut parts = Vec::new();
    if disagree == 0 {
        parts.push(format!("model agrees {}/{all}", all - failed));
    } else {
        parts.push(format!("MODEL DISAGREES {disagree}/{all}"));
    }
    if failed > 0 {
        parts.push(format!("the program failed {failed}/{all}"));
    }
    Some(parts.join(", "))
}

fn note(row: &Row) -> String {
    let mut parts = Vec::new();
    if !row.in_model {
        parts.push("outside threat model".to_owned());
    }
    if !row.note.is_empty() {
        parts.push(row.note.clone());
    }
    if let Some(a) = agreement(row) {
        parts.push(a);
    }
    parts.join("; ")
}

/// The seeded table, its legend, the replay lines and the summary.
pub fn render(o: &Options, rows: &[Row], free: &[FreeRow]) -> String {
    if o.json {
        return render_json(rows, free);
    }
    let mut out = String::new();
    let _ = writeln!(out, "{}", o.command());
    let mut table = Table {
        header: vec![
            "scenario",
            "model",
            "reaper",
            "flock",
            "seeds",
            "harmed",
            "worst",
            "lost",
            "silent",
            "foreign-rm",
            "foreign-wr",
            "outside",
            "leaked",
            "detected",
            "note",
        ],
        left: vec![
            true, true, true, true, false, false, false, false, false, false, false, false, false,
            false, true,
        ],
        rows: Vec::new(),
    };
    for r in rows {
        let worst = r.worst();
        let m = worst.map(|w| w.metrics).unwrap_or_default();
        let harmed = if r.missing.is_some() {
            "-".to_owned()
        } else if r.in_model {
            r.harmed().to_string()
        } else {
            format!("({})", r.harmed())
        };
        table.rows.push((
            r.job.scenario.id,
            vec![
                format!("{:>2} {}", r.job.scenario.id, r.job.scenario.name),
                r.job.model.name().to_owned(),
                r.job.reaper.name().to_owned(),
                r.job.flock_name().to_owned(),
                r.results.len().to_string(),
                harmed,
                worst.map_or("-".to_owned(), |w| w.seed.to_string()),
                m.lost.to_string(),
                m.silent.to_string(),
                m.foreign_rm.to_string(),
                m.foreign_wr.to_string(),
                m.outside.to_string(),
                m.leaked.to_string(),
                format!("{}/{}", r.detected(), r.results.len()),
                note(r),
            ],
        ));
    }
    table.render(&mut out);
    out.push('\n');
    out.push_str(LEGEND);
    out.push_str("\nScenarios:\n");
    for s in &SCENARIOS {
        let _ = writeln!(out, "{:>2} {:<18} {}", s.id, s.name, s.about);
    }
    let harmful: Vec<&Row> = rows.iter().filter(|r| r.harmed() > 0).collect();
    if !harmful.is_empty() {
        out.push_str("\nReplay a harmful row (its worst seed):\n");
        for r in &harmful {
            if let Some(w) = r.worst() {
                let tag = if r.fails() {
                    "FAIL "
                } else if !r.in_model {
                    "(outside the threat model) "
                } else if !r.job.model.is_handle() {
                    "(the reference) "
                } else {
                    ""
                };
                let _ = writeln!(out, "  {tag}{}", r.replay(w.seed));
            }
        }
    }
    let disagreements: Vec<(&Row, u64, &Pass)> = rows
        .iter()
        .flat_map(|r| r.passes().1.into_iter().map(move |(seed, p)| (r, seed, p)))
        .collect();
    if !disagreements.is_empty() {
        out.push_str("\nReal reapers against their models:\n");
        for (r, seed, p) in &disagreements {
            let what = match p {
                Pass::Disagrees(d) => d.clone(),
                Pass::Failed(e) => format!("failed: {}", e.lines().next().unwrap_or("")),
                Pass::Agrees => continue,
            };
            let _ = writeln!(out, "  {}: {what}", r.replay(*seed));
        }
    }
    if !free.is_empty() {
        out.push('\n');
        render_free(o, free, &mut out);
    }
    let failing =
        rows.iter().filter(|r| r.fails()).count() + free.iter().filter(|r| r.fails()).count();
    let outside = rows
        .iter()
        .filter(|r| r.job.model.is_handle() && !r.in_model && r.harmed() > 0)
        .count();
    let passes: usize = rows.iter().map(|r| r.passes().0).sum();
    let _ = writeln!(
        out,
        "\n{} rows, {} runs; handle rows with harm: {failing} in the threat model, {outside} outside it; \
real reaper passes: {passes}, disagreeing with their model: {}",
        rows.len() + free.len(),
        rows.iter().map(|r| r.results.len()).sum::<usize>()
            + free.iter().map(|r| r.counts.runs).sum::<usize>(),
        disagreements.len()
    );
    out
}

fn render_free(o: &Options, rows: &[FreeRow], out: &mut String) {
    let _ = writeln!(
        out,
        "Free-running on disk: reaper and attacker as real threads, no baton, {} runs a row; \
each column counts the runs that showed it (not deterministic: never compared)",
        o.free
    );
    let mut table = Table {
        header: vec![
            "scenario",
            "model",
            "reaper",
            "flock",
            "runs",
            "harmed",
            "lost",
            "silent",
            "foreign-rm",
            "foreign-wr",
            "outside",
            "leaked",
            "detected",
            "note",
        ],
        left: vec![
            true, true, true, true, false, false, false, false, false, false, false, false, false,
            true,
        ],
        rows: Vec::new(),
    };
    for r in rows {
        let c = &r.counts;
        let mut note = Vec::new();
        if !r.in_model {
            note.push("outside threat model".to_owned());
        }
        if !r.note.is_empty() {
            note.push(r.note.clone());
        }
        if c.failed_passes > 0 {
            note.push(format!("{} reaper passes failed", c.failed_passes));
        }
        let harmed = if r.in_model {
            c.harmed.to_string()
        } else {
            format!("({})", c.harmed)
        };
        table.rows.push((
            r.job.scenario.id,
            vec![
                format!("{:>2} {}", r.job.scenario.id, r.job.scenario.name),
                r.job.model.name().to_owned(),
                r.job.reaper.name().to_owned(),
                r.job.flock_name().to_owned(),
                c.runs.to_string(),
                harmed,
                c.lost.to_string(),
                c.silent.to_string(),
                c.foreign_rm.to_string(),
                c.foreign_wr.to_string(),
                c.outside.to_string(),
                c.leaked.to_string(),
                c.detected.to_string(),
                note.join("; "),
            ],
        ));
    }
    table.render(out);
}

fn render_json(rows: &[Row], free: &[FreeRow]) -> String {
    use crate::json::string as s;
    let mut items = Vec::new();
    for r in rows {
        let worst = r.worst();
        let m = worst.map(|w| w.metrics).unwrap_or_default();
        let (passes, bad) = r.passes();
        items.push(format!(
            "{{\"mode\": \"seeded\", \"scenario\": {}, \"scenario_id\": {}, \"model\": {}, \"reaper\": {}, \
\"flock\": {}, \"in_model\": {}, \"seeds\": {}, \"first_seed\": {}, \"harmed_seeds\": {}, \"detected_seeds\": {}, \
\"worst_seed\": {}, \"own_files_lost\": {}, \"silent_losses\": {}, \"foreign_entries_removed\": {}, \
\"foreign_entries_written\": {}, \"outside_changed\": {}, \"leaked_after_cleanup\": {}, \
\"real_passes\": {passes}, \"real_passes_disagreeing\": {}, \"fails\": {}, \"note\": {}, \"replay\": {}}}",
            s(r.job.scenario.name),
            r.job.scenario.id,
            s(r.job.model.name()),
            s(r.job.reaper.name()),
            s(r.job.flock_name()),
            r.in_model,
            r.results.len(),
            r.results.first().map_or("null".to_owned(), |x| x.seed.to_string()),
            r.harmed(),
            r.detected(),
            worst.map_or("null".to_owned(), |w| w.seed.to_string()),
            m.lost,
            m.silent,
            m.foreign_rm,
            m.foreign_wr,
            m.outside,
            m.leaked,
            bad.len(),
            r.fails(),
            s(&note(r)),
            worst.map_or("null".to_owned(), |w| s(&r.replay(w.seed))),
        ));
    }
    for r in free {
        let c = &r.counts;
        items.push(format!(
            "{{\"mode\": \"free\", \"scenario\": {}, \"scenario_id\": {}, \"model\": {}, \"reaper\": {}, \
\"flock\": {}, \"in_model\": {}, \"runs\": {}, \"harmed_runs\": {}, \"lost_runs\": {}, \"silent_runs\": {}, \
\"foreign_rm_runs\": {}, \"foreign_wr_runs\": {}, \"outside_runs\": {}, \"leaked_runs\": {}, \
\"detected_runs\": {}, \"failed_reaper_passes\": {}, \"fails\": {}, \"note\": {}}}",
            s(r.job.scenario.name),
            r.job.scenario.id,
            s(r.job.model.name()),
            s(r.job.reaper.name()),
            s(r.job.flock_name()),
            r.in_model,
            c.runs,
            c.harmed,
            c.lost,
            c.silent,
            c.foreign_rm,
            c.foreign_wr,
            c.outside,
            c.leaked,
            c.detected,
            c.failed_passes,
            r.fails(),
            s(&r.note),
        ));
    }
    if items.is_empty() {
        return "[]\n".to_owned();
    }
    format!("[\n  {}\n]\n", items.join(",\n  "))
}

/// A bar on stderr, never on stdout.
pub struct Progress {
    total: usize,
    done: usize,
    on: bool,
}

impl Progress {
    pub fn new(total: usize, on: bool) -> Self {
        Progress { total, done: 0, on }
    }

    pub fn step(&mut self) {
        self.done += 1;
        if self.on
            && (self.done * 200 / self.total.max(1) != (self.done - 1) * 200 / self.total.max(1)
                || self.done == self.total)
        {
            let filled = self.done * 30 / self.total.max(1);
            eprint!(
                "\r[{}{}] {}/{} runs",
                "#".repeat(filled),
                " ".repeat(30 - filled),
                self.done,
                self.total
            );
        }
    }

    pub fn done(&self) {
        if self.on {
            eprintln!();
        }
    }
}
