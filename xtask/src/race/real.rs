//! The real reapers: Debian's `tmpreaper` and `systemd-tmpfiles --clean`, run as programs
//! on the disk rows' root, beside the models.
//!
//! Each is configured exactly as a model is (its "twin"): judging by atime and mtime
//! alone, the times `utimensat` can set, since ctime and btime cannot be made old. Before
//! each real pass the twin says, without removing anything ([`DryRun`]), what it would
//! remove; the table reports every pass where the two disagree. A real reaper cannot be
//! paused between its `lstat` and its `unlink`, so its rows have no such window.
//!
//! [`DryRun`]: super::reaper::DryRun

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use camino::Utf8Path;

use super::reaper::Reaper;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum RealKind {
    Tmpreaper,
    SystemdTmpfiles,
}

impl RealKind {
    pub fn name(self) -> &'static str {
        match self {
            RealKind::Tmpreaper => "real-tmpreaper",
            RealKind::SystemdTmpfiles => "real-systemd-tmpfiles",
        }
    }

    fn program(self) -> &'static str {
        match self {
            RealKind::Tmpreaper => "tmpreaper",
            RealKind::SystemdTmpfiles => "systemd-tmpfiles",
        }
    }

    /// Where the program is, if it is installed (`PATH`, then the `sbin` directories a
    /// user's `PATH` often lacks).
    pub fn binary(self) -> Option<&'static Path> {
        static FOUND: OnceLock<[Option<PathBuf>; 2]> = OnceLock::new();
        let found = FOUND.get_or_init(|| {
            let find = |program: &str| {
                let path = std::env::var_os("PATH").unwrap_or_default();
                std::env::split_paths(&path)
                    .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from))
                    .map(|dir| dir.join(program))
                    .find(|p| p.is_file())
            };
            [
                find(RealKind::Tmpreaper.program()),
                find(RealKind::SystemdTmpfiles.program()),
            ]
        });
        found[self as usize].as_deref()
    }

    /// What the program says it removed (`--showdeleted`; systemd-tmpfiles' debug log), as
    /// paths relative to the run's tree like the event logs, if it says.
    pub fn logged_removals(self, printed: &str, root: &Utf8Path) -> Option<BTreeSet<String>> {
        let base = root.parent()?;
        let relative = |p: &str| -> String {
            let p = Utf8Path::new(p);
            let full = if p.is_absolute() {
                p.to_owned()
            } else {
                root.join(p)
            };
            full.strip_prefix(base)
                .map_or_else(|_| full.to_string(), ToString::to_string)
        };
        let mut out = BTreeSet::new();
        for line in printed.lines() {
            let path = match self {
                // `rm PATH` and `rmdir PATH`: absolute at the top, relative below it.
                RealKind::Tmpreaper => line
                    .strip_prefix("rm ")
                    .or_else(|| line.strip_prefix("rmdir ")),
                // `Removing "PATH".` and `Removing directory "PATH".`
                RealKind::SystemdTmpfiles => line
                    .strip_prefix("Removing \"")
                    .or_else(|| line.strip_prefix("Removing directory \""))
                    .and_then(|rest| rest.strip_suffix("\".")),
            };
            if let Some(path) = path {
                out.insert(relative(path));
            }
        }
        Some(out)
    }

    /// The configuration it runs with, as the model that is its twin.
    pub fn model(self, root: &Utf8Path) -> Reaper {
        match self {
            RealKind::Tmpreaper => Reaper::tmpreaper(),
            RealKind::SystemdTmpfiles => Reaper::systemd_tmpfiles(root),
        }
        .by_settable_times()
    }

    /// One pass over `root` with `model`'s configuration; `dir` holds the configuration
    /// file systemd-tmpfiles reads. Returns what the program printed.
    pub fn run(self, model: &Reaper, root: &Utf8Path, dir: &Utf8Path) -> Result<String, String> {
        let binary = self
            .binary()
            .ok_or_else(|| format!("{} is not installed", self.program()))?;
        let mut command = Command::new(binary);
        match (self, model) {
            (RealKind::Tmpreaper, Reaper::Tmpreaper(t)) => {
                for (on, flag) in [
                    (t.mtime, "--mtime"),
                    (t.ctime, "--ctime"),
                    (t.mtime_dir, "--mtime-dir"),
                    (t.symlinks, "--symlinks"),
                    (t.all, "--all"),
                ] {
                    if on {
                        command.arg(flag);
                    }
                }
                for pattern in &t.protect {
                    command.arg("--protect").arg(pattern);
                }
                command
                    .arg("--showdeleted")
                    .arg(format!("{}s", t.age.as_secs()))
                    .arg(root.as_str());
            }
            (RealKind::SystemdTmpfiles, Reaper::SystemdTmpfiles(t)) => {
                let mut conf = format!("e {root} - - - {}\n", t.age_field());
                for glob in &t.exclude {
                    conf.push_str(&format!("x {glob}\n"));
                }
                for glob in &t.exclude_self {
                    conf.push_str(&format!("X {glob}\n"));
                }
                let file = dir.join("race-tmpfiles.conf");
                std::fs::write(&file, conf).map_err(|e| format!("{file}: {e}"))?;
                command
                    .env("SYSTEMD_LOG_LEVEL", "debug")
                    .arg("--clean")
                    .arg(file.as_str());
            }
            _ => return Err(format!("{} cannot run as {}", self.name(), model.name())),
        }
        let out = command
            .output()
            .map_err(|e| format!("{}: {e}", binary.display()))?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if out.status.success() {
            Ok(text)
        } else {
            Err(format!(
                "{} failed ({}): {text}",
                self.program(),
                out.status
            ))
        }
    }
}
