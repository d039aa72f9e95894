//! The victims: duplicity's algorithm by path, and our core through a directory handle.

use std::ffi::OsString;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::sync::{Arc, Mutex};

use camino::{Utf8Path, Utf8PathBuf};
use tempdir_core::{Backend, DirStatus, Error, FileId, FileKind, Meta, TemporaryDirectory};

use super::env::Outside;
use super::scenario::Act;
use super::sched::{Sched, SplitMix64};
use crate::lock;

/// What the victim made public: the attacker's oracle (a worst-case attacker learns the
/// names from `ps`, logs, or by listing a directory it can read).
#[derive(Default, Debug)]
pub struct Published {
    pub dir: Option<Utf8PathBuf>,
    pub names: Vec<Utf8PathBuf>,
}

/// What the victim did and saw, for the metrics.
#[derive(Default, Debug)]
pub struct VictimLog {
    /// Inodes the path victim created (its directory included), for the free-running
    /// mode (the probe keeps the handle victim's).
    pub created: Vec<u64>,
    /// Slots whose data was gone or changed when the victim needed it, and whether the
    /// victim read something without an error (a silent loss: it would go on with it).
    pub lost: Vec<(usize, bool)>,
    /// The victim was told what happened: `Reaped`/`Replaced`/`Swapped`, or a status that
    /// is not `Intact`.
    pub detected: bool,
    /// The victim got an error from an operation on its temporary files.
    pub errors: usize,
    /// With `record_removals`: the inodes the victim removed, each looked at right before
    /// its removal (the free-running mode, where no turns say who did what).
    pub removed: Vec<u64>,
    pub record_removals: bool,
}

pub type Shared<T> = Arc<Mutex<T>>;

/// A victim model.
pub trait Victim {
    fn act(&mut self, act: &Act);
}

#[derive(Clone, Debug, Default)]
struct Slot {
    path: Option<Utf8PathBuf>,
    expected: Vec<u8>,
    made: bool,
}

fn data_for(slot: usize, round: u8) -> Vec<u8> {
    format!("victim data, file {slot}, write {round}\n").into_bytes()
}

fn slot(slots: &mut Vec<Slot>, i: usize) -> &mut Slot {
    if slots.len() <= i {
        slots.resize(i + 1, Slot::default());
    }
    &mut slots[i]
}

// ---------------------------------------------------------------------------------------
// path: duplicity 3.2.1's tempdir.py, by absolute path.

/// duplicity's `TemporaryDirectory` as it is: `mkdtemp`, `O_EXCL|O_NOFOLLOW` creates by
/// path, later opens by path following symlinks, cleanup by `unlink(path)` + `rmdir(path)`.
pub struct PathVictim<'a> {
    fs: &'a dyn Outside,
    root: Utf8PathBuf,
    sched: &'a Sched,
    rng: SplitMix64,
    dir: Option<Utf8PathBuf>,
    counter: u64,
    tracked: Vec<Utf8PathBuf>,
    slots: Vec<Slot>,
    pub log: Shared<VictimLog>,
    published: Shared<Published>,
}

/// Python's `tempfile` names: 8 characters of `[a-z0-9_]`.
pub fn python_random_name(rng: &mut SplitMix64) -> String {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789_";
    (0..8)
        .map(|_| CHARS[(rng.next_u64() % CHARS.len() as u64) as usize] as char)
        .collect()
}

/// The directory names `mkdtemp("-tempdir", "duplicity-")` tries, in order.
pub fn duplicity_dir_names(mut rng: SplitMix64, n: usize) -> Vec<String> {
    (0..n)
        .map(|_| format!("duplicity-{}-tempdir", python_random_name(&mut rng)))
        .collect()
}

impl<'a> PathVictim<'a> {
    /// duplicity's `{kind}-XXXXXXXX-N` in `dir`, the counter shared by both kinds.
    fn next_name(&mut self, dir: &Utf8Path, kind: &str) -> Utf8PathBuf {
        self.counter += 1;
        let random = python_random_name(&mut self.rng);
        dir.join(format!("{kind}-{random}-{}", self.counter))
    }

