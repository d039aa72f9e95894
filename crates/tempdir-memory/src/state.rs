//! The filesystem model: inodes, directory entries, path resolution and every operation,
//! each returning the errno Linux would. No locking and no tracing here: `fs.rs` wraps it.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use camino::{Utf8Path, Utf8PathBuf};
use tempdir_core::{FileId, FileKind, Meta};

use crate::Errno;
use crate::fault::ArmedFault;
use crate::meta::MemoryMetadata;

/// `st_dev` of every inode.
pub(crate) const DEV: u64 = 0x6d656d;
/// The inode number of `/`, as on ext4.
pub(crate) const ROOT_INO: u64 = 2;
/// Linux's `MAXSYMLINKS`: more symlinks than this in one resolution is `ELOOP`.
const MAX_SYMLINKS: u32 = 40;
/// Linux's `NAME_MAX`.
const NAME_MAX: usize = 255;
/// Linux's `PATH_MAX`, the terminating NUL included.
const PATH_MAX: usize = 4096;
/// The sticky bit.
pub(crate) const S_ISVTX: u32 = 0o1000;
/// relatime refreshes an atime at least this old even when nothing changed since.
const RELATIME_WINDOW: Duration = Duration::from_secs(24 * 60 * 60);
/// What a directory's `st_size` says (ext4's block size; tmpfs would say something else).
const DIR_SIZE: u64 = 4096;

const R: u32 = 4;
const W: u32 = 2;
const X: u32 = 1;

/// Who performs an operation, and how.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Actor {
    pub(crate) uid: u32,
    /// Opens as with `O_NOATIME`: reads leave atime alone.
    pub(crate) noatime: bool,
}

pub(crate) enum Node {
    File(Vec<u8>),
    Dir {
        /// Sorted, so listings and traces never depend on hashing.
        entries: BTreeMap<String, u64>,
        /// Where `..` leads; meaningless once the directory is removed.
        parent: u64,
    },
    Symlink(Utf8PathBuf),
    /// A special file: a FIFO, which stands for sockets and device nodes too. It holds no
    /// data; the model only needs it to exist, to be opened without blocking and to be
    /// unlinked.
    Special,
}

pub(crate) struct Inode {
    pub(crate) node: Node,
    pub(crate) mode: u32,
    pub(crate) uid: u32,
    pub(crate) nlink: u64,
    pub(crate) atime: Duration,
    pub(crate) mtime: Duration,
    pub(crate) ctime: Duration,
    pub(crate) btime: Duration,
    /// Open handles (files, directories, backend roots): they keep an unlinked inode alive.
    pub(crate) refs: u64,
    /// `flock(LOCK_SH)` holders.
    pub(crate) shared_locks: u64,
    /// The device it is on (`st_dev`): its directory's when it was made.
    pub(crate) dev: u64,
}

impl Inode {
    pub(crate) fn kind(&self) -> FileKind {
        match self.node {
            Node::File(_) => FileKind::File,
            Node::Dir { .. } => FileKind::Dir,
            Node::Symlink(_) => FileKind::Symlink,
            Node::Special => FileKind::Other,
        }
    }

    fn is_dir(&self) -> bool {
        matches!(self.node, Node::Dir { .. })
    }

    fn entries(&self) -> Option<&BTreeMap<String, u64>> {
        match &self.node {
            Node::Dir { entries, .. } => Some(entries),
            _ => None,
        }
    }

    fn entries_mut(&mut self) -> Option<&mut BTreeMap<String, u64>> {
        match &mut self.node {
            Node::Dir { entries, .. } => Some(entries),
            _ => None,
        }
    }

    /// Whether `actor` has every permission in `want` (a mix of `R`, `W`, `X`). Root
    /// bypasses the check, as with `CAP_DAC_OVERRIDE`. There are no groups: group bits
    /// apply to nobody.
    fn allows(&self, actor: Actor, want: u32) -> bool {
        if actor.uid == 0 {
            return true;
        }
        let bits = if actor.uid == self.uid {
            self.mode >> 6
        } else {
            self.mode
        };
        bits & want == want
    }
}

/// A rename, once both names are looked up.
struct Move {
    from_dir: u64,
    from_name: String,
    /// What `from_name` holds.
    ino: u64,
    to_dir: u64,
    to_name: String,
    /// What `to_name` holds, if anything.
    victim: Option<u64>,
    /// A name ended with `/`: the source must be a directory.
    must_dir: bool,
}

/// The result of resolving a path: the directory holding the last component, its name
/// (`None` when the path ends at `/` or `..`), and what that name leads to.
struct Lookup {
    parent: u64,
    name: Option<String>,
    ino: Option<u64>,
    /// The path ended with `/` (or `/.`): it must be a directory.
    must_dir: bool,
}

pub(crate) struct State {
    pub(crate) inodes: BTreeMap<u64, Inode>,
    next_ino: u64,
    pub(crate) seed: u64,
    rng: u64,
    pub(crate) clock: Duration,
    pub(crate) umask: u32,
    pub(crate) faults: Vec<ArmedFault>,
    pub(crate) trace: Vec<String>,
    pub(crate) protected_symlinks: bool,
    pub(crate) symlinks_followed: u64,
    /// The device the next [`create_device_dir`](State::create_device_dir) gets.
    next_dev: u64,
}

/// One step of splitmix64 (Steele, Lea, Flood 2014): tiny, seedable, well mixed.
pub(crate) fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The components of a path, without empty ones and `.`.
fn components(path: &str) -> impl DoubleEndedIterator<Item = &str> {
    path.split(is_separator)
        .filter(|c| !c.is_empty() && *c != ".")
}

