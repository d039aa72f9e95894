//! A buffered file that reads, writes and seeks: what `mkstemp_file` hands out.

use std::io::{self, Read, Seek, SeekFrom, Write};

const CAPACITY: usize = 8 * 1024;

/// A file with one buffer for both directions, like the `open(fd, "r+")` file object that
/// duplicity's `mkstemp_file` returns.
///
/// The standard library has `BufReader` and `BufWriter` but nothing that does both on one
/// file. Here writes are gathered until the buffer fills, a read or seek comes, or
/// [`flush`](Write::flush) is called; reads fill the buffer ahead, and a write or seek
/// first gives back what was read ahead, so the position the caller sees is always exact.
/// Dropping it writes out what is pending and ignores errors, as `BufWriter` does: call
/// `flush` to see them.
///
/// ```
/// use std::io::{Cursor, Read, Seek, SeekFrom, Write};
/// # mod tempdirs { pub use tempdir_core::*; }
/// use tempdirs::BufFile;
///
/// let mut file = BufFile::new(Cursor::new(Vec::new()));
/// file.write_all(b"hello world")?;
/// file.seek(SeekFrom::Start(6))?;
/// let mut word = String::new();
/// file.read_to_string(&mut word)?;
/// assert_eq!(word, "world");
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct BufFile<F: Read + Write + Seek> {
    /// Always `Some` but inside `into_inner`, which has to move it out of a `Drop` type.
    inner: Option<F>,
    buf: Box<[u8]>,
    /// Reading: `buf[pos..len]` was read ahead. Writing: `buf[..len]` is pending.
    pos: usize,
    len: usize,
    writing: bool,
}

impl<F: Read + Write + Seek> BufFile<F> {
    /// Wraps `inner` with an 8 KiB buffer.
    pub fn new(inner: F) -> Self {
        Self::with_capacity(CAPACITY, inner)
    }

    /// Wraps `inner` with a buffer of `capacity` bytes (at least one).
    pub fn with_capacity(capacity: usize, inner: F) -> Self {
        BufFile {
            inner: Some(inner),
            buf: vec![0; capacity.max(1)].into_boxed_slice(),
            pos: 0,
            len: 0,
            writing: false,
        }
    }

    /// The wrapped file. Its position may differ from this one's while data is buffered.
    pub fn get_ref(&self) -> &F {
        self.inner.as_ref().expect("present until into_inner")
    }

    /// Writes out what is pending, gives back what was read ahead, and returns the file
    /// positioned where this one was.
    ///
    /// # Errors
    ///
    /// The file's own error when writing out or seeking back fails; the data pending then
    /// is lost with this buffer.
    pub fn into_inner(mut self) -> io::Result<F> {
        self.settle()?;
        Ok(self.inner.take().expect("present until into_inner"))
    }

    fn file(&mut self) -> &mut F {
        self.inner.as_mut().expect("present until into_inner")
    }

    /// Writes out pending data (if writing) or rewinds over read-ahead data (if reading).
    fn settle(&mut self) -> io::Result<()> {
        if self.writing {
            self.write_pending()
        } else {
            self.drop_read_ahead()
        }
    }

    fn write_pending(&mut self) -> io::Result<()> {
        let mut done = 0;
        let result = loop {
            if done == self.len {
                break Ok(());
            }
            let (file, buf) = (
                self.inner.as_mut().expect("present until into_inner"),
                &self.buf,
            );
            match file.write(&buf[done..self.len]) {
                Ok(0) => {
                    break Err(io::Error::new(
                        io::ErrorKind::WriteZero,
                        "failed to write the buffered data",
                    ));
                }
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        // Keep what was not written, so that a later flush can retry it.
        self.buf.copy_within(done..self.len, 0);
        self.len -= done;
        if self.len == 0 {
            self.writing = false;
        }
        result
    }

    fn drop_read_ahead(&mut self) -> io::Result<()> {
        let ahead = self.len - self.pos;
        if ahead > 0 {
            self.file().seek(SeekFrom::Current(-(ahead as i64)))?;
        }
        self.pos = 0;
        self.len = 0;
        Ok(())
    }
}

impl<F: Read + Write + Seek> Read for BufFile<F> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.writing {
            self.write_pending()?;
        }
        if self.pos == self.len {
            if out.len() >= self.buf.len() {
                return self.file().read(out);
            }
            let (file, buf) = (
                self.inner.as_mut().expect("present until into_inner"),
                &mut self.buf,
            );
            self.len = file.read(buf)?;
            self.pos = 0;
        }
        let n = out.len().min(self.len - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl<F: Read + Write + Seek> Write for BufFile<F> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if !self.writing {
            self.drop_read_ahead()?;
            self.writing = true;
        }
        if self.len + data.len() > self.buf.len() {
            self.write_pending()?;
        }
        if data.len() >= self.buf.len() {
            return self.file().write(data);
        }
        self.buf[self.len..self.len + data.len()].copy_from_slice(data);
        self.len += data.len();
        self.writing = true;
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.writing {
            self.write_pending()?;
        }
        self.file().flush()
    }
}

impl<F: Read + Write + Seek> Seek for BufFile<F> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        if self.writing {
            self.write_pending()?;
            return self.file().seek(to);
        }
        // Relative seeks are relative to the caller's position, which trails the file's by
        // what was read ahead.
        let ahead = (self.len - self.pos) as i64;
        let to = match to {
            SeekFrom::Current(offset) => {
                SeekFrom::Current(offset.checked_sub(ahead).ok_or_else(|| {
                    io::Error::new(io::ErrorKind::InvalidInput, "seek offset overflows")
                })?)
            }
            absolute => absolute,
        };
        // The read-ahead goes only once the seek succeeded: a failed seek moves nothing.
        let at = self.file().seek(to)?;
        self.pos = 0;
        self.len = 0;
        Ok(at)
    }
}

