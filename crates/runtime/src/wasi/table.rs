//! The descriptor table: what each guest file descriptor stands for.
//!
//! ```text
//!   fd 0        Stdin   the host's stdin, or bytes given to the builder
//!   fd 1, 2     Output  the host's stdout/stderr, an OutputBuffer, or nothing
//!   fd 3 ..     Dir     the pre-opened directories, in the order given
//!   then        File / Dir   what path_open opened, at the lowest free number
//! ```
//!
//! Every file and directory is a cap-std handle: a [`cap_std::fs::Dir`] can
//! only name paths below itself, so a descriptor never reaches anything a
//! pre-opened directory does not contain.

use super::types::{Errno, filetype, rights};
use std::io::{self, IsTerminal as _, Read as _, Write as _};
use std::sync::{Arc, Mutex, MutexGuard};

/// Bytes a guest wrote to stdout or stderr, kept for the host to read
/// (tests compare them with expected output). Clones share the buffer.
#[derive(Clone, Debug, Default)]
pub struct OutputBuffer(Arc<Mutex<Vec<u8>>>);

impl OutputBuffer {
    /// An empty buffer.
    pub fn new() -> OutputBuffer {
        OutputBuffer::default()
    }

    fn lock(&self) -> MutexGuard<'_, Vec<u8>> {
        // A panic while appending leaves the bytes as they were; they are
        // still the best account of the output.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A copy of everything written so far.
    pub fn contents(&self) -> Vec<u8> {
        self.lock().clone()
    }

    fn append(&self, bytes: &[u8]) {
        self.lock().extend_from_slice(bytes);
    }
}

/// Which host stream an inherited output writes to.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum HostStream {
    Stdout,
    Stderr,
}

/// Where the guest's stdout or stderr goes.
#[derive(Clone, Debug)]
pub(crate) enum Output {
    /// Nowhere (the default).
    Discard,
    /// The host process's own stream, flushed after every write so that
    /// the guest's stdout and stderr interleave as it wrote them.
    Inherit(HostStream),
    /// A buffer the host reads afterwards.
    Buffer(OutputBuffer),
}

impl Output {
    /// Writes all of `bytes`.
    pub(crate) fn write(&self, bytes: &[u8]) -> io::Result<()> {
        match self {
            Output::Discard => Ok(()),
            Output::Buffer(buffer) => {
                buffer.append(bytes);
                Ok(())
            }
            Output::Inherit(HostStream::Stdout) => {
                let mut out = io::stdout().lock();
                out.write_all(bytes)?;
                out.flush()
            }
            Output::Inherit(HostStream::Stderr) => {
                let mut out = io::stderr().lock();
                out.write_all(bytes)?;
                out.flush()
            }
        }
    }

    fn is_terminal(&self) -> bool {
        match self {
            Output::Inherit(HostStream::Stdout) => io::stdout().is_terminal(),
            Output::Inherit(HostStream::Stderr) => io::stderr().is_terminal(),
            Output::Discard | Output::Buffer(_) => false,
        }
    }
}

/// Where the guest's stdin comes from.
#[derive(Debug)]
pub(crate) enum Input {
    /// These bytes, then end of file (empty by default).
    Bytes(io::Cursor<Vec<u8>>),
    /// The host process's stdin.
    Inherit,
}

impl Input {
    /// Reads into `buffer`; 0 at end of file.
    pub(crate) fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        match self {
            Input::Bytes(cursor) => cursor.read(buffer),
            Input::Inherit => io::stdin().lock().read(buffer),
        }
    }

    fn is_terminal(&self) -> bool {
        matches!(self, Input::Inherit) && io::stdin().is_terminal()
    }
}