    pub fn new(
        fs: &'a dyn Outside,
        root: &Utf8Path,
        sched: &'a Sched,
        rng: SplitMix64,
        log: Shared<VictimLog>,
        published: Shared<Published>,
    ) -> Self {
        PathVictim {
            fs,
            root: root.to_owned(),
            sched,
            rng,
            dir: None,
            counter: 0,
            tracked: Vec::new(),
            slots: Vec::new(),
            log,
            published,
        }
    }

    fn error(&self) {
        lock(&self.log).errors += 1;
    }

    fn created(&self, path: &Utf8Path) {
        if let Ok(st) = self.fs.stat(path) {
            lock(&self.log).created.push(st.ino);
        }
    }

    fn publish(&self, path: &Utf8Path) {
        lock(&self.published).names.push(path.to_owned());
    }

    /// `unlink(path)` or `rmdir(path)`, noting what went where asked.
    fn remove(&self, path: &Utf8Path, dir: bool) -> io::Result<()> {
        let before = lock(&self.log)
            .record_removals
            .then(|| self.fs.lstat(path).ok())
            .flatten();
        if dir {
            self.fs.remove_dir(path)?;
        } else {
            self.fs.remove_file(path)?;
        }
        if let Some(st) = before {
            lock(&self.log).removed.push(st.ino);
        }
        Ok(())
    }

    /// `open(path, O_CREAT|O_EXCL|O_NOFOLLOW, 0600)` + a write through the descriptor.
    fn create_excl(&self, path: &Utf8Path, data: &[u8]) -> io::Result<()> {
        self.sched.before_op();
        self.fs.create_new(path, data)?;
        self.created(path);
        Ok(())
    }

    /// Python's `open(path, mode)` for writing: follows symlinks, creates `0666 & !umask`.
    fn open_write(&self, path: &Utf8Path, data: &[u8], append: bool) -> io::Result<()> {
        self.sched.before_op();
        let existed = self.fs.stat(path).is_ok();
        let mut content = if append && existed {
            self.fs.read(path)?
        } else {
            Vec::new()
        };
        content.extend_from_slice(data);
        self.fs.write(path, &content)?;
        if !existed {
            self.created(path);
        }
        Ok(())
    }
}