/// `dir/name`, with `/` on every platform: the paths of this filesystem are POSIX paths
/// (`Utf8Path::join` would put `\` between them on Windows).
pub(crate) fn join(dir: &Utf8Path, name: impl AsRef<str>) -> Utf8PathBuf {
    let dir = dir.as_str().trim_end_matches('/');
    Utf8PathBuf::from(format!("{dir}/{}", name.as_ref()))
}

/// Whether `c` separates path components: `/`, and on Windows also `\`, which
/// `Utf8Path::join` puts between the names callers join onto this filesystem's paths.
pub(crate) fn is_separator(c: char) -> bool {
    c == '/' || (cfg!(windows) && c == '\\')
}

/// Checks a name given to a handle-relative operation: one component.
fn check_name(name: &str) -> Result<(), Errno> {
    if name.is_empty() {
        Err(Errno::ENOENT)
    } else if name.contains('\0') || name.contains(is_separator) || name == "." || name == ".." {
        Err(Errno::EINVAL)
    } else if name.len() > NAME_MAX {
        Err(Errno::ENAMETOOLONG)
    } else {
        Ok(())
    }
}

impl State {
    pub(crate) fn new(seed: u64, start: Duration) -> State {
        let mut state = State {
            inodes: BTreeMap::new(),
            next_ino: ROOT_INO,
            seed,
            rng: seed,
            clock: start,
            umask: 0o022,
            faults: Vec::new(),
            trace: Vec::new(),
            protected_symlinks: true,
            symlinks_followed: 0,
            next_dev: DEV + 1,
        };
        let root = state.alloc(
            Node::Dir {
                entries: BTreeMap::new(),
                parent: ROOT_INO,
            },
            0o755,
            0,
        );
        debug_assert_eq!(root, ROOT_INO);
        // `/` has no entry naming it: its `.` and its own `..` are its two links.
        state.inode_mut(ROOT_INO).nlink = 2;
        let tmp = state.alloc(
            Node::Dir {
                entries: BTreeMap::new(),
                parent: ROOT_INO,
            },
            0o1777,
            0,
        );
        state.attach(ROOT_INO, "tmp".to_owned(), tmp);
        state
    }

    pub(crate) fn next_random(&mut self) -> u64 {
        splitmix64(&mut self.rng)
    }

    pub(crate) fn peek_random(&self, n: usize) -> Vec<u64> {
        let mut rng = self.rng;
        (0..n).map(|_| splitmix64(&mut rng)).collect()
    }

    pub(crate) fn inode(&self, ino: u64) -> &Inode {
        self.inodes
            .get(&ino)
            .expect("inode referenced by an entry or a handle exists")
    }

    fn inode_mut(&mut self, ino: u64) -> &mut Inode {
        self.inodes
            .get_mut(&ino)
            .expect("inode referenced by an entry or a handle exists")
    }

    /// A new inode with every time set to now, not linked anywhere yet.
    fn alloc(&mut self, node: Node, mode: u32, uid: u32) -> u64 {
        let ino = self.next_ino;
        self.next_ino += 1;
        let now = self.clock;
        self.inodes.insert(
            ino,
            Inode {
                node,
                mode: mode & 0o7777,
                uid,
                nlink: 0,
                atime: now,
                mtime: now,
                ctime: now,
                btime: now,
                refs: 0,
                shared_locks: 0,
                dev: DEV,
            },
        );
        ino
    }

    /// A new inode on the device of the directory `parent`, where it is about to be made.
    fn alloc_in(&mut self, parent: u64, node: Node, mode: u32, uid: u32) -> u64 {
        let dev = self.inode(parent).dev;
        let ino = self.alloc(node, mode, uid);
        self.inode_mut(ino).dev = dev;
        ino
    }

    /// Links `ino` as `name` in `dir`, keeping link counts as Linux does (a directory
    /// counts its own `.` and its entry, and adds one to its parent for `..`).
    fn attach(&mut self, dir: u64, name: String, ino: u64) {
        let subdirs = self.inode(ino).entries().map(|entries| {
            entries
                .values()
                .filter(|child| self.inode(**child).is_dir())
                .count() as u64
        });
        let is_dir = subdirs.is_some();
        let now = self.clock;
        let inode = self.inode_mut(ino);
        match (&mut inode.node, subdirs) {
            (Node::Dir { parent, .. }, Some(subdirs)) => {
                *parent = dir;
                inode.nlink = 2 + subdirs;
            }
            _ => inode.nlink += 1,
        }
        let parent = self.inode_mut(dir);
        parent
            .entries_mut()
            .expect("attach into a directory")
            .insert(name, ino);
        if is_dir {
            parent.nlink += 1;
        }
        parent.mtime = now;
        parent.ctime = now;
    }

    /// Unlinks `name` from `dir`: the inode loses the link (a directory all of them), and
    /// is freed when nothing names or holds it any more.
    fn detach(&mut self, dir: u64, name: &str) {
        let now = self.clock;
        let parent = self.inode_mut(dir);
        let ino = parent
            .entries_mut()
            .expect("detach from a directory")
            .remove(name)
            .expect("detached entry exists");
        parent.mtime = now;
        parent.ctime = now;
        let inode = self.inode_mut(ino);
        inode.ctime = now;
        if inode.is_dir() {
            inode.nlink = 0;
            self.inode_mut(dir).nlink -= 1;
        } else {
            inode.nlink -= 1;
        }
        self.free_if_unused(ino);
    }

    fn free_if_unused(&mut self, ino: u64) {
        let inode = self.inode(ino);
        if inode.nlink == 0 && inode.refs == 0 {
            self.inodes.remove(&ino);
        }
    }

    /// A handle now refers to `ino`.
    pub(crate) fn retain(&mut self, ino: u64) {
        self.inode_mut(ino).refs += 1;
    }