/// A file `path_open` opened.
#[derive(Debug)]
pub(crate) struct OpenFile {
    pub(crate) file: cap_std::fs::File,
    pub(crate) readable: bool,
    pub(crate) writable: bool,
    /// `fdflags` as the guest set them. `APPEND` is carried out here (each
    /// write seeks to the end first) rather than by the host's `O_APPEND`,
    /// so that `fd_fdstat_set_flags` can turn it on and off; `NONBLOCK` is
    /// recorded only (reads of regular files do not block anyway).
    pub(crate) flags: u16,
}

/// A directory: pre-opened (with the name the guest knows it by) or
/// opened below one.
#[derive(Debug)]
pub(crate) struct OpenDir {
    pub(crate) dir: cap_std::fs::Dir,
    pub(crate) preopen_name: Option<String>,
}

/// What a descriptor stands for.
#[derive(Debug)]
pub(crate) enum Descriptor {
    Stdin(Input),
    Output(Output),
    File(OpenFile),
    Dir(OpenDir),
}

impl Descriptor {
    /// `fdstat`'s file type, flags and base rights.
    pub(crate) fn fdstat(&self) -> (u8, u16, u64) {
        let stream_type = |terminal: bool| {
            if terminal {
                filetype::CHARACTER_DEVICE
            } else {
                filetype::UNKNOWN
            }
        };
        match self {
            Descriptor::Stdin(input) => (
                stream_type(input.is_terminal()),
                0,
                rights::STREAM & !rights::FD_WRITE,
            ),
            Descriptor::Output(output) => (
                stream_type(output.is_terminal()),
                0,
                rights::STREAM & !rights::FD_READ,
            ),
            Descriptor::File(file) => {
                let mut base = rights::REGULAR_FILE;
                if !file.readable {
                    base &= !rights::FD_READ;
                }
                if !file.writable {
                    base &= !(rights::FD_WRITE
                        | rights::FD_ALLOCATE
                        | rights::FD_FILESTAT_SET_SIZE
                        | rights::FD_DATASYNC);
                }
                (filetype::REGULAR_FILE, file.flags, base)
            }
            Descriptor::Dir(_) => (filetype::DIRECTORY, 0, rights::DIRECTORY),
        }
    }
}

/// The descriptor table.
#[derive(Debug, Default)]
pub(crate) struct Table {
    slots: Vec<Option<Descriptor>>,
}

impl Table {
    /// Adds `descriptor` at the lowest free number.
    pub(crate) fn push(&mut self, descriptor: Descriptor) -> Result<u32, Errno> {
        let index = match self.slots.iter().position(Option::is_none) {
            Some(free) => {
                self.slots[free] = Some(descriptor);
                free
            }
            None => {
                self.slots.push(Some(descriptor));
                self.slots.len() - 1
            }
        };
        u32::try_from(index).map_err(|_| Errno::Mfile)
    }

    /// The descriptor `fd`; [`Errno::Badf`] if it is not open.
    pub(crate) fn get(&self, fd: u32) -> Result<&Descriptor, Errno> {
        self.slots
            .get(fd as usize)
            .and_then(Option::as_ref)
            .ok_or(Errno::Badf)
    }

    /// The descriptor `fd`, for changing.
    pub(crate) fn get_mut(&mut self, fd: u32) -> Result<&mut Descriptor, Errno> {
        self.slots
            .get_mut(fd as usize)
            .and_then(Option::as_mut)
            .ok_or(Errno::Badf)
    }

    /// The directory `fd`: [`Errno::Badf`] if it is not open,
    /// [`Errno::Notdir`] if it is not a directory.
    pub(crate) fn dir(&self, fd: u32) -> Result<&cap_std::fs::Dir, Errno> {
        match self.get(fd)? {
            Descriptor::Dir(dir) => Ok(&dir.dir),
            _ => Err(Errno::Notdir),
        }
    }

    /// Closes `fd`.
    pub(crate) fn remove(&mut self, fd: u32) -> Result<Descriptor, Errno> {
        self.slots
            .get_mut(fd as usize)
            .and_then(Option::take)
            .ok_or(Errno::Badf)
    }
}
