//! The types of `wasi_snapshot_preview1` as the guest sees them: error
//! numbers, flags, and the byte layout of the records the functions read
//! and write, as `witx` defines them (little-endian, C alignment).
//!
//! Only what the implemented functions use is here; the names follow the
//! witx definitions (`errno::badf` is [`Errno::Badf`], `oflags::creat` is
//! [`oflags::CREAT`]).

use std::io;

/// `errno`: what every function returns, 0 for success.
///
/// Every value of the witx enum is listed, so that a number's meaning can
/// be read here even for those the implementation never returns.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(u16)]
#[allow(missing_docs, reason = "the witx names are the documentation")]
pub enum Errno {
    Success = 0,
    TooBig = 1,
    Acces = 2,
    Addrinuse = 3,
    Addrnotavail = 4,
    Afnosupport = 5,
    Again = 6,
    Already = 7,
    Badf = 8,
    Badmsg = 9,
    Busy = 10,
    Canceled = 11,
    Child = 12,
    Connaborted = 13,
    Connrefused = 14,
    Connreset = 15,
    Deadlk = 16,
    Destaddrreq = 17,
    Dom = 18,
    Dquot = 19,
    Exist = 20,
    Fault = 21,
    Fbig = 22,
    Hostunreach = 23,
    Idrm = 24,
    Ilseq = 25,
    Inprogress = 26,
    Intr = 27,
    Inval = 28,
    Io = 29,
    Isconn = 30,
    Isdir = 31,
    Loop = 32,
    Mfile = 33,
    Mlink = 34,
    Msgsize = 35,
    Multihop = 36,
    Nametoolong = 37,
    Netdown = 38,
    Netreset = 39,
    Netunreach = 40,
    Nfile = 41,
    Nobufs = 42,
    Nodev = 43,
    Noent = 44,
    Noexec = 45,
    Nolck = 46,
    Nolink = 47,
    Nomem = 48,
    Nomsg = 49,
    Noprotoopt = 50,
    Nospc = 51,
    Nosys = 52,
    Notconn = 53,
    Notdir = 54,
    Notempty = 55,
    Notrecoverable = 56,
    Notsock = 57,
    Notsup = 58,
    Notty = 59,
    Nxio = 60,
    Overflow = 61,
    Ownerdead = 62,
    Perm = 63,
    Pipe = 64,
    Proto = 65,
    Protonosupport = 66,
    Prototype = 67,
    Range = 68,
    Rofs = 69,
    Spipe = 70,
    Srch = 71,
    Stale = 72,
    Timedout = 73,
    Txtbsy = 74,
    Xdev = 75,
    Notcapable = 76,
}

impl Errno {
    /// The number the guest receives.
    pub fn code(self) -> u16 {
        self as u16
    }

    /// The errno for a host I/O error: the host's own error number where
    /// there is one, else by kind.
    ///
    /// cap-std reports an attempt to leave a pre-opened directory (`..`
    /// past its root, an absolute path, a symlink pointing outside) as
    /// `PermissionDenied` without an OS error number; that becomes
    /// [`Errno::Perm`], as in Wasmtime. A real `EACCES` from the host stays
    /// [`Errno::Acces`].
    pub fn from_io(error: &io::Error) -> Errno {
        if let Some(errno) = error.raw_os_error().and_then(Errno::from_host_code) {
            return errno;
        }
        match error.kind() {
            io::ErrorKind::NotFound => Errno::Noent,
            io::ErrorKind::PermissionDenied => Errno::Perm,
            io::ErrorKind::AlreadyExists => Errno::Exist,
            io::ErrorKind::InvalidInput => Errno::Inval,
            io::ErrorKind::IsADirectory => Errno::Isdir,
            io::ErrorKind::NotADirectory => Errno::Notdir,
            io::ErrorKind::DirectoryNotEmpty => Errno::Notempty,
            io::ErrorKind::ReadOnlyFilesystem => Errno::Rofs,
            io::ErrorKind::NotSeekable => Errno::Spipe,
            io::ErrorKind::Unsupported => Errno::Notsup,
            io::ErrorKind::WouldBlock => Errno::Again,
            io::ErrorKind::Interrupted => Errno::Intr,
            io::ErrorKind::BrokenPipe => Errno::Pipe,
            io::ErrorKind::InvalidFilename => Errno::Inval,
            io::ErrorKind::OutOfMemory => Errno::Nomem,
            io::ErrorKind::StorageFull => Errno::Nospc,
            io::ErrorKind::FileTooLarge => Errno::Fbig,
            _ => Errno::Io,
        }
    }