    /// A handle to `ino` was closed, releasing its `flock` if it held one.
    pub(crate) fn release(&mut self, ino: u64, held_lock: bool) {
        let inode = self.inode_mut(ino);
        inode.refs -= 1;
        if held_lock {
            inode.shared_locks -= 1;
        }
        self.free_if_unused(ino);
    }

    /// relatime, as Linux mounts by default: atime moves when it is not newer than mtime
    /// or ctime, or is a day old.
    pub(crate) fn accessed(&mut self, ino: u64, actor: Actor) {
        if actor.noatime {
            return;
        }
        let now = self.clock;
        let inode = self.inode_mut(ino);
        if inode.atime <= inode.mtime
            || inode.atime <= inode.ctime
            || now.saturating_sub(inode.atime) >= RELATIME_WINDOW
        {
            inode.atime = now;
        }
    }

    pub(crate) fn modified(&mut self, ino: u64) {
        let now = self.clock;
        let inode = self.inode_mut(ino);
        inode.mtime = now;
        inode.ctime = now;
    }

    pub(crate) fn metadata(&self, ino: u64) -> MemoryMetadata {
        let inode = self.inode(ino);
        let len = match &inode.node {
            Node::File(data) => data.len() as u64,
            Node::Dir { .. } => DIR_SIZE,
            Node::Symlink(target) => target.as_str().len() as u64,
            Node::Special => 0,
        };
        MemoryMetadata {
            kind: inode.kind(),
            mode: inode.mode,
            uid: inode.uid,
            len,
            ino,
            dev: inode.dev,
            nlink: inode.nlink,
            atime: inode.atime,
            mtime: inode.mtime,
            ctime: inode.ctime,
            btime: inode.btime,
        }
    }

    pub(crate) fn meta(&self, ino: u64) -> Meta {
        let inode = self.inode(ino);
        Meta {
            id: FileId {
                dev: inode.dev,
                ino,
            },
            kind: inode.kind(),
            nlink: inode.nlink,
            uid: Some(inode.uid),
            mode: Some(inode.mode),
        }
    }

    /// The content of a regular file; `None` for a special file, which holds none.
    pub(crate) fn file_data(&mut self, ino: u64) -> Option<&mut Vec<u8>> {
        match &mut self.inode_mut(ino).node {
            Node::File(data) => Some(data),
            Node::Special => None,
            _ => unreachable!("file handles refer to regular or special files"),
        }
    }

    // ---- permission rules ----

    /// `fs.protected_symlinks`: in a sticky world-writable directory, a symlink is followed
    /// only by its owner or when the directory's owner owns it. Root is not exempt.
    fn may_follow(&self, dir: u64, link: u64, actor: Actor) -> Result<(), Errno> {
        if !self.protected_symlinks {
            return Ok(());
        }
        let dir = self.inode(dir);
        let link = self.inode(link);
        let sticky_public = dir.mode & S_ISVTX != 0 && dir.mode & 0o002 != 0;
        if !sticky_public || actor.uid == link.uid || dir.uid == link.uid {
            Ok(())
        } else {
            Err(Errno::EACCES)
        }
    }

    /// Adding an entry to `dir`: write and search permission, and a directory that still
    /// exists (creating in a removed directory is `ENOENT` on Linux).
    fn may_create_in(&self, dir: u64, actor: Actor) -> Result<(), Errno> {
        let inode = self.inode(dir);
        if !inode.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        if inode.nlink == 0 {
            return Err(Errno::ENOENT);
        }
        if !inode.allows(actor, W | X) {
            return Err(Errno::EACCES);
        }
        Ok(())
    }

    /// Removing (or renaming away) `victim` from `dir`: write and search permission, and
    /// in a sticky directory only the entry's owner, the directory's owner or root.
    fn may_delete(&self, dir: u64, victim: u64, actor: Actor) -> Result<(), Errno> {
        let parent = self.inode(dir);
        if !parent.allows(actor, W | X) {
            return Err(Errno::EACCES);
        }
        let sticky = parent.mode & S_ISVTX != 0;
        if sticky
            && actor.uid != 0
            && actor.uid != parent.uid
            && actor.uid != self.inode(victim).uid
        {
            return Err(Errno::EPERM);
        }
        Ok(())
    }

    /// Only the owner (or root) may chmod, or set times to anything but now.
    fn may_change_attributes(&self, ino: u64, actor: Actor) -> Result<(), Errno> {
        if actor.uid == 0 || actor.uid == self.inode(ino).uid {
            Ok(())
        } else {
            Err(Errno::EPERM)
        }
    }

    // ---- path resolution ----

    /// Resolves an absolute path (a relative one is taken from `/`, the only working
    /// directory there is), following symlinks in every component but the last, and in
    /// the last too when `follow_last`.
    fn resolve(
        &mut self,
        actor: Actor,
        path: &Utf8Path,
        follow_last: bool,
    ) -> Result<Lookup, Errno> {
        self.resolve_from(actor, ROOT_INO, path, follow_last)
    }

