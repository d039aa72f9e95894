//! `cargo xtask race`: tmpwatch-race scenarios, duplicity's path-based algorithm against
//! this library's handle-based core.
//!
//! Every scenario (`scenario.rs`, one table of data) runs under every reaper it involves,
//! for three victim models — `path` (duplicity 3.2.1 by absolute path, on `MemoryFs`),
//! `handle-memory` (the core on `MemoryBackend`) and `handle-cap-std` (the core on a real
//! directory, the reaper and attacker on a real thread acting on disk, the installed
//! tmpreaper and systemd-tmpfiles beside the models) — with and without the `flock`
//! defence, over a range of seeds. The adversary strikes at seed-chosen points of the
//! victim's program; one actor runs at a time, so the same seed gives the same output,
//! byte for byte. What the victim did is measured at every hand-over (`measure.rs`).
//! `--free N` adds runs with no baton at all, reaper and attacker running freely.
//!
//! The modules, one concern each: `args` (the command line), `plan` (which rows, and what
//! a scenario becomes for a seed), `run` and `execute` (running rows, and one run),
//! `free` (the free-running mode), `output` (the tables); the world they run in: `env`
//! and `disk` (memory and real directories), `victim` (the two algorithms), `adversary`
//! and `reaper` (models) and `real` (the programs), `sched` (the baton), `measure`;
//! `broken` (deliberately broken backends the self-test must catch).

mod adversary;
mod args;
mod broken;
mod disk;
mod env;
mod execute;
mod free;
mod measure;
mod output;
mod plan;
mod real;
mod reaper;
mod run;
mod scenario;
mod sched;
mod victim;

use std::io::{IsTerminal, Write as _};
use std::process::ExitCode;
use std::sync::Mutex;

use output::Progress;

/// Entry point of `cargo xtask race`.
pub fn run(args: Vec<String>) -> ExitCode {
    let opts = match args::parse(&args) {
        Ok(o) => o,
        Err(e) if e.is_empty() => {
            print!("{}", args::usage());
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("error: {e}\n\n{}", args::usage());
            return ExitCode::from(2);
        }
    };
    let jobs = plan::jobs(&opts);
    let free_jobs = free::jobs(&opts);
    let runs: usize =
        jobs.iter().map(|j| j.seeds.len()).sum::<usize>() + free_jobs.len() * opts.free;
    let checks = if opts.check { 2 } else { 1 };
    let bar = Mutex::new(Progress::new(
        runs + (checks - 1) * (runs - free_jobs.len() * opts.free),
        opts.progress || std::io::stderr().is_terminal(),
    ));
    let outcome = run::rows(&opts, &jobs, &bar).and_then(|rows| {
        let free_rows = free::rows(&opts, &free_jobs, &bar)?;
        Ok((rows, free_rows))
    });
    let (rows, free_rows) = match outcome {
        Ok(r) => r,
        Err(e) => {
            bar.into_inner().unwrap_or_else(|e| e.into_inner()).done();
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let text = output::render(&opts, &rows, &free_rows);
    let mut failed = false;
    if opts.check {
        match run::rows(&opts, &jobs, &bar) {
            Ok(second) => {
                let (a, b) = (
                    output::render(&opts, &rows, &[]),
                    output::render(&opts, &second, &[]),
                );
                let mut differ = Vec::new();
                for (x, y) in rows.iter().zip(&second) {
                    for (p, q) in x.results.iter().zip(&y.results) {
                        if p.digest != q.digest {
                            differ.push(x.replay(p.seed));
                        }
                    }
                }
                if a != b || !differ.is_empty() {
                    failed = true;
                    eprintln!(
                        "\ndeterminism check FAILED: the output {} the second time; runs whose \
trace or event log differ: {}",
                        if a == b { "is the same" } else { "differs" },
                        differ.len()
                    );
                    for line in differ.iter().take(10) {
                        eprintln!("  {line} --trace");
                    }
                } else {
                    eprintln!(
                        "\ndeterminism check passed: the same output and, run by run, the same \
memory traces and disk event logs ({} runs; free-running rows are not compared)",
                        rows.iter().map(|r| r.results.len()).sum::<usize>()
                    );
                }
            }
            Err(e) => {
                eprintln!("error: {e}");
                failed = true;
            }
        }
    }
    bar.into_inner().unwrap_or_else(|e| e.into_inner()).done();
    print!("{text}");
    let _ = std::io::stdout().flush();
    let failing: Vec<String> = rows
        .iter()
        .filter(|r| r.fails())
        .filter_map(|r| r.worst().map(|w| r.replay(w.seed)))
        .chain(free_rows.iter().filter(|r| r.fails()).map(|r| {
            format!(
                "free-running: {} {} {} flock={}",
                r.job.scenario.name,
                r.job.model.name(),
                r.job.reaper.name(),
                r.job.flock_name()
            )
        }))
        .collect();
    for line in &failing {
        eprintln!("FAIL: a handle model did harm in the threat model\n  replay: {line}");
    }
    if failed || !failing.is_empty() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

#[cfg(test)]
mod tests;