    /// The errno for the host's error number `code` (Linux numbering, from
    /// `libc`), if WASI has one.
    fn from_host_code(code: i32) -> Option<Errno> {
        Some(match code {
            libc::E2BIG => Errno::TooBig,
            libc::EACCES => Errno::Acces,
            libc::EAGAIN => Errno::Again,
            libc::EBADF => Errno::Badf,
            libc::EBUSY => Errno::Busy,
            libc::EDQUOT => Errno::Dquot,
            libc::EEXIST => Errno::Exist,
            libc::EFAULT => Errno::Fault,
            libc::EFBIG => Errno::Fbig,
            libc::EILSEQ => Errno::Ilseq,
            libc::EINTR => Errno::Intr,
            libc::EINVAL => Errno::Inval,
            libc::EIO => Errno::Io,
            libc::EISDIR => Errno::Isdir,
            libc::ELOOP => Errno::Loop,
            libc::EMFILE => Errno::Mfile,
            libc::EMLINK => Errno::Mlink,
            libc::ENAMETOOLONG => Errno::Nametoolong,
            libc::ENFILE => Errno::Nfile,
            libc::ENODEV => Errno::Nodev,
            libc::ENOENT => Errno::Noent,
            libc::ENOMEM => Errno::Nomem,
            libc::ENOSPC => Errno::Nospc,
            libc::ENOSYS => Errno::Nosys,
            libc::ENOTDIR => Errno::Notdir,
            libc::ENOTEMPTY => Errno::Notempty,
            libc::ENOTSUP => Errno::Notsup,
            libc::ENOTTY => Errno::Notty,
            libc::ENXIO => Errno::Nxio,
            libc::EOVERFLOW => Errno::Overflow,
            libc::EPERM => Errno::Perm,
            libc::EPIPE => Errno::Pipe,
            libc::ERANGE => Errno::Range,
            libc::EROFS => Errno::Rofs,
            libc::ESPIPE => Errno::Spipe,
            libc::ETIMEDOUT => Errno::Timedout,
            libc::ETXTBSY => Errno::Txtbsy,
            libc::EXDEV => Errno::Xdev,
            _ => return None,
        })
    }
}

impl From<io::Error> for Errno {
    fn from(error: io::Error) -> Errno {
        Errno::from_io(&error)
    }
}

/// `filetype`.
pub mod filetype {
    /// The type is unknown (a pipe, a captured stream).
    pub const UNKNOWN: u8 = 0;
    /// A block device.
    pub const BLOCK_DEVICE: u8 = 1;
    /// A character device (a terminal).
    pub const CHARACTER_DEVICE: u8 = 2;
    /// A directory.
    pub const DIRECTORY: u8 = 3;
    /// A regular file.
    pub const REGULAR_FILE: u8 = 4;
    /// A datagram socket.
    pub const SOCKET_DGRAM: u8 = 5;
    /// A stream socket.
    pub const SOCKET_STREAM: u8 = 6;
    /// A symbolic link.
    pub const SYMBOLIC_LINK: u8 = 7;
}

/// `fdflags` (`u16`).
pub mod fdflags {
    /// Writes go to the end of the file.
    pub const APPEND: u16 = 1 << 0;
    /// Writes wait for the data (not the metadata) to reach storage.
    pub const DSYNC: u16 = 1 << 1;
    /// Non-blocking mode.
    pub const NONBLOCK: u16 = 1 << 2;
    /// Reads wait for pending writes to reach storage.
    pub const RSYNC: u16 = 1 << 3;
    /// Writes wait for the data and the metadata to reach storage.
    pub const SYNC: u16 = 1 << 4;
}