    /// Resolves `path` as [`resolve`](Self::resolve) does, taking a relative path from
    /// the directory `start` (a handle's, as the `*at` calls do).
    fn resolve_from(
        &mut self,
        actor: Actor,
        start: u64,
        path: &Utf8Path,
        follow_last: bool,
    ) -> Result<Lookup, Errno> {
        let text = path.as_str();
        if text.is_empty() {
            return Err(Errno::ENOENT);
        }
        if text.contains('\0') {
            return Err(Errno::EINVAL);
        }
        if text.len() >= PATH_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        let must_dir = text.ends_with(is_separator)
            || text
                .strip_suffix('.')
                .is_some_and(|rest| rest.ends_with(is_separator))
            || text == ".";
        let mut pending: VecDeque<String> = components(text).map(str::to_owned).collect();
        let mut cur = if text.starts_with(is_separator) {
            ROOT_INO
        } else {
            start
        };
        let mut links = 0;
        loop {
            let Some(component) = pending.pop_front() else {
                return Ok(Lookup {
                    parent: cur,
                    name: None,
                    ino: Some(cur),
                    must_dir: true,
                });
            };
            let last = pending.is_empty();
            let dir = self.inode(cur);
            let Node::Dir { entries, parent } = &dir.node else {
                return Err(Errno::ENOTDIR);
            };
            if !dir.allows(actor, X) {
                return Err(Errno::EACCES);
            }
            if component.len() > NAME_MAX {
                return Err(Errno::ENAMETOOLONG);
            }
            if component == ".." {
                cur = *parent;
                continue;
            }
            let Some(ino) = entries.get(&component).copied() else {
                if last {
                    return Ok(Lookup {
                        parent: cur,
                        name: Some(component),
                        ino: None,
                        must_dir,
                    });
                }
                return Err(Errno::ENOENT);
            };
            if let Node::Symlink(target) = &self.inode(ino).node
                && (!last || follow_last)
            {
                let target = target.clone();
                links += 1;
                if links > MAX_SYMLINKS {
                    return Err(Errno::ELOOP);
                }
                self.may_follow(cur, ino, actor)?;
                self.symlinks_followed += 1;
                if target.as_str().starts_with(is_separator) {
                    cur = ROOT_INO;
                }
                for part in components(target.as_str()).rev() {
                    pending.push_front(part.to_owned());
                }
                continue;
            }
            if last {
                let lookup = Lookup {
                    parent: cur,
                    name: Some(component),
                    ino: Some(ino),
                    must_dir,
                };
                if must_dir && !self.inode(ino).is_dir() {
                    return Err(Errno::ENOTDIR);
                }
                return Ok(lookup);
            }
            cur = ino;
        }
    }

    /// Resolves a path that must lead to something.
    fn existing(&mut self, actor: Actor, path: &Utf8Path, follow: bool) -> Result<u64, Errno> {
        self.resolve(actor, path, follow)?.ino.ok_or(Errno::ENOENT)
    }

    /// Looks `name` up in the directory `dir` (a handle's), never following anything.
    fn lookup_at(&self, dir: u64, name: &str, actor: Actor) -> Result<Option<u64>, Errno> {
        check_name(name)?;
        let inode = self.inode(dir);
        let entries = inode.entries().ok_or(Errno::ENOTDIR)?;
        if !inode.allows(actor, X) {
            return Err(Errno::EACCES);
        }
        Ok(entries.get(name).copied())
    }

    // ---- outside actors, by path (std::fs semantics) ----

    pub(crate) fn exists(&mut self, actor: Actor, path: &Utf8Path) -> bool {
        self.existing(actor, path, true).is_ok()
    }

    pub(crate) fn stat(
        &mut self,
        actor: Actor,
        path: &Utf8Path,
        follow: bool,
    ) -> Result<MemoryMetadata, Errno> {
        let ino = self.existing(actor, path, follow)?;
        Ok(self.metadata(ino))
    }

    pub(crate) fn read(&mut self, actor: Actor, path: &Utf8Path) -> Result<Vec<u8>, Errno> {
        let ino = self.existing(actor, path, true)?;
        let inode = self.inode(ino);
        if inode.is_dir() {
            return Err(Errno::EISDIR);
        }
        if !inode.allows(actor, R) {
            return Err(Errno::EACCES);
        }
        let Node::File(data) = &inode.node else {
            // A special file holds no data, and no call here blocks.
            return Err(Errno::EAGAIN);
        };
        let data = data.clone();
        self.accessed(ino, actor);
        Ok(data)
    }

    /// `open(O_WRONLY|O_CREAT|O_TRUNC, 0666)` and one write, as `std::fs::write` does:
    /// through symlinks, a dangling one included (its target is created).
    pub(crate) fn write(
        &mut self,
        actor: Actor,
        path: &Utf8Path,
        bytes: &[u8],
    ) -> Result<(), Errno> {
        let lookup = self.resolve(actor, path, true)?;
        match (lookup.ino, lookup.name) {
            (Some(ino), _) => {
                let inode = self.inode(ino);
                if inode.is_dir() {
                    return Err(Errno::EISDIR);
                }
                if !inode.allows(actor, W) {
                    return Err(Errno::EACCES);
                }
                // A special file takes no data, and no call here blocks.
                *self.file_data(ino).ok_or(Errno::EAGAIN)? = bytes.to_vec();
                self.modified(ino);
                Ok(())
            }
            (None, Some(name)) => {
                if lookup.must_dir {
                    return Err(Errno::EISDIR);
                }
                self.may_create_in(lookup.parent, actor)?;
                let mode = 0o666 & !self.umask;
                let ino = self.alloc_in(lookup.parent, Node::File(bytes.to_vec()), mode, actor.uid);
                self.attach(lookup.parent, name, ino);
                Ok(())
            }
            (None, None) => unreachable!("a lookup without a name ends at a directory"),
        }
    }

    pub(crate) fn create_dir(
        &mut self,
        actor: Actor,
        path: &Utf8Path,
        mode: u32,
    ) -> Result<(), Errno> {
        let lookup = self.resolve(actor, path, false)?;
        let (None, Some(name)) = (lookup.ino, lookup.name) else {
            return Err(Errno::EEXIST);
        };
        self.may_create_in(lookup.parent, actor)?;
        let ino = self.alloc_in(
            lookup.parent,
            Node::Dir {
                entries: BTreeMap::new(),
                parent: lookup.parent,
            },
            mode,
            actor.uid,
        );
        self.attach(lookup.parent, name, ino);
        Ok(())
    }