impl<F: Read + Write + Seek> Drop for BufFile<F> {
    fn drop(&mut self) {
        if self.inner.is_some() && self.writing {
            let _ = self.write_pending();
        }
    }
}

impl<F: Read + Write + Seek + std::fmt::Debug> std::fmt::Debug for BufFile<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BufFile")
            .field("inner", &self.inner)
            .field(
                "buffered",
                &(self.len - if self.writing { 0 } else { self.pos }),
            )
            .field("writing", &self.writing)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;

    #[test]
    fn interleaved_reads_writes_and_seeks_match_an_unbuffered_file() {
        // A small buffer makes every path (fill, spill, direct) run.
        let mut buffered = BufFile::with_capacity(4, Cursor::new(Vec::new()));
        let mut plain = Cursor::new(Vec::new());
        let steps: &[&Step] = &[
            &|f| f.write_all(b"0123456789abcdef").map(|()| 0),
            &|f| f.seek(SeekFrom::Start(2)),
            &|f| read_n(f, 3),
            &|f| f.write_all(b"XY").map(|()| 0),
            &|f| f.seek(SeekFrom::Current(-4)),
            &|f| read_n(f, 9),
            &|f| f.seek(SeekFrom::Current(1)),
            &|f| f.write_all(b"longer than the buffer").map(|()| 0),
            &|f| f.seek(SeekFrom::End(-5)),
            &|f| read_n(f, 100),
            &|f| f.stream_position(),
        ];
        for (i, step) in steps.iter().enumerate() {
            let a = step(&mut buffered).unwrap();
            let b = step(&mut plain).unwrap();
            assert_eq!(a, b, "step {i}");
        }
        let inner = buffered.into_inner().unwrap();
        assert_eq!(inner.get_ref(), plain.get_ref());
        assert_eq!(inner.position(), plain.position());
    }

    #[test]
    fn a_failed_seek_moves_nothing() {
        let mut file = BufFile::new(Cursor::new(b"0123456789".to_vec()));
        let mut one = [0; 1];
        file.read_exact(&mut one).unwrap();
        assert!(file.seek(SeekFrom::Current(-5)).is_err());
        assert!(file.seek(SeekFrom::Current(i64::MIN)).is_err());
        let mut rest = String::new();
        file.read_to_string(&mut rest).unwrap();
        assert_eq!(rest, "123456789");
    }

    #[test]
    fn drop_writes_out_what_is_pending() {
        let mut backing = Vec::new();
        {
            let mut file = BufFile::new(Cursor::new(&mut backing));
            file.write_all(b"kept").unwrap();
        }
        assert_eq!(backing, b"kept");
    }

    type Step = dyn Fn(&mut dyn RwS) -> io::Result<u64>;

    trait RwS: Read + Write + Seek {}
    impl<T: Read + Write + Seek> RwS for T {}

    /// Reads up to `n` bytes and returns a checksum of them, so both sides can be compared.
    fn read_n(f: &mut dyn RwS, n: usize) -> io::Result<u64> {
        let mut got = Vec::new();
        Read::take(f, n as u64).read_to_end(&mut got)?;
        Ok(got
            .iter()
            .fold(got.len() as u64, |h, &b| h.wrapping_mul(31) + u64::from(b)))
    }
}