/// `oflags` (`u16`): how `path_open` opens.
pub mod oflags {
    /// Create the file if it does not exist.
    pub const CREAT: u16 = 1 << 0;
    /// Fail unless it is a directory.
    pub const DIRECTORY: u16 = 1 << 1;
    /// With `CREAT`: fail if it exists.
    pub const EXCL: u16 = 1 << 2;
    /// Truncate it to size 0.
    pub const TRUNC: u16 = 1 << 3;
}

/// `lookupflags` (`u32`).
pub mod lookupflags {
    /// Follow a symbolic link in the last component of the path.
    pub const SYMLINK_FOLLOW: u32 = 1 << 0;
}

/// `rights` (`u64`). Reported by `fd_fdstat_get`; the implementation
/// enforces the access mode a file was opened with (read, write), as POSIX
/// does, not the finer rights (as Wasmtime).
#[allow(missing_docs, reason = "the witx names are the documentation")]
pub mod rights {
    pub const FD_DATASYNC: u64 = 1 << 0;
    pub const FD_READ: u64 = 1 << 1;
    pub const FD_SEEK: u64 = 1 << 2;
    pub const FD_FDSTAT_SET_FLAGS: u64 = 1 << 3;
    pub const FD_SYNC: u64 = 1 << 4;
    pub const FD_TELL: u64 = 1 << 5;
    pub const FD_WRITE: u64 = 1 << 6;
    pub const FD_ADVISE: u64 = 1 << 7;
    pub const FD_ALLOCATE: u64 = 1 << 8;
    pub const PATH_CREATE_DIRECTORY: u64 = 1 << 9;
    pub const PATH_CREATE_FILE: u64 = 1 << 10;
    pub const PATH_LINK_SOURCE: u64 = 1 << 11;
    pub const PATH_LINK_TARGET: u64 = 1 << 12;
    pub const PATH_OPEN: u64 = 1 << 13;
    pub const FD_READDIR: u64 = 1 << 14;
    pub const PATH_READLINK: u64 = 1 << 15;
    pub const PATH_RENAME_SOURCE: u64 = 1 << 16;
    pub const PATH_RENAME_TARGET: u64 = 1 << 17;
    pub const PATH_FILESTAT_GET: u64 = 1 << 18;
    pub const PATH_FILESTAT_SET_SIZE: u64 = 1 << 19;
    pub const PATH_FILESTAT_SET_TIMES: u64 = 1 << 20;
    pub const FD_FILESTAT_GET: u64 = 1 << 21;
    pub const FD_FILESTAT_SET_SIZE: u64 = 1 << 22;
    pub const FD_FILESTAT_SET_TIMES: u64 = 1 << 23;
    pub const PATH_SYMLINK: u64 = 1 << 24;
    pub const PATH_REMOVE_DIRECTORY: u64 = 1 << 25;
    pub const PATH_UNLINK_FILE: u64 = 1 << 26;
    pub const POLL_FD_READWRITE: u64 = 1 << 27;
    pub const SOCK_SHUTDOWN: u64 = 1 << 28;
    pub const SOCK_ACCEPT: u64 = 1 << 29;

    /// What an open regular file reports.
    pub const REGULAR_FILE: u64 = FD_DATASYNC
        | FD_READ
        | FD_SEEK
        | FD_FDSTAT_SET_FLAGS
        | FD_SYNC
        | FD_TELL
        | FD_WRITE
        | FD_ADVISE
        | FD_ALLOCATE
        | FD_FILESTAT_GET
        | FD_FILESTAT_SET_SIZE
        | FD_FILESTAT_SET_TIMES
        | POLL_FD_READWRITE;