    /// `create_dir`, with the new directory the root of a device of its own, as if a
    /// filesystem were mounted there: what is made under it is on that device, and a
    /// rename or a hard link between it and anywhere else is `EXDEV`. Returns the device.
    pub(crate) fn create_device_dir(
        &mut self,
        actor: Actor,
        path: &Utf8Path,
        mode: u32,
    ) -> Result<u64, Errno> {
        self.create_dir(actor, path, mode)?;
        let ino = self.existing(actor, path, false)?;
        let dev = self.next_dev;
        self.next_dev += 1;
        self.inode_mut(ino).dev = dev;
        Ok(dev)
    }

    pub(crate) fn default_dir_mode(&self) -> u32 {
        0o777 & !self.umask
    }

    /// `mkfifo(path, 0666)`: the umask applies, and a final symlink is not followed.
    pub(crate) fn mkfifo(&mut self, actor: Actor, path: &Utf8Path) -> Result<(), Errno> {
        let lookup = self.resolve(actor, path, false)?;
        let (None, Some(name)) = (lookup.ino, lookup.name) else {
            return Err(Errno::EEXIST);
        };
        if lookup.must_dir {
            return Err(Errno::ENOENT);
        }
        self.may_create_in(lookup.parent, actor)?;
        let ino = self.alloc_in(lookup.parent, Node::Special, 0o666 & !self.umask, actor.uid);
        self.attach(lookup.parent, name, ino);
        Ok(())
    }

    pub(crate) fn remove_file(&mut self, actor: Actor, path: &Utf8Path) -> Result<(), Errno> {
        let lookup = self.resolve(actor, path, false)?;
        let ino = lookup.ino.ok_or(Errno::ENOENT)?;
        let Some(name) = lookup.name else {
            return Err(Errno::EISDIR);
        };
        self.unlink_entry(actor, lookup.parent, &name, ino)
    }

    /// `unlink`: permission first, then the kind, as Linux's `may_delete` orders them.
    fn unlink_entry(&mut self, actor: Actor, dir: u64, name: &str, ino: u64) -> Result<(), Errno> {
        self.may_delete(dir, ino, actor)?;
        if self.inode(ino).is_dir() {
            return Err(Errno::EISDIR);
        }
        self.detach(dir, name);
        Ok(())
    }

    pub(crate) fn remove_dir(&mut self, actor: Actor, path: &Utf8Path) -> Result<(), Errno> {
        let lookup = self.resolve(actor, path, false)?;
        let ino = lookup.ino.ok_or(Errno::ENOENT)?;
        let Some(name) = lookup.name else {
            return Err(Errno::EBUSY);
        };
        self.rmdir_entry(actor, lookup.parent, &name, ino)
    }

    /// `rmdir`: permission first, then the kind, then emptiness, as Linux checks them (an
    /// attacker learns nothing about a directory it may not remove).
    fn rmdir_entry(&mut self, actor: Actor, dir: u64, name: &str, ino: u64) -> Result<(), Errno> {
        self.may_delete(dir, ino, actor)?;
        let entries = self.inode(ino).entries().ok_or(Errno::ENOTDIR)?;
        if !entries.is_empty() {
            return Err(Errno::ENOTEMPTY);
        }
        self.detach(dir, name);
        Ok(())
    }

    /// `rename(2)`: replaces the destination when the kinds agree, never follows a symlink.
    pub(crate) fn rename(
        &mut self,
        actor: Actor,
        from: &Utf8Path,
        to: &Utf8Path,
    ) -> Result<(), Errno> {
        let source = self.resolve(actor, from, false)?;
        let src = source.ino.ok_or(Errno::ENOENT)?;
        let dest = self.resolve(actor, to, false)?;
        let (Some(src_name), Some(dest_name)) = (source.name, dest.name) else {
            return Err(Errno::EBUSY);
        };
        self.move_entry(
            actor,
            Move {
                from_dir: source.parent,
                from_name: src_name,
                ino: src,
                to_dir: dest.parent,
                to_name: dest_name,
                victim: dest.ino,
                must_dir: source.must_dir || dest.must_dir,
            },
        )
    }

    /// What `rename(2)` and `renameat2(2)` do once both names are looked up: the
    /// permission and kind checks, then the move.
    fn move_entry(&mut self, actor: Actor, m: Move) -> Result<(), Errno> {
        let Move {
            from_dir,
            from_name,
            ino: src,
            to_dir,
            to_name,
            victim,
            must_dir,
        } = m;
        // Two mounts are two filesystems: checked first, as Linux does.
        if self.inode(from_dir).dev != self.inode(to_dir).dev {
            return Err(Errno::EXDEV);
        }
        if victim == Some(src) {
            return Ok(());
        }
        let src_is_dir = self.inode(src).is_dir();
        if !src_is_dir && must_dir {
            return Err(Errno::ENOTDIR);
        }
        self.may_delete(from_dir, src, actor)?;
        match victim {
            Some(victim) => self.may_delete(to_dir, victim, actor)?,
            None => self.may_create_in(to_dir, actor)?,
        }
        if let Some(victim) = victim {
            match (src_is_dir, self.inode(victim).entries()) {
                (true, None) => return Err(Errno::ENOTDIR),
                (false, Some(_)) => return Err(Errno::EISDIR),
                (true, Some(entries)) if !entries.is_empty() => return Err(Errno::ENOTEMPTY),
                _ => {}
            }
        }
        if src_is_dir {
            // A directory cannot move into itself or below itself.
            let mut up = to_dir;
            loop {
                if up == src {
                    return Err(Errno::EINVAL);
                }
                if up == ROOT_INO {
                    break;
                }
                up = match self.inode(up).node {
                    Node::Dir { parent, .. } => parent,
                    _ => unreachable!("parents are directories"),
                };
            }
            // Moving it elsewhere rewrites its `..`, which needs write permission on it.
            if from_dir != to_dir && !self.inode(src).allows(actor, W) {
                return Err(Errno::EACCES);
            }
        }
        if victim.is_some() {
            self.detach(to_dir, &to_name);
        }
        // Keep the inode alive between detach and attach.
        self.retain(src);
        self.detach(from_dir, &from_name);
        self.attach(to_dir, to_name, src);
        self.inode_mut(src).refs -= 1;
        let now = self.clock;
        self.inode_mut(src).ctime = now;
        Ok(())
    }