impl Victim for PathVictim<'_> {
    fn act(&mut self, act: &Act) {
        match *act {
            Act::MakeDir => {
                // tempfile.mkdtemp: os.mkdir(name, 0o700) until one is free.
                for _ in 0..100 {
                    let name = format!("duplicity-{}-tempdir", python_random_name(&mut self.rng));
                    let path = self.root.join(&name);
                    self.sched.before_op();
                    match self.fs.create_dir(&path, 0o700) {
                        Ok(()) => {
                            if let Ok(st) = self.fs.lstat(&path) {
                                lock(&self.log).created.push(st.ino);
                            }
                            lock(&self.published).dir = Some(path.clone());
                            self.dir = Some(path);
                            return;
                        }
                        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                        Err(_) => break,
                    }
                }
                self.error();
            }
            Act::Mkstemp(i) => {
                let Some(dir) = self.dir.clone() else { return };
                for _ in 0..100 {
                    let path = self.next_name(&dir, "mkstemp");
                    let data = data_for(i, 0);
                    match self.create_excl(&path, &data) {
                        Ok(()) => {
                            self.tracked.push(path.clone());
                            self.publish(&path);
                            *slot(&mut self.slots, i) = Slot {
                                path: Some(path),
                                expected: data,
                                made: true,
                            };
                            return;
                        }
                        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                        Err(_) => break,
                    }
                }
                self.error();
            }
            Act::Mktemp(i) => {
                let Some(dir) = self.dir.clone() else { return };
                // tempfile.mktemp: a name whose lstat fails.
                for _ in 0..100 {
                    let path = self.next_name(&dir, "mktemp");
                    self.sched.before_op();
                    if self.fs.lstat(&path).is_err() {
                        self.tracked.push(path.clone());
                        self.publish(&path);
                        slot(&mut self.slots, i).path = Some(path);
                        return;
                    }
                }
                self.error();
            }
            Act::Create(i) => {
                let Some(path) = slot(&mut self.slots, i).path.clone() else {
                    return;
                };
                let data = data_for(i, 0);
                match self.open_write(&path, &data, false) {
                    Ok(()) => {
                        let s = slot(&mut self.slots, i);
                        s.expected = data;
                        s.made = true;
                    }
                    Err(_) => self.error(),
                }
            }
            Act::Reopen(i) => {
                let s = slot(&mut self.slots, i).clone();
                let (Some(path), true) = (s.path, s.made) else {
                    return;
                };
                let data = data_for(i, 1);
                match self.open_write(&path, &data, true) {
                    Ok(()) => slot(&mut self.slots, i).expected.extend_from_slice(&data),
                    Err(_) => self.error(),
                }
            }
            Act::Remove(i) => {
                let s = slot(&mut self.slots, i).clone();
                let (Some(path), true) = (s.path, s.made) else {
                    return;
                };
                self.sched.before_op();
                if self.remove(&path, false).is_err() {
                    self.error();
                }
                // duplicity: the caller unlinks, then forget()s.
                self.tracked.retain(|p| p != &path);
                slot(&mut self.slots, i).made = false;
            }
            Act::Idle(_) => {}
            Act::KeepAlive => {
                let Some(dir) = self.dir.clone() else { return };
                self.sched.before_op();
                if self.fs.touch(&dir).is_err() {
                    self.error();
                }
                for path in self.tracked.clone() {
                    self.sched.before_op();
                    match self.fs.touch(&path) {
                        Ok(()) => {}
                        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                        Err(_) => self.error(),
                    }
                }
            }
            Act::Preserve(i, age) => {
                let s = slot(&mut self.slots, i).clone();
                let (Some(path), true) = (s.path, s.made) else {
                    return;
                };
                self.sched.before_op();
                let then = self.fs.now().saturating_sub(age);
                if self.fs.set_times(&path, then, then).is_err() {
                    self.error();
                }
            }
            Act::Verify(i) => {
                let s = slot(&mut self.slots, i).clone();
                let (Some(path), true) = (s.path, s.made) else {
                    return;
                };
                self.sched.before_op();
                match self.fs.read(&path) {
                    Ok(data) if data == s.expected => {}
                    Ok(_) => lock(&self.log).lost.push((i, true)),
                    Err(_) => {
                        self.error();
                        lock(&self.log).lost.push((i, false));
                    }
                }
            }
            Act::Cleanup => {
                let Some(dir) = self.dir.take() else { return };
                for path in std::mem::take(&mut self.tracked) {
                    self.sched.before_op();
                    match self.remove(&path, false) {
                        Ok(()) => {}
                        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                        // duplicity logs and goes on.
                        Err(_) => self.error(),
                    }
                }
                self.sched.before_op();
                if self.remove(&dir, true).is_err() {
                    self.error();
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// handle: our core, on any backend, behind a probe.

/// Delegates every `Backend` method, handing the baton over before each (the interleaving
/// points), recording what the victim created, optionally refusing the `flock` (the
/// "without flock" rows) and optionally drawing names from a seeded generator (the weak
/// names the attacker predicts, and on disk names that replay).
pub struct Probe<B> {
    pub inner: B,
    pub lock: bool,
    pub sched: Option<Arc<Sched>>,
    pub created: Shared<Vec<FileId>>,
    pub names: Option<Shared<SplitMix64>>,
    /// Every directory name `make_dir` was asked for.
    pub tried: Shared<Vec<String>>,
    /// Make every `make_dir` fail with `AlreadyExists` (to list the names a generator
    /// leads to without making anything).
    pub refuse_dirs: bool,
    /// Where to note the inode of everything removed, looked at right before.
    pub removals: Option<Shared<VictimLog>>,
}

impl<B: Backend> Probe<B> {
    pub fn new(inner: B, lock: bool, sched: Option<Arc<Sched>>) -> Self {
        Probe {
            inner,
            lock,
            sched,
            created: Arc::default(),
            names: None,
            tried: Arc::default(),
            refuse_dirs: false,
            removals: None,
        }
    }

    fn removed(&self, before: Option<Meta>) {
        if let (Some(log), Some(meta)) = (&self.removals, before) {
            lock(log).removed.push(meta.id.ino);
        }
    }

    fn tick(&self) {
        if let Some(s) = &self.sched {
            s.before_op();
        }
    }
}

impl<B: Backend> Backend for Probe<B> {
    type File = B::File;
    type Dir = B::Dir;

    fn root(&self) -> &Utf8Path {
        self.inner.root()
    }
    fn seed(&self) -> Option<u64> {
        match &self.names {
            Some(rng) => Some(lock(rng).next_u64()),
            None => self.inner.seed(),
        }
    }
    fn euid(&self) -> Option<u32> {
        self.inner.euid()
    }
    fn root_meta(&self) -> io::Result<Meta> {
        self.tick();
        self.inner.root_meta()
    }
    fn root_entry(&self, name: &str) -> io::Result<Option<Meta>> {
        self.tick();
        self.inner.root_entry(name)
    }
    fn make_dir(&self, name: &str, mode: u32) -> io::Result<()> {
        lock(&self.tried).push(name.to_owned());
        if self.refuse_dirs {
            return Err(io::ErrorKind::AlreadyExists.into());
        }
        self.tick();
        self.inner.make_dir(name, mode)?;
        // Recorded without handing the baton over: nobody acts between the two calls.
        if let Ok(Some(meta)) = self.inner.root_entry(name) {
            lock(&self.created).push(meta.id);
        }
        Ok(())
    }
    fn set_mode_at(&self, name: &str, mode: u32) -> io::Result<()> {
        self.tick();
        self.inner.set_mode_at(name, mode)
    }
    fn open_dir(&self, name: &str) -> io::Result<Self::Dir> {
        self.tick();
        self.inner.open_dir(name)
    }
    fn rename_at(&self, from: &str, to: &str) -> io::Result<()> {
        self.tick();
        self.inner.rename_at(from, to)
    }
    fn remove_dir(&self, name: &str) -> io::Result<()> {
        self.tick();
        let before = self
            .removals
            .as_ref()
            .and_then(|_| self.inner.root_entry(name).ok().flatten());
        self.inner.remove_dir(name)?;
        self.removed(before);
        Ok(())
    }
    fn dir_meta(&self, dir: &Self::Dir) -> io::Result<Meta> {
        self.tick();
        self.inner.dir_meta(dir)
    }
    fn set_dir_mode(&self, dir: &Self::Dir, mode: u32) -> io::Result<()> {
        self.tick();
        self.inner.set_dir_mode(dir, mode)
    }
    fn lock_shared(&self, dir: &Self::Dir) -> io::Result<()> {
        if !self.lock {
            return Err(io::ErrorKind::Unsupported.into());
        }
        self.tick();
        self.inner.lock_shared(dir)
    }
    fn create_file(&self, dir: &Self::Dir, name: &str, mode: u32) -> io::Result<Self::File> {
        self.tick();
        let made = self.inner.create_file(dir, name, mode)?;
        // Recorded without handing the baton over: nobody acts between the two calls.
        if let Ok(Some(meta)) = self.inner.entry(dir, name) {
            lock(&self.created).push(meta.id);
        }
        Ok(made)
    }
    fn set_file_mode(&self, file: &Self::File, mode: u32) -> io::Result<()> {
        self.tick();
        self.inner.set_file_mode(file, mode)
    }
    fn open_file(&self, dir: &Self::Dir, name: &str) -> io::Result<(Self::File, FileKind)> {
        self.tick();
        self.inner.open_file(dir, name)
    }
    fn entry(&self, dir: &Self::Dir, name: &str) -> io::Result<Option<Meta>> {
        self.tick();
        self.inner.entry(dir, name)
    }
    fn remove_file(&self, dir: &Self::Dir, name: &str) -> io::Result<()> {
        self.tick();
        let before = self
            .removals
            .as_ref()
            .and_then(|_| self.inner.entry(dir, name).ok().flatten());
        self.inner.remove_file(dir, name)?;
        self.removed(before);
        Ok(())
    }
    fn touch(&self, dir: &Self::Dir, name: Option<&str>) -> io::Result<()> {
        self.tick();
        self.inner.touch(dir, name)
    }
    fn list(&self, dir: &Self::Dir) -> io::Result<Vec<OsString>> {
        self.tick();
        self.inner.list(dir)
    }
}

/// Makes the backend when the victim makes its directory.
type MakeProbe<'a, B> = Box<dyn FnOnce() -> Result<Probe<B>, Error> + 'a>;

/// Our core: `TemporaryDirectory<Probe<B>>`, used as a careful caller would.
pub struct HandleVictim<'a, B: Backend> {
    make: Option<MakeProbe<'a, B>>,
    fs: &'a dyn Outside,
    sched: &'a Sched,
    tmp: Option<TemporaryDirectory<Probe<B>>>,
    files: Vec<Option<B::File>>,
    slots: Vec<Slot>,
    pub log: Shared<VictimLog>,
    published: Shared<Published>,
}

impl<'a, B: Backend> HandleVictim<'a, B> {
    pub fn new(
        make: impl FnOnce() -> Result<Probe<B>, Error> + 'a,
        fs: &'a dyn Outside,
        sched: &'a Sched,
        log: Shared<VictimLog>,
        published: Shared<Published>,
    ) -> Self {
        HandleVictim {
            make: Some(Box::new(make)),
            fs,
            sched,
            tmp: None,
            files: Vec::new(),
            slots: Vec::new(),
            log,
            published,
        }
    }

    fn saw(&self, e: &Error) {
        let mut log = lock(&self.log);
        log.errors += 1;
        if matches!(
            e,
            Error::Reaped { .. }
                | Error::Replaced { .. }
                | Error::Swapped { .. }
                | Error::Vanished { .. }
        ) {
            log.detected = true;
        }
    }

    /// A careful caller asks what happened after a failure.
    fn check_status(&self) {
        if let Some(tmp) = &self.tmp
            && matches!(tmp.status(), DirStatus::Reaped | DirStatus::Replaced)
        {
            lock(&self.log).detected = true;
        }
    }

    fn fail(&self, e: &Error) {
        self.saw(e);
        self.check_status();
    }

    fn publish(&self, path: &Utf8Path) {
        lock(&self.published).names.push(path.to_owned());
    }

    fn set_file(&mut self, i: usize, file: Option<B::File>) {
        if self.files.len() <= i {
            self.files.resize_with(i + 1, || None);
        }
        self.files[i] = file;
    }
}

impl<B: Backend> Victim for HandleVictim<'_, B> {
    fn act(&mut self, act: &Act) {
        match *act {
            Act::MakeDir => {
                let Some(make) = self.make.take() else { return };
                match make().and_then(TemporaryDirectory::with_backend) {
                    Ok(tmp) => {
                        lock(&self.published).dir = Some(tmp.dir().to_owned());
                        self.tmp = Some(tmp);
                    }
                    Err(e) => self.saw(&e),
                }
            }
            Act::Mkstemp(i) => {
                let Some(tmp) = &self.tmp else { return };
                let data = data_for(i, 0);
                let made = tmp.mkstemp().and_then(|(mut file, path)| {
                    file.write_all(&data)
                        .map_err(|e| io_error(&path, e))
                        .map(|()| (file, path))
                });
                match made {
                    Ok((file, path)) => {
                        self.publish(&path);
                        *slot(&mut self.slots, i) = Slot {
                            path: Some(path),
                            expected: data,
                            made: true,
                        };
                        self.set_file(i, Some(file));
                    }
                    Err(e) => self.fail(&e),
                }
            }
            Act::Mktemp(i) => {
                let Some(tmp) = &self.tmp else { return };
                match tmp.mktemp() {
                    Ok(path) => {
                        self.publish(&path);
                        slot(&mut self.slots, i).path = Some(path);
                    }
                    Err(e) => self.fail(&e),
                }
            }
            Act::Create(i) => {
                let Some(tmp) = &self.tmp else { return };
                let Some(path) = slot(&mut self.slots, i).path.clone() else {
                    return;
                };
                let data = data_for(i, 0);
                let made = tmp.create(&path).and_then(|mut file| {
                    file.write_all(&data)
                        .map_err(|e| io_error(&path, e))
                        .map(|()| file)
                });
                match made {
                    Ok(file) => {
                        let s = slot(&mut self.slots, i);
                        s.expected = data;
                        s.made = true;
                        self.set_file(i, Some(file));
                    }
                    Err(e) => self.fail(&e),
                }
            }
            Act::Reopen(i) => {
                let Some(tmp) = &self.tmp else { return };
                let s = slot(&mut self.slots, i).clone();
                let (Some(path), true) = (s.path, s.made) else {
                    return;
                };
                let data = data_for(i, 1);
                let done = tmp.open(&path).and_then(|mut file| {
                    file.seek(SeekFrom::End(0))
                        .and_then(|_| file.write_all(&data))
                        .map_err(|e| io_error(&path, e))
                });
                match done {
                    Ok(()) => slot(&mut self.slots, i).expected.extend_from_slice(&data),
                    Err(e) => self.fail(&e),
                }
            }
            Act::Remove(i) => {
                let s = slot(&mut self.slots, i).clone();
                let (Some(path), true) = (s.path, s.made) else {
                    return;
                };
                self.set_file(i, None);
                let Some(tmp) = &self.tmp else { return };
                if let Err(e) = tmp.remove(&path) {
                    self.fail(&e);
                }
                slot(&mut self.slots, i).made = false;
            }
            Act::Idle(_) => {}
            Act::KeepAlive => {
                let Some(tmp) = &self.tmp else { return };
                if let Err(e) = tmp.keep_alive() {
                    self.fail(&e);
                }
            }
            Act::Preserve(i, age) => {
                // `tar` run on the path: outside the library, as the victim's uid.
                let s = slot(&mut self.slots, i).clone();
                let (Some(path), true) = (s.path, s.made) else {
                    return;
                };
                self.sched.before_op();
                let then = self.fs.now().saturating_sub(age);
                if self.fs.set_times(&path, then, then).is_err() {
                    lock(&self.log).errors += 1;
                }
            }
            Act::Verify(i) => {
                let Some(tmp) = &self.tmp else { return };
                let s = slot(&mut self.slots, i).clone();
                let (Some(path), true) = (s.path, s.made) else {
                    return;
                };
                let read = tmp.open(&path).and_then(|mut file| {
                    let mut data = Vec::new();
                    file.read_to_end(&mut data)
                        .map_err(|e| io_error(&path, e))
                        .map(|_| data)
                });
                match read {
                    Ok(data) if data == s.expected => {}
                    Ok(_) => lock(&self.log).lost.push((i, true)),
                    Err(e) => {
                        self.fail(&e);
                        lock(&self.log).lost.push((i, false));
                    }
                }
            }
            Act::Cleanup => {
                self.files.clear();
                let Some(tmp) = self.tmp.take() else { return };
                let report = tmp.cleanup();
                let mut log = lock(&self.log);
                if matches!(report.status, DirStatus::Reaped | DirStatus::Replaced)
                    || !report.left_in_place.is_empty()
                {
                    log.detected = true;
                }
                log.errors += report.failures.len();
            }
        }
    }
}

fn io_error(path: &Utf8Path, source: io::Error) -> Error {
    Error::Io {
        op: tempdir_core::Op::CreateFile,
        path: path.to_owned(),
        source,
    }
}