    /// What an open directory reports (and passes on to what is opened
    /// below it).
    pub const DIRECTORY: u64 = FD_FDSTAT_SET_FLAGS
        | FD_SYNC
        | FD_ADVISE
        | PATH_CREATE_DIRECTORY
        | PATH_CREATE_FILE
        | PATH_LINK_SOURCE
        | PATH_LINK_TARGET
        | PATH_OPEN
        | FD_READDIR
        | PATH_READLINK
        | PATH_RENAME_SOURCE
        | PATH_RENAME_TARGET
        | PATH_FILESTAT_GET
        | PATH_FILESTAT_SET_SIZE
        | PATH_FILESTAT_SET_TIMES
        | FD_FILESTAT_GET
        | FD_FILESTAT_SET_TIMES
        | PATH_SYMLINK
        | PATH_REMOVE_DIRECTORY
        | PATH_UNLINK_FILE
        | POLL_FD_READWRITE;

    /// What a standard stream reports: no `FD_SEEK` or `FD_TELL`, which
    /// wasi-libc's `isatty` reads as "not a file".
    pub const STREAM: u64 =
        FD_READ | FD_WRITE | FD_FDSTAT_SET_FLAGS | FD_FILESTAT_GET | POLL_FD_READWRITE;
}

/// `whence`: where `fd_seek` counts from.
pub mod whence {
    /// The start of the file.
    pub const SET: u8 = 0;
    /// The current position.
    pub const CUR: u8 = 1;
    /// The end of the file.
    pub const END: u8 = 2;
}

/// `clockid`.
pub mod clockid {
    /// Wall-clock time since 1970-01-01T00:00:00Z.
    pub const REALTIME: u32 = 0;
    /// A clock that never goes back, from an unspecified origin.
    pub const MONOTONIC: u32 = 1;
    /// CPU time of the process.
    pub const PROCESS_CPUTIME_ID: u32 = 2;
    /// CPU time of the calling thread.
    pub const THREAD_CPUTIME_ID: u32 = 3;
}

/// `eventtype`: what a `poll_oneoff` subscription waits for.
pub mod eventtype {
    /// A clock reaching a time.
    pub const CLOCK: u8 = 0;
    /// A descriptor becoming readable.
    pub const FD_READ: u8 = 1;
    /// A descriptor becoming writable.
    pub const FD_WRITE: u8 = 2;
}

/// `subclockflags::subscription_clock_abstime`: the timeout is a time on
/// the clock, not a duration.
pub const SUBSCRIPTION_CLOCK_ABSTIME: u16 = 1;

/// `preopentype::dir`, the only kind of pre-opened resource.
pub const PREOPENTYPE_DIR: u8 = 0;

/// Sizes and field offsets of the records, in bytes.
pub mod layout {
    /// `iovec`/`ciovec`: `buf: u32` at 0, `buf_len: u32` at 4.
    pub const IOVEC_SIZE: u32 = 8;
    /// `fdstat`: `fs_filetype: u8` at 0, `fs_flags: u16` at 2,
    /// `fs_rights_base: u64` at 8, `fs_rights_inheriting: u64` at 16.
    pub const FDSTAT_SIZE: u32 = 24;
    /// `filestat`: `dev` at 0, `ino` at 8, `filetype: u8` at 16, `nlink`
    /// at 24, `size` at 32, `atim` at 40, `mtim` at 48, `ctim` at 56 (all
    /// `u64` but the file type).
    pub const FILESTAT_SIZE: u32 = 64;
    /// `prestat`: `tag: u8` at 0, `pr_name_len: u32` at 4.
    pub const PRESTAT_SIZE: u32 = 8;
    /// `dirent`: `d_next: u64` at 0, `d_ino: u64` at 8, `d_namlen: u32` at
    /// 16, `d_type: u8` at 20; the name follows the 24-byte header.
    pub const DIRENT_SIZE: u32 = 24;
    /// `subscription`: `userdata: u64` at 0, the tag (`eventtype`) at 8,
    /// the body at 16: for a clock `id: u32` at 16, `timeout: u64` at 24,
    /// `precision: u64` at 32, `flags: u16` at 40; for a descriptor
    /// `file_descriptor: u32` at 16.
    pub const SUBSCRIPTION_SIZE: u32 = 48;
    /// `event`: `userdata: u64` at 0, `error: u16` at 8, `type: u8` at 10,
    /// `fd_readwrite.nbytes: u64` at 16, `fd_readwrite.flags: u16` at 24.
    pub const EVENT_SIZE: u32 = 32;
}