    pub(crate) fn symlink(
        &mut self,
        actor: Actor,
        target: &Utf8Path,
        link: &Utf8Path,
    ) -> Result<(), Errno> {
        if target.as_str().is_empty() {
            return Err(Errno::ENOENT);
        }
        let lookup = self.resolve(actor, link, false)?;
        let (None, Some(name)) = (lookup.ino, lookup.name) else {
            return Err(Errno::EEXIST);
        };
        self.may_create_in(lookup.parent, actor)?;
        let ino = self.alloc_in(
            lookup.parent,
            Node::Symlink(target.to_owned()),
            0o777,
            actor.uid,
        );
        self.attach(lookup.parent, name, ino);
        Ok(())
    }

    /// `link(2)` as `std::fs::hard_link` makes it: the source is not followed.
    pub(crate) fn hard_link(
        &mut self,
        actor: Actor,
        original: &Utf8Path,
        link: &Utf8Path,
    ) -> Result<(), Errno> {
        let src = self.existing(actor, original, false)?;
        if self.inode(src).is_dir() {
            return Err(Errno::EPERM);
        }
        let lookup = self.resolve(actor, link, false)?;
        let (None, Some(name)) = (lookup.ino, lookup.name) else {
            return Err(Errno::EEXIST);
        };
        if self.inode(lookup.parent).dev != self.inode(src).dev {
            return Err(Errno::EXDEV);
        }
        self.may_create_in(lookup.parent, actor)?;
        self.attach(lookup.parent, name, src);
        let now = self.clock;
        self.inode_mut(src).ctime = now;
        Ok(())
    }

    pub(crate) fn read_link(
        &mut self,
        actor: Actor,
        path: &Utf8Path,
    ) -> Result<Utf8PathBuf, Errno> {
        let ino = self.existing(actor, path, false)?;
        match &self.inode(ino).node {
            Node::Symlink(target) => Ok(target.clone()),
            _ => Err(Errno::EINVAL),
        }
    }

    pub(crate) fn read_dir(&mut self, actor: Actor, path: &Utf8Path) -> Result<Vec<String>, Errno> {
        let ino = self.existing(actor, path, true)?;
        self.list_inode(ino, actor)
    }

    /// `getdents`: needs read permission, and reading a directory is an access.
    fn list_inode(&mut self, ino: u64, actor: Actor) -> Result<Vec<String>, Errno> {
        let inode = self.inode(ino);
        let entries = inode.entries().ok_or(Errno::ENOTDIR)?;
        if !inode.allows(actor, R) {
            return Err(Errno::EACCES);
        }
        let names = entries.keys().cloned().collect();
        self.accessed(ino, actor);
        Ok(names)
    }

    /// `chmod`, which follows symlinks as `std::fs::set_permissions` does.
    pub(crate) fn set_permissions(
        &mut self,
        actor: Actor,
        path: &Utf8Path,
        mode: u32,
    ) -> Result<(), Errno> {
        let ino = self.existing(actor, path, true)?;
        self.chmod(actor, ino, mode)
    }

    /// Sets the permission bits of `ino`, which is a status change: owner or root only.
    pub(crate) fn chmod(&mut self, actor: Actor, ino: u64, mode: u32) -> Result<(), Errno> {
        self.may_change_attributes(ino, actor)?;
        let now = self.clock;
        let inode = self.inode_mut(ino);
        inode.mode = mode & 0o7777;
        inode.ctime = now;
        Ok(())
    }

    /// `utimensat(AT_SYMLINK_NOFOLLOW)` with explicit times: owner or root only, and the
    /// change itself is a status change.
    pub(crate) fn set_times(
        &mut self,
        actor: Actor,
        path: &Utf8Path,
        atime: Duration,
        mtime: Duration,
    ) -> Result<(), Errno> {
        let ino = self.existing(actor, path, false)?;
        self.may_change_attributes(ino, actor)?;
        let now = self.clock;
        let inode = self.inode_mut(ino);
        inode.atime = atime;
        inode.mtime = mtime;
        inode.ctime = now;
        Ok(())
    }

    /// systemd-tmpfiles' `open(O_RDONLY|O_NOFOLLOW|O_NOATIME)` + `flock(LOCK_EX|LOCK_NB)`,
    /// released at once when taken.
    pub(crate) fn try_lock_exclusive(
        &mut self,
        actor: Actor,
        path: &Utf8Path,
    ) -> Result<bool, Errno> {
        let ino = self.existing(actor, path, false)?;
        let inode = self.inode(ino);
        if let Node::Symlink(_) = inode.node {
            return Err(Errno::ELOOP);
        }
        if !inode.allows(actor, R) {
            return Err(Errno::EACCES);
        }
        Ok(inode.shared_locks == 0)
    }

    /// The path of the directory `ino` from `/`, through its parents: the real path of a
    /// root opened through symlinks, as `realpath` would give it.
    pub(crate) fn dir_path(&self, mut ino: u64) -> Utf8PathBuf {
        let mut parts = Vec::new();
        while ino != ROOT_INO {
            let Node::Dir { parent, .. } = &self.inode(ino).node else {
                break;
            };
            let parent = *parent;
            let name = self
                .inode(parent)
                .entries()
                .and_then(|entries| entries.iter().find(|&(_, &child)| child == ino))
                .map(|(name, _)| name.clone());
            match name {
                Some(name) => parts.push(name),
                None => break,
            }
            ino = parent;
        }
        parts
            .iter()
            .rev()
            .fold(Utf8PathBuf::from("/"), |path, name| join(&path, name))
    }

    /// Opens the directory a backend is rooted at, as `open_ambient_dir` does: following
    /// symlinks, with read permission.
    pub(crate) fn open_root(&mut self, actor: Actor, path: &Utf8Path) -> Result<u64, Errno> {
        let ino = self.existing(actor, path, true)?;
        let inode = self.inode(ino);
        if !inode.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        if !inode.allows(actor, R) {
            return Err(Errno::EACCES);
        }
        self.retain(ino);
        Ok(ino)
    }

    // ---- backend operations, relative to a handle ----

    /// `mkdirat(root, name, mode)`: the umask applies (set-id bits are dropped, as
    /// Linux's `mkdir` does), and anything at the name, a symlink included, is `EEXIST`.
    pub(crate) fn make_dir_at(
        &mut self,
        actor: Actor,
        root: u64,
        name: &str,
        mode: u32,
    ) -> Result<(), Errno> {
        if self.lookup_at(root, name, actor)?.is_some() {
            return Err(Errno::EEXIST);
        }
        self.may_create_in(root, actor)?;
        let ino = self.alloc_in(
            root,
            Node::Dir {
                entries: BTreeMap::new(),
                parent: root,
            },
            mode & 0o1777 & !self.umask,
            actor.uid,
        );
        self.attach(root, name.to_owned(), ino);
        Ok(())
    }

    /// `fchmodat(root, name, mode, 0)`: a symlink at the name is followed, as Linux's
    /// `fchmodat` without flags does (`fs.protected_symlinks` included).
    pub(crate) fn set_mode_at(
        &mut self,
        actor: Actor,
        root: u64,
        name: &str,
        mode: u32,
    ) -> Result<(), Errno> {
        check_name(name)?;
        let ino = self
            .resolve_from(actor, root, Utf8Path::new(name), true)?
            .ino
            .ok_or(Errno::ENOENT)?;
        self.chmod(actor, ino, mode)
    }

    /// `openat(root, name, O_RDONLY|O_DIRECTORY|O_NOFOLLOW)`: the kind is checked before
    /// the read permission, as Linux orders them. Returns the directory, retained for the
    /// handle.
    pub(crate) fn open_dir_at(
        &mut self,
        actor: Actor,
        root: u64,
        name: &str,
    ) -> Result<u64, Errno> {
        let ino = self.lookup_at(root, name, actor)?.ok_or(Errno::ENOENT)?;
        let inode = self.inode(ino);
        match inode.node {
            Node::Symlink(_) => return Err(Errno::ELOOP),
            Node::Dir { .. } => {}
            _ => return Err(Errno::ENOTDIR),
        }
        if !inode.allows(actor, R) {
            return Err(Errno::EACCES);
        }
        self.retain(ino);
        Ok(ino)
    }

    /// `renameat2(root, from, root, to, RENAME_NOREPLACE)`: anything at `to` is `EEXIST`,
    /// checked before the sticky and write permissions, as Linux does; then what
    /// `rename(2)` checks.
    pub(crate) fn rename_at(
        &mut self,
        actor: Actor,
        root: u64,
        from: &str,
        to: &str,
    ) -> Result<(), Errno> {
        let src = self.lookup_at(root, from, actor)?.ok_or(Errno::ENOENT)?;
        if self.lookup_at(root, to, actor)?.is_some() {
            return Err(Errno::EEXIST);
        }
        self.move_entry(
            actor,
            Move {
                from_dir: root,
                from_name: from.to_owned(),
                ino: src,
                to_dir: root,
                to_name: to.to_owned(),
                victim: None,
                must_dir: false,
            },
        )
    }

    /// `flock(LOCK_SH)` on a handle that does not hold it yet. Nobody holds `LOCK_EX` for
    /// longer than a try, so it always succeeds.
    pub(crate) fn lock_shared(&mut self, ino: u64) {
        self.inode_mut(ino).shared_locks += 1;
    }

    /// `fstatat(dir, name, AT_SYMLINK_NOFOLLOW)`, with `None` for nothing there.
    pub(crate) fn entry_at(
        &mut self,
        actor: Actor,
        dir: u64,
        name: &str,
    ) -> Result<Option<Meta>, Errno> {
        Ok(self.lookup_at(dir, name, actor)?.map(|ino| self.meta(ino)))
    }

    pub(crate) fn remove_dir_at(
        &mut self,
        actor: Actor,
        root: u64,
        name: &str,
    ) -> Result<(), Errno> {
        let ino = self.lookup_at(root, name, actor)?.ok_or(Errno::ENOENT)?;
        self.rmdir_entry(actor, root, name, ino)
    }

    /// `openat(dir, name, O_RDWR|O_CREAT|O_EXCL|O_NOFOLLOW, mode)`: the umask applies, and
    /// anything at the name, a symlink included, is `EEXIST`. Returns the new file,
    /// retained for the handle.
    pub(crate) fn create_file_at(
        &mut self,
        actor: Actor,
        dir: u64,
        name: &str,
        mode: u32,
    ) -> Result<u64, Errno> {
        if self.lookup_at(dir, name, actor)?.is_some() {
            return Err(Errno::EEXIST);
        }
        self.may_create_in(dir, actor)?;
        let ino = self.alloc_in(
            dir,
            Node::File(Vec::new()),
            mode & 0o7777 & !self.umask,
            actor.uid,
        );
        self.attach(dir, name.to_owned(), ino);
        self.retain(ino);
        Ok(ino)
    }

    /// `openat(dir, ".", O_TMPFILE|O_RDWR, mode)`: a regular file on `dir`'s device that
    /// no entry names (link count 0), alive while the handle is; the umask applies, and
    /// the directory must be one the actor may create in and not removed. Returns it,
    /// retained for the handle.
    pub(crate) fn create_unnamed_at(
        &mut self,
        actor: Actor,
        dir: u64,
        mode: u32,
    ) -> Result<u64, Errno> {
        self.may_create_in(dir, actor)?;
        let ino = self.alloc_in(
            dir,
            Node::File(Vec::new()),
            mode & 0o7777 & !self.umask,
            actor.uid,
        );
        self.retain(ino);
        Ok(ino)
    }

    /// `renameat2(from_dir, from, to_dir, to, flags)` between two handles: without
    /// `replace` (`RENAME_NOREPLACE`) anything at `to` is `EEXIST`; otherwise what
    /// `rename(2)` does, `EXDEV` between devices included.
    pub(crate) fn rename_between(
        &mut self,
        actor: Actor,
        (from_dir, from): (u64, &str),
        (to_dir, to): (u64, &str),
        replace: bool,
    ) -> Result<(), Errno> {
        let src = self
            .lookup_at(from_dir, from, actor)?
            .ok_or(Errno::ENOENT)?;
        let victim = self.lookup_at(to_dir, to, actor)?;
        if victim.is_some() && !replace {
            return Err(Errno::EEXIST);
        }
        self.move_entry(
            actor,
            Move {
                from_dir,
                from_name: from.to_owned(),
                ino: src,
                to_dir,
                to_name: to.to_owned(),
                victim,
                must_dir: false,
            },
        )
    }

    /// Opens the directory at `path` as `open_ambient_dir` does (`O_PATH`: search
    /// permission along the way is all it needs), following symlinks. Returns it, retained
    /// for the handle.
    pub(crate) fn open_dir_path(&mut self, actor: Actor, path: &Utf8Path) -> Result<u64, Errno> {
        let ino = self.existing(actor, path, true)?;
        if !self.inode(ino).is_dir() {
            return Err(Errno::ENOTDIR);
        }
        self.retain(ino);
        Ok(ino)
    }

    /// Opens the directory at the relative `path` beneath `root`, as cap-std's sandboxed
    /// open does: symlinks are followed, but what resolves outside `root` is refused with
    /// `EACCES` (cap-std's `PermissionDenied` for an escape). Returns it, retained.
    pub(crate) fn open_dir_beneath(
        &mut self,
        actor: Actor,
        root: u64,
        path: &Utf8Path,
    ) -> Result<u64, Errno> {
        let path = if path.as_str().is_empty() {
            Utf8Path::new(".")
        } else {
            path
        };
        if path.as_str().starts_with(is_separator) {
            return Err(Errno::EACCES);
        }
        let ino = self
            .resolve_from(actor, root, path, true)?
            .ino
            .ok_or(Errno::ENOENT)?;
        if !self.inode(ino).is_dir() {
            return Err(Errno::ENOTDIR);
        }
        let mut up = ino;
        while up != root {
            if up == ROOT_INO {
                return Err(Errno::EACCES);
            }
            up = match self.inode(up).node {
                Node::Dir { parent, .. } => parent,
                _ => unreachable!("parents are directories"),
            };
        }
        self.retain(ino);
        Ok(ino)
    }

    /// `openat(dir, name, O_RDWR|O_NOFOLLOW|O_NONBLOCK)`: a regular file or a special one
    /// (which opens at once, as a FIFO does with `O_NONBLOCK|O_RDWR`). Returns it,
    /// retained for the handle, with its kind.
    pub(crate) fn open_file_at(
        &mut self,
        actor: Actor,
        dir: u64,
        name: &str,
    ) -> Result<(u64, FileKind), Errno> {
        let ino = self.lookup_at(dir, name, actor)?.ok_or(Errno::ENOENT)?;
        let inode = self.inode(ino);
        match inode.node {
            Node::Symlink(_) => return Err(Errno::ELOOP),
            Node::Dir { .. } => return Err(Errno::EISDIR),
            Node::File(_) | Node::Special => {}
        }
        if !inode.allows(actor, R | W) {
            return Err(Errno::EACCES);
        }
        let kind = inode.kind();
        self.retain(ino);
        Ok((ino, kind))
    }

    /// `unlinkat(dir, name, 0)`: never a directory (`EISDIR`, as on Linux).
    pub(crate) fn remove_file_at(
        &mut self,
        actor: Actor,
        dir: u64,
        name: &str,
    ) -> Result<(), Errno> {
        let ino = self.lookup_at(dir, name, actor)?.ok_or(Errno::ENOENT)?;
        self.unlink_entry(actor, dir, name, ino)
    }

    /// `utimensat(dir, name, NULL, AT_SYMLINK_NOFOLLOW)` (`futimens(dir, NULL)` for no
    /// name): both times to now, allowed to the owner, root, or anyone who may write.
    pub(crate) fn touch_at(
        &mut self,
        actor: Actor,
        dir: u64,
        name: Option<&str>,
    ) -> Result<(), Errno> {
        let ino = match name {
            None => dir,
            Some(name) => self.lookup_at(dir, name, actor)?.ok_or(Errno::ENOENT)?,
        };
        let inode = self.inode(ino);
        if actor.uid != inode.uid && !inode.allows(actor, W) {
            return Err(Errno::EACCES);
        }
        let now = self.clock;
        let inode = self.inode_mut(ino);
        inode.atime = now;
        inode.mtime = now;
        inode.ctime = now;
        Ok(())
    }

    pub(crate) fn list_at(&mut self, actor: Actor, dir: u64) -> Result<Vec<String>, Errno> {
        self.list_inode(dir, actor)
    }
}
