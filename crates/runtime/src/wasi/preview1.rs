//! The functions of `wasi_snapshot_preview1`, and [`add_to_linker`].
//!
//! Each implemented function is a method of [`Call`] (the guest's memory
//! and the [`WasiCtx`] for one call) named as in witx, taking the wasm
//! parameters (`u32` for `i32`, `u64` for `i64`) and returning
//! `Result<(), Errno>`; the tables at the end of the file give every
//! function's wasm signature, so that the host functions are defined with
//! exactly the types programs import.
//!
//! Results are written to guest memory only after the operation succeeded,
//! and every pointer the guest gives is checked before the host acts on
//! it where the act cannot be undone (a read that consumed input, a
//! write), so a bad pointer does not lose data.

use super::guest::{GuestMemory, IoVecArray};
use super::table::{Descriptor, Input, OpenDir, OpenFile};
use super::types::{
    Errno, PREOPENTYPE_DIR, SUBSCRIPTION_CLOCK_ABSTIME, clockid, eventtype, fdflags, filetype,
    layout, lookupflags, oflags, rights, whence,
};
use super::{I32Exit, WasiCtx};
use crate::error::{Error, ErrorKind};
use crate::externals::Extern;
use crate::func::Caller;
use crate::linker::Linker;
use crate::store::Val;
use cap_fs_ext::{
    DirExt as _, FollowSymlinks, OpenOptionsFollowExt as _, OpenOptionsMaybeDirExt as _,
    OpenOptionsSyncExt as _,
};
use cap_std::fs::{FileExt as _, FileTypeExt as _, MetadataExt as _};
use duet_environ::module::{FuncType, ValType};
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::os::unix::ffi::OsStrExt as _;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The import module name of WASI preview 1.
pub const WASI_MODULE: &str = "wasi_snapshot_preview1";

/// One WASI call: the calling instance's memory and the context.
pub(crate) struct Call<'a> {
    memory: GuestMemory<'a>,
    ctx: &'a mut WasiCtx,
}

type Outcome = Result<(), Errno>;

impl From<rustix::io::Errno> for Errno {
    fn from(error: rustix::io::Errno) -> Errno {
        Errno::from_io(&error.into())
    }
}

/// Nanoseconds in a `timespec`, saturating (a clock before 1970 reads 0).
fn timespec_nanos(time: rustix::time::Timespec) -> u64 {
    let nanos = i128::from(time.tv_sec) * 1_000_000_000 + i128::from(time.tv_nsec);
    nanos.clamp(0, i128::from(u64::MAX)) as u64
}

/// Nanoseconds since 1970 of a file time (0 if the host has none).
fn system_time_nanos(time: std::io::Result<SystemTime>) -> u64 {
    time.ok()
        .and_then(|time| time.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |since| {
            u64::try_from(since.as_nanos()).unwrap_or(u64::MAX)
        })
}

/// The host clock behind a WASI clock id.
fn host_clock(id: u32) -> Result<rustix::time::ClockId, Errno> {
    use rustix::time::ClockId;
    Ok(match id {
        clockid::REALTIME => ClockId::Realtime,
        clockid::MONOTONIC => ClockId::Monotonic,
        clockid::PROCESS_CPUTIME_ID => ClockId::ProcessCPUTime,
        clockid::THREAD_CPUTIME_ID => ClockId::ThreadCPUTime,
        _ => return Err(Errno::Inval),
    })
}

/// A file type as `filetype`.
fn filetype_of(ty: cap_std::fs::FileType) -> u8 {
    if ty.is_dir() {
        filetype::DIRECTORY
    } else if ty.is_file() {
        filetype::REGULAR_FILE
    } else if ty.is_symlink() {
        filetype::SYMBOLIC_LINK
    } else if ty.is_block_device() {
        filetype::BLOCK_DEVICE
    } else if ty.is_char_device() {
        filetype::CHARACTER_DEVICE
    } else if ty.is_socket() {
        filetype::SOCKET_STREAM
    } else {
        filetype::UNKNOWN
    }
}

/// A `filestat` record.
fn filestat(metadata: &cap_std::fs::Metadata) -> [u8; layout::FILESTAT_SIZE as usize] {
    let ctime = i128::from(metadata.ctime()) * 1_000_000_000 + i128::from(metadata.ctime_nsec());
    filestat_record(
        metadata.dev(),
        metadata.ino(),
        filetype_of(metadata.file_type()),
        metadata.nlink(),
        metadata.len(),
        system_time_nanos(metadata.accessed().map(cap_std::time::SystemTime::into_std)),
        system_time_nanos(metadata.modified().map(cap_std::time::SystemTime::into_std)),
        ctime.clamp(0, i128::from(u64::MAX)) as u64,
    )
}

#[allow(clippy::too_many_arguments, reason = "the record's fields, in order")]
fn filestat_record(
    dev: u64,
    ino: u64,
    ty: u8,
    nlink: u64,
    size: u64,
    atim: u64,
    mtim: u64,
    ctim: u64,
) -> [u8; layout::FILESTAT_SIZE as usize] {
    let mut record = [0u8; layout::FILESTAT_SIZE as usize];
    record[0..8].copy_from_slice(&dev.to_le_bytes());
    record[8..16].copy_from_slice(&ino.to_le_bytes());
    record[16] = ty;
    record[24..32].copy_from_slice(&nlink.to_le_bytes());
    record[32..40].copy_from_slice(&size.to_le_bytes());
    record[40..48].copy_from_slice(&atim.to_le_bytes());
    record[48..56].copy_from_slice(&mtim.to_le_bytes());
    record[56..64].copy_from_slice(&ctim.to_le_bytes());
    record
}

/// `pointer + offset`, or `EFAULT` past 4 GiB.
fn offset(pointer: u32, offset: u64) -> Result<u32, Errno> {
    u64::from(pointer)
        .checked_add(offset)
        .and_then(|sum| u32::try_from(sum).ok())
        .ok_or(Errno::Fault)
}

/// Checks that every buffer of `iovecs` is inside the memory, so that an
/// I/O operation is not started (and its data lost) before a bad buffer
/// is found. Reads the entries from guest memory one by one (see
/// `guest.rs`: nothing is copied out).
fn check_iovecs(memory: &GuestMemory<'_>, iovecs: IoVecArray) -> Outcome {
    for index in 0..iovecs.len() {
        let iovec = memory.iovec(iovecs, index)?;
        memory.slice(iovec.pointer, iovec.length)?;
    }
    Ok(())
}

/// Reads into the buffers of `iovecs` in turn with `read` (given the
/// buffer and how many bytes the call read before it) until one is not
/// filled; returns the total. An error after some bytes were read ends the
/// call with those bytes, as a short read: the bytes are the guest's now.
///
/// Each entry is read from guest memory just before its buffer is used, so
/// a read that overwrote later entries (the guest's buffers overlapping
/// its array) is followed with the entries as they now are; one that has
/// become out of bounds ends the call like an I/O error.
fn read_iovecs(
    memory: &mut GuestMemory<'_>,
    iovecs: IoVecArray,
    mut read: impl FnMut(&mut [u8], u64) -> Result<usize, Errno>,
) -> Result<u32, Errno> {
    check_iovecs(memory, iovecs)?;
    let mut total: u32 = 0;
    for index in 0..iovecs.len() {
        let step = memory.iovec(iovecs, index).and_then(|iovec| {
            let buffer = memory.slice_mut(iovec.pointer, iovec.length)?;
            if buffer.is_empty() {
                return Ok(None);
            }
            let wanted = buffer.len();
            read(buffer, u64::from(total)).map(|n| Some((n, wanted)))
        });
        match step {
            Ok(None) => {}
            Ok(Some((n, wanted))) => {
                total = total.saturating_add(n as u32);
                if n < wanted {
                    break;
                }
            }
            Err(_) if total > 0 => break,
            Err(errno) => return Err(errno),
        }
    }
    Ok(total)
}

/// As [`read_iovecs`], writing the buffers out with `write`.
fn write_iovecs(
    memory: &GuestMemory<'_>,
    iovecs: IoVecArray,
    mut write: impl FnMut(&[u8], u64) -> Result<usize, Errno>,
) -> Result<u32, Errno> {
    check_iovecs(memory, iovecs)?;
    let mut total: u32 = 0;
    for index in 0..iovecs.len() {
        let step = memory.iovec(iovecs, index).and_then(|iovec| {
            let buffer = memory.slice(iovec.pointer, iovec.length)?;
            if buffer.is_empty() {
                return Ok(None);
            }
            write(buffer, u64::from(total)).map(|n| Some((n, buffer.len())))
        });
        match step {
            Ok(None) => {}
            Ok(Some((n, wanted))) => {
                total = total.saturating_add(n as u32);
                if n < wanted {
                    break;
                }
            }
            Err(_) if total > 0 => break,
            Err(errno) => return Err(errno),
        }
    }
    Ok(total)
}

/// The file behind `fd` for positioned I/O and seeking: streams cannot
/// seek (`ESPIPE`), directories are not files (`EBADF`).
fn seekable(descriptor: &Descriptor) -> Result<&OpenFile, Errno> {
    match descriptor {
        Descriptor::File(file) => Ok(file),
        Descriptor::Stdin(_) | Descriptor::Output(_) => Err(Errno::Spipe),
        Descriptor::Dir(_) => Err(Errno::Badf),
    }
}

/// A `u32` parameter that witx declares narrower (`u16` flags, `u8`
/// enums): `EINVAL` if it does not fit.
fn narrow<N: TryFrom<u32>>(value: u32) -> Result<N, Errno> {
    N::try_from(value).map_err(|_| Errno::Inval)
}

/// One event `poll_oneoff` reports.
struct Event {
    userdata: u64,
    error: Errno,
    ty: u8,
    nbytes: u64,
}

impl Event {
    fn record(&self) -> [u8; layout::EVENT_SIZE as usize] {
        let mut record = [0u8; layout::EVENT_SIZE as usize];
        record[0..8].copy_from_slice(&self.userdata.to_le_bytes());
        record[8..10].copy_from_slice(&self.error.code().to_le_bytes());
        record[10] = self.ty;
        record[16..24].copy_from_slice(&self.nbytes.to_le_bytes());
        record
    }
}

/// The clocks as one `poll_oneoff` call read them, once, on entry: every
/// deadline of the call is computed from these readings, so computing a
/// subscription's deadline again (each pass over the subscriptions does)
/// gives the same instant.
struct PollStart {
    /// The host instant relative timeouts count from.
    instant: Instant,
    /// The realtime clock's reading, in nanoseconds.
    realtime: u64,
    /// The monotonic clock's reading, in nanoseconds.
    monotonic: u64,
}

impl PollStart {
    fn now() -> PollStart {
        use rustix::time::{ClockId, clock_gettime};
        PollStart {
            instant: Instant::now(),
            realtime: timespec_nanos(clock_gettime(ClockId::Realtime)),
            monotonic: timespec_nanos(clock_gettime(ClockId::Monotonic)),
        }
    }

    /// When a clock subscription fires, as a host instant (`None`: never,
    /// a timeout too far to represent). Relative timeouts count from the
    /// call's start on any clock; absolute ones are converted with the
    /// realtime or monotonic clock's reading. The CPU-time clocks cannot be
    /// waited on (`ENOTSUP`), an unknown clock is `EINVAL`.
    fn deadline(&self, id: u32, timeout: u64, flags: u16) -> Result<Option<Instant>, Errno> {
        host_clock(id)?;
        let now = match id {
            clockid::REALTIME => self.realtime,
            clockid::MONOTONIC => self.monotonic,
            _ => return Err(Errno::Notsup),
        };
        let wait = if flags & SUBSCRIPTION_CLOCK_ABSTIME != 0 {
            timeout.saturating_sub(now)
        } else {
            timeout
        };
        Ok(self.instant.checked_add(Duration::from_nanos(wait)))
    }
}

/// One subscription record of `poll_oneoff`, as read from guest memory.
struct Subscription {
    userdata: u64,
    ty: u8,
    /// The clock id, or the descriptor.
    clock_or_fd: u32,
    /// A clock subscription's timeout.
    timeout: u64,
    /// A clock subscription's flags.
    flags: u16,
}

impl Subscription {
    fn parse(record: &[u8]) -> Subscription {
        let u64_at = |at: usize| u64::from_le_bytes(record[at..at + 8].try_into().expect("8"));
        let u32_at = |at: usize| u32::from_le_bytes(record[at..at + 4].try_into().expect("4"));
        Subscription {
            userdata: u64_at(0),
            ty: record[8],
            clock_or_fd: u32_at(16),
            timeout: u64_at(24),
            flags: u16::from_le_bytes([record[40], record[41]]),
        }
    }

    /// A clock subscription's deadline (see [`PollStart::deadline`]).
    fn deadline(&self, start: &PollStart) -> Result<Option<Instant>, Errno> {
        start.deadline(self.clock_or_fd, self.timeout, self.flags)
    }
}

impl Call<'_> {
    // ---- arguments and environment ----

    /// Writes `strings` NUL-terminated into the buffer at `buffer`, and a
    /// pointer to each into the array at `pointers` (`argv`-style).
    fn write_strings(&mut self, strings: Strings, pointers: u32, buffer: u32) -> Outcome {
        let strings = match strings {
            Strings::Args => &self.ctx.args,
            Strings::Env => &self.ctx.env,
        };
        let mut next = buffer;
        for (i, string) in strings.iter().enumerate() {
            self.memory
                .write_u32(offset(pointers, 4 * i as u64)?, next)?;
            self.memory.write(next, string)?;
            let end = offset(next, string.len() as u64)?;
            self.memory.write(end, &[0])?;
            next = offset(end, 1)?;
        }
        Ok(())
    }

    /// Writes the number of `strings`, and their size with NULs.
    fn write_sizes(&mut self, strings: Strings, count: u32, size: u32) -> Outcome {
        let strings = match strings {
            Strings::Args => &self.ctx.args,
            Strings::Env => &self.ctx.env,
        };
        let total: usize = strings.iter().map(|s| s.len() + 1).sum();
        let number = u32::try_from(strings.len()).map_err(|_| Errno::Overflow)?;
        let total = u32::try_from(total).map_err(|_| Errno::Overflow)?;
        self.memory.write_u32(count, number)?;
        self.memory.write_u32(size, total)
    }

    fn args_get(&mut self, argv: u32, argv_buf: u32) -> Outcome {
        self.write_strings(Strings::Args, argv, argv_buf)
    }

    fn args_sizes_get(&mut self, argc: u32, argv_buf_size: u32) -> Outcome {
        self.write_sizes(Strings::Args, argc, argv_buf_size)
    }

    fn environ_get(&mut self, environ: u32, environ_buf: u32) -> Outcome {
        self.write_strings(Strings::Env, environ, environ_buf)
    }

    fn environ_sizes_get(&mut self, environc: u32, environ_buf_size: u32) -> Outcome {
        self.write_sizes(Strings::Env, environc, environ_buf_size)
    }

    // ---- clocks, randomness, scheduling ----

    fn clock_res_get(&mut self, id: u32, resolution: u32) -> Outcome {
        let nanos = timespec_nanos(rustix::time::clock_getres(host_clock(id)?));
        self.memory.write_u64(resolution, nanos)
    }

    fn clock_time_get(&mut self, id: u32, _precision: u64, time: u32) -> Outcome {
        let nanos = timespec_nanos(rustix::time::clock_gettime(host_clock(id)?));
        self.memory.write_u64(time, nanos)
    }

    fn random_get(&mut self, buf: u32, buf_len: u32) -> Outcome {
        let mut rest = self.memory.slice_mut(buf, buf_len)?;
        while !rest.is_empty() {
            let filled =
                rustix::rand::getrandom(&mut *rest, rustix::rand::GetRandomFlags::empty())?;
            rest = &mut rest[filled..];
        }
        Ok(())
    }

    fn sched_yield(&mut self) -> Outcome {
        std::thread::yield_now();
        Ok(())
    }

    /// Waits for the first of the subscriptions' events; see the module
    /// docs of `wasi` for what descriptors report.
    ///
    /// The subscriptions are never copied to the host: after the arrays
    /// are checked against the memory, three passes read the records from
    /// guest memory one at a time. The first validates every record's type
    /// (`EINVAL` before anything is written) and finds the earliest clock
    /// deadline and whether any event is ready at once (a descriptor's, or
    /// a clock subscription's error); the call sleeps only if none is. The
    /// second writes the immediate events, the third the clocks that have
    /// fired by then, each in subscription order, straight into the
    /// guest's events array. Deadlines come from one reading of the clocks
    /// ([`PollStart`]), so every pass computes the same ones. (A guest
    /// whose events array overlaps its subscriptions gets later records
    /// read as the events overwrote them: its own doing, checked and safe
    /// like any other record.)
    fn poll_oneoff(
        &mut self,
        subscriptions: u32,
        events: u32,
        nsubscriptions: u32,
        nevents: u32,
    ) -> Outcome {
        if nsubscriptions == 0 {
            return Err(Errno::Inval);
        }
        let size = nsubscriptions
            .checked_mul(layout::SUBSCRIPTION_SIZE)
            .ok_or(Errno::Fault)?;
        self.memory.slice(subscriptions, size)?;
        let events_size = nsubscriptions
            .checked_mul(layout::EVENT_SIZE)
            .ok_or(Errno::Fault)?;
        self.memory.slice(events, events_size)?;
        self.memory.slice(nevents, 4)?;
        let start = PollStart::now();
        // Record `i`; inside the memory (checked above), so never a fault.
        let subscription = |memory: &GuestMemory<'_>, i: u32| {
            let at = subscriptions + i * layout::SUBSCRIPTION_SIZE;
            memory
                .slice(at, layout::SUBSCRIPTION_SIZE)
                .map(Subscription::parse)
        };

        let mut any_ready = false;
        let mut earliest: Option<Instant> = None;
        for i in 0..nsubscriptions {
            let subscription = subscription(&self.memory, i)?;
            match subscription.ty {
                eventtype::CLOCK => match subscription.deadline(&start) {
                    Ok(Some(deadline)) => {
                        earliest = Some(earliest.map_or(deadline, |e| e.min(deadline)));
                    }
                    Ok(None) => {}
                    Err(_) => any_ready = true,
                },
                eventtype::FD_READ | eventtype::FD_WRITE => any_ready = true,
                _ => return Err(Errno::Inval),
            }
        }
        if !any_ready {
            // Only clocks: sleep until the earliest (forever if none can
            // fire, as asked).
            loop {
                let now = Instant::now();
                match earliest {
                    Some(deadline) if deadline <= now => break,
                    Some(deadline) => std::thread::sleep(deadline - now),
                    None => std::thread::sleep(Duration::from_secs(3600)),
                }
            }
        }
        let now = Instant::now();

        let mut written: u32 = 0;
        let mut emit = |memory: &mut GuestMemory<'_>, event: Event| {
            // At most one event per subscription, which the array has room
            // for. (Only records the events themselves rewrote could ask
            // for more; those are dropped.)
            if written == nsubscriptions {
                return Ok(());
            }
            let at = offset(events, u64::from(written) * u64::from(layout::EVENT_SIZE))?;
            memory.write(at, &event.record())?;
            written += 1;
            Ok::<(), Errno>(())
        };
        for i in 0..nsubscriptions {
            let subscription = subscription(&self.memory, i)?;
            let Subscription { userdata, ty, .. } = subscription;
            let event = match ty {
                eventtype::CLOCK => match subscription.deadline(&start) {
                    Ok(_) => continue,
                    Err(error) => Event {
                        userdata,
                        error,
                        ty,
                        nbytes: 0,
                    },
                },
                eventtype::FD_READ | eventtype::FD_WRITE => {
                    let (error, nbytes) = match self.fd_readiness(subscription.clock_or_fd, ty) {
                        Ok(nbytes) => (Errno::Success, nbytes),
                        Err(error) => (error, 0),
                    };
                    Event {
                        userdata,
                        error,
                        ty,
                        nbytes,
                    }
                }
                _ => continue,
            };
            emit(&mut self.memory, event)?;
        }
        for i in 0..nsubscriptions {
            let subscription = subscription(&self.memory, i)?;
            if subscription.ty != eventtype::CLOCK {
                continue;
            }
            if let Ok(Some(deadline)) = subscription.deadline(&start)
                && deadline <= now
            {
                let event = Event {
                    userdata: subscription.userdata,
                    error: Errno::Success,
                    ty: eventtype::CLOCK,
                    nbytes: 0,
                };
                emit(&mut self.memory, event)?;
            }
        }
        self.memory.write_u32(nevents, written)
    }

    /// Whether `fd` is ready for `ty` (read or write) at once, with the
    /// bytes available to read. Files and outputs always are; the host's
    /// stdin would need real polling, which is not implemented.
    fn fd_readiness(&self, fd: u32, ty: u8) -> Result<u64, Errno> {
        match (self.ctx.table.get(fd)?, ty) {
            (Descriptor::File(file), eventtype::FD_READ) if file.readable => {
                let size = file.file.metadata()?.len();
                let position = (&file.file).stream_position()?;
                Ok(size.saturating_sub(position))
            }
            (Descriptor::File(file), eventtype::FD_WRITE) if file.writable => Ok(0),
            (Descriptor::Output(_), eventtype::FD_WRITE) => Ok(0),
            (Descriptor::Stdin(Input::Bytes(bytes)), eventtype::FD_READ) => {
                let size = bytes.get_ref().len() as u64;
                Ok(size.saturating_sub(bytes.position()))
            }
            (Descriptor::Stdin(Input::Inherit), eventtype::FD_READ) => Err(Errno::Notsup),
            _ => Err(Errno::Badf),
        }
    }

    // ---- descriptors ----

    fn fd_read(&mut self, fd: u32, iovs: u32, iovs_len: u32, nread: u32) -> Outcome {
        let iovecs = self.memory.iovecs(iovs, iovs_len)?;
        self.memory.slice(nread, 4)?;
        let total = match self.ctx.table.get_mut(fd)? {
            Descriptor::Stdin(input) => {
                read_iovecs(
                    &mut self.memory,
                    iovecs,
                    |buffer, _| Ok(input.read(buffer)?),
                )?
            }
            Descriptor::File(file) if file.readable => {
                let mut handle = &file.file;
                read_iovecs(&mut self.memory, iovecs, |buffer, _| {
                    Ok(handle.read(buffer)?)
                })?
            }
            Descriptor::File(_) | Descriptor::Output(_) | Descriptor::Dir(_) => {
                return Err(Errno::Badf);
            }
        };
        self.memory.write_u32(nread, total)
    }

    fn fd_pread(&mut self, fd: u32, iovs: u32, iovs_len: u32, at: u64, nread: u32) -> Outcome {
        let iovecs = self.memory.iovecs(iovs, iovs_len)?;
        self.memory.slice(nread, 4)?;
        let file = seekable(self.ctx.table.get(fd)?)?;
        if !file.readable {
            return Err(Errno::Badf);
        }
        let total = read_iovecs(&mut self.memory, iovecs, |buffer, before| {
            let position = at.checked_add(before).ok_or(Errno::Inval)?;
            Ok(file.file.read_at(buffer, position)?)
        })?;
        self.memory.write_u32(nread, total)
    }

    fn fd_write(&mut self, fd: u32, iovs: u32, iovs_len: u32, nwritten: u32) -> Outcome {
        let iovecs = self.memory.iovecs(iovs, iovs_len)?;
        self.memory.slice(nwritten, 4)?;
        let total = match self.ctx.table.get_mut(fd)? {
            Descriptor::Output(output) => write_iovecs(&self.memory, iovecs, |buffer, _| {
                output.write(buffer)?;
                Ok(buffer.len())
            })?,
            Descriptor::File(file) if file.writable => {
                let mut handle = &file.file;
                if file.flags & fdflags::APPEND != 0 {
                    handle.seek(SeekFrom::End(0))?;
                }
                write_iovecs(&self.memory, iovecs, |buffer, _| Ok(handle.write(buffer)?))?
            }
            Descriptor::File(_) | Descriptor::Stdin(_) | Descriptor::Dir(_) => {
                return Err(Errno::Badf);
            }
        };
        self.memory.write_u32(nwritten, total)
    }

    fn fd_pwrite(&mut self, fd: u32, iovs: u32, iovs_len: u32, at: u64, nwritten: u32) -> Outcome {
        let iovecs = self.memory.iovecs(iovs, iovs_len)?;
        self.memory.slice(nwritten, 4)?;
        let file = seekable(self.ctx.table.get(fd)?)?;
        if !file.writable {
            return Err(Errno::Badf);
        }
        let total = write_iovecs(&self.memory, iovecs, |buffer, before| {
            let position = at.checked_add(before).ok_or(Errno::Inval)?;
            Ok(file.file.write_at(buffer, position)?)
        })?;
        self.memory.write_u32(nwritten, total)
    }

    fn fd_seek(&mut self, fd: u32, delta: u64, whence: u32, newoffset: u32) -> Outcome {
        let delta = delta as i64;
        let from = match narrow::<u8>(whence)? {
            whence::SET => SeekFrom::Start(u64::try_from(delta).map_err(|_| Errno::Inval)?),
            whence::CUR => SeekFrom::Current(delta),
            whence::END => SeekFrom::End(delta),
            _ => return Err(Errno::Inval),
        };
        self.memory.slice(newoffset, 8)?;
        let file = seekable(self.ctx.table.get(fd)?)?;
        let position = (&file.file).seek(from)?;
        self.memory.write_u64(newoffset, position)
    }

    fn fd_tell(&mut self, fd: u32, offset: u32) -> Outcome {
        let file = seekable(self.ctx.table.get(fd)?)?;
        let position = (&file.file).stream_position()?;
        self.memory.write_u64(offset, position)
    }

    fn fd_close(&mut self, fd: u32) -> Outcome {
        self.ctx.table.remove(fd).map(drop)
    }

    fn fd_sync(&mut self, fd: u32) -> Outcome {
        match self.ctx.table.get(fd)? {
            Descriptor::File(file) => Ok(file.file.sync_all()?),
            Descriptor::Dir(dir) => Ok(rustix::fs::fsync(&dir.dir)?),
            // Outputs are written through on every fd_write.
            Descriptor::Output(_) => Ok(()),
            Descriptor::Stdin(_) => Err(Errno::Inval),
        }
    }

    fn fd_fdstat_get(&mut self, fd: u32, stat: u32) -> Outcome {
        let descriptor = self.ctx.table.get(fd)?;
        let (ty, flags, base) = descriptor.fdstat();
        let inheriting = match descriptor {
            Descriptor::Dir(_) => rights::DIRECTORY | rights::REGULAR_FILE,
            _ => 0,
        };
        let mut record = [0u8; layout::FDSTAT_SIZE as usize];
        record[0] = ty;
        record[2..4].copy_from_slice(&flags.to_le_bytes());
        record[8..16].copy_from_slice(&base.to_le_bytes());
        record[16..24].copy_from_slice(&inheriting.to_le_bytes());
        self.memory.write(stat, &record)
    }

    /// Sets `APPEND` and `NONBLOCK` (see [`OpenFile::flags`]); the
    /// synchronous-I/O flags are fixed at `path_open` (`ENOTSUP` to change
    /// them), as are a stream's and a directory's.
    fn fd_fdstat_set_flags(&mut self, fd: u32, flags: u32) -> Outcome {
        let flags: u16 = narrow(flags)?;
        let settable = fdflags::APPEND | fdflags::NONBLOCK;
        match self.ctx.table.get_mut(fd)? {
            Descriptor::File(file) => {
                if (file.flags ^ flags) & !settable != 0 {
                    return Err(Errno::Notsup);
                }
                file.flags = flags;
                Ok(())
            }
            // Streams and directories accept the settable flags and
            // ignore them: writes to a stream append anyway, and nothing
            // here blocks differently.
            Descriptor::Output(_) | Descriptor::Stdin(_) | Descriptor::Dir(_) => {
                if flags & !settable == 0 {
                    Ok(())
                } else {
                    Err(Errno::Notsup)
                }
            }
        }
    }

    fn fd_filestat_get(&mut self, fd: u32, stat: u32) -> Outcome {
        let record = match self.ctx.table.get(fd)? {
            Descriptor::File(file) => filestat(&file.file.metadata()?),
            Descriptor::Dir(dir) => filestat(&dir.dir.dir_metadata()?),
            stream @ (Descriptor::Stdin(_) | Descriptor::Output(_)) => {
                let (ty, _, _) = stream.fdstat();
                filestat_record(0, 0, ty, 0, 0, 0, 0, 0)
            }
        };
        self.memory.write(stat, &record)
    }

    fn fd_prestat_get(&mut self, fd: u32, prestat: u32) -> Outcome {
        let Descriptor::Dir(OpenDir {
            preopen_name: Some(name),
            ..
        }) = self.ctx.table.get(fd)?
        else {
            // wasi-libc looks for pre-opened directories from fd 3 up
            // until this fails with EBADF.
            return Err(Errno::Badf);
        };
        let length = u32::try_from(name.len()).map_err(|_| Errno::Nametoolong)?;
        let mut record = [0u8; layout::PRESTAT_SIZE as usize];
        record[0] = PREOPENTYPE_DIR;
        record[4..8].copy_from_slice(&length.to_le_bytes());
        self.memory.write(prestat, &record)
    }

    fn fd_prestat_dir_name(&mut self, fd: u32, path: u32, path_len: u32) -> Outcome {
        let Descriptor::Dir(OpenDir {
            preopen_name: Some(name),
            ..
        }) = self.ctx.table.get(fd)?
        else {
            return Err(Errno::Badf);
        };
        if name.len() > path_len as usize {
            return Err(Errno::Nametoolong);
        }
        self.memory.write(path, name.as_bytes())
    }

    /// Lists the directory from entry `cookie` on (`.` and `..` first, then
    /// the host's order; an entry's `d_next` is the cookie of the one after
    /// it), filling the buffer; the last entry is cut off when the buffer
    /// is full, which tells wasi-libc to ask again with a larger buffer.
    fn fd_readdir(
        &mut self,
        fd: u32,
        buf: u32,
        buf_len: u32,
        cookie: u64,
        bufused: u32,
    ) -> Outcome {
        use rustix::fs::DirEntryExt as _;
        let dir = self.ctx.table.dir(fd)?;
        // `..` of a pre-opened directory is outside the sandbox; its inode
        // number is not looked up (0).
        let mut entries = vec![
            (
                b".".to_vec(),
                dir.dir_metadata()?.ino(),
                filetype::DIRECTORY,
            ),
            (b"..".to_vec(), 0, filetype::DIRECTORY),
        ];
        for entry in dir.entries()? {
            let entry = entry?;
            let ty = filetype_of(entry.file_type()?);
            entries.push((entry.file_name().as_bytes().to_vec(), entry.ino(), ty));
        }
        // What fits of the entries from `cookie` on: whole entries, and
        // the start of the one that does not fit. Measured first, so that
        // the buffer is checked (`EFAULT`, nothing written) for the bytes
        // actually written, then filled in place: nothing the size of the
        // guest's buffer is allocated on the host.
        let capacity = buf_len as usize;
        let first = usize::try_from(cookie).unwrap_or(usize::MAX);
        let listed = || entries.iter().enumerate().skip(first);
        let mut used = 0usize;
        for (_, (name, _, _)) in listed() {
            if used >= capacity {
                break;
            }
            used += layout::DIRENT_SIZE as usize + name.len();
        }
        let used = used.min(capacity);
        let buffer = self
            .memory
            .slice_mut(buf, u32::try_from(used).expect("at most buf_len"))?;
        let mut filled = 0;
        for (i, (name, ino, ty)) in listed() {
            if filled >= used {
                break;
            }
            let mut header = [0u8; layout::DIRENT_SIZE as usize];
            header[0..8].copy_from_slice(&(i as u64 + 1).to_le_bytes());
            header[8..16].copy_from_slice(&ino.to_le_bytes());
            header[16..20].copy_from_slice(&(name.len() as u32).to_le_bytes());
            header[20] = *ty;
            for part in [&header[..], name] {
                let n = part.len().min(used - filled);
                buffer[filled..filled + n].copy_from_slice(&part[..n]);
                filled += n;
            }
        }
        self.memory.write_u32(bufused, used as u32)
    }

    // ---- paths ----

    #[allow(clippy::too_many_arguments, reason = "the function's wasm signature")]
    fn path_open(
        &mut self,
        fd: u32,
        dirflags: u32,
        path: u32,
        path_len: u32,
        open_flags: u32,
        rights_base: u64,
        _rights_inheriting: u64,
        fd_flags: u32,
        opened: u32,
    ) -> Outcome {
        let open_flags: u16 = narrow(open_flags)?;
        let fd_flags: u16 = narrow(fd_flags)?;
        let follow = if dirflags & lookupflags::SYMLINK_FOLLOW != 0 {
            FollowSymlinks::Yes
        } else {
            FollowSymlinks::No
        };
        self.memory.slice(opened, 4)?;
        let path = self.memory.str(path, path_len)?;
        let dir = self.ctx.table.dir(fd)?;
        let descriptor = if open_flags & oflags::DIRECTORY != 0 {
            if open_flags & (oflags::CREAT | oflags::EXCL | oflags::TRUNC) != 0 {
                return Err(Errno::Inval);
            }
            let opened = match follow {
                FollowSymlinks::Yes => dir.open_dir(path)?,
                FollowSymlinks::No => dir.open_dir_nofollow(path)?,
            };
            Descriptor::Dir(OpenDir {
                dir: opened,
                preopen_name: None,
            })
        } else {
            // The access mode from the rights asked for, as in Wasmtime;
            // asking for neither reads.
            let writable = rights_base
                & (rights::FD_WRITE
                    | rights::FD_DATASYNC
                    | rights::FD_ALLOCATE
                    | rights::FD_FILESTAT_SET_SIZE)
                != 0;
            let readable = rights_base & (rights::FD_READ | rights::FD_READDIR) != 0 || !writable;
            let mut options = cap_std::fs::OpenOptions::new();
            options.read(readable).write(writable);
            if open_flags & oflags::CREAT != 0 {
                if open_flags & oflags::EXCL != 0 {
                    options.create_new(true);
                } else {
                    options.create(true);
                }
            }
            options
                .truncate(open_flags & oflags::TRUNC != 0)
                .follow(follow)
                .maybe_dir(true)
                .dsync(fd_flags & fdflags::DSYNC != 0)
                .rsync(fd_flags & fdflags::RSYNC != 0)
                .sync(fd_flags & fdflags::SYNC != 0);
            let file = dir.open_with(path, &options)?;
            if file.metadata()?.is_dir() {
                Descriptor::Dir(OpenDir {
                    dir: cap_std::fs::Dir::from_std_file(file.into_std()),
                    preopen_name: None,
                })
            } else {
                Descriptor::File(OpenFile {
                    file,
                    readable,
                    writable,
                    flags: fd_flags,
                })
            }
        };
        let new_fd = self.ctx.table.push(descriptor)?;
        self.memory.write_u32(opened, new_fd)
    }

    fn path_filestat_get(
        &mut self,
        fd: u32,
        flags: u32,
        path: u32,
        path_len: u32,
        stat: u32,
    ) -> Outcome {
        let path = self.memory.str(path, path_len)?;
        let dir = self.ctx.table.dir(fd)?;
        let metadata = if flags & lookupflags::SYMLINK_FOLLOW != 0 {
            dir.metadata(path)?
        } else {
            dir.symlink_metadata(path)?
        };
        self.memory.write(stat, &filestat(&metadata))
    }

    fn path_create_directory(&mut self, fd: u32, path: u32, path_len: u32) -> Outcome {
        let path = self.memory.str(path, path_len)?;
        Ok(self.ctx.table.dir(fd)?.create_dir(path)?)
    }

    fn path_unlink_file(&mut self, fd: u32, path: u32, path_len: u32) -> Outcome {
        let path = self.memory.str(path, path_len)?;
        Ok(self.ctx.table.dir(fd)?.remove_file(path)?)
    }

    fn path_remove_directory(&mut self, fd: u32, path: u32, path_len: u32) -> Outcome {
        let path = self.memory.str(path, path_len)?;
        Ok(self.ctx.table.dir(fd)?.remove_dir(path)?)
    }

    fn path_rename(
        &mut self,
        fd: u32,
        old_path: u32,
        old_path_len: u32,
        new_fd: u32,
        new_path: u32,
        new_path_len: u32,
    ) -> Outcome {
        let old_path = self.memory.str(old_path, old_path_len)?;
        let new_path = self.memory.str(new_path, new_path_len)?;
        let old_dir = self.ctx.table.dir(fd)?;
        let new_dir = self.ctx.table.dir(new_fd)?;
        Ok(old_dir.rename(old_path, new_dir, new_path)?)
    }
}

/// Which list of strings `write_strings` and `write_sizes` write.
#[derive(Copy, Clone)]
enum Strings {
    Args,
    Env,
}

/// An implemented function: its name, its wasm parameters (the result is
/// always one `i32`, the errno), and how it is called with the parameters'
/// bits.
struct Function {
    name: &'static str,
    params: &'static [ValType],
    call: fn(&mut Call<'_>, &[u64]) -> Outcome,
}

/// The table of implemented functions, from their signatures: each line
/// names a method of [`Call`] and its parameters, `u32` for a wasm `i32`
/// and `u64` for an `i64`.
macro_rules! implemented {
    ($($name:ident($($param:ident: $ty:ident),*);)*) => {
        const IMPLEMENTED: &[Function] = &[$(
            Function {
                name: stringify!($name),
                params: &[$(implemented!(@valtype $ty)),*],
                call: {
                    #[allow(unused_mut, unused_variables, clippy::unused_unit)]
                    fn call(call: &mut Call<'_>, args: &[u64]) -> Outcome {
                        let mut args = args.iter().copied();
                        call.$name($(implemented!(@arg $ty, args.next())),*)
                    }
                    call
                },
            },
        )*];
    };
    (@valtype u32) => { ValType::I32 };
    (@valtype u64) => { ValType::I64 };
    (@arg u32, $arg:expr) => { $arg.unwrap_or_default() as u32 };
    (@arg u64, $arg:expr) => { $arg.unwrap_or_default() };
}

implemented! {
    args_get(argv: u32, argv_buf: u32);
    args_sizes_get(argc: u32, argv_buf_size: u32);
    environ_get(environ: u32, environ_buf: u32);
    environ_sizes_get(environc: u32, environ_buf_size: u32);
    clock_res_get(id: u32, resolution: u32);
    clock_time_get(id: u32, precision: u64, time: u32);
    random_get(buf: u32, buf_len: u32);
    sched_yield();
    poll_oneoff(subscriptions: u32, events: u32, nsubscriptions: u32, nevents: u32);
    fd_read(fd: u32, iovs: u32, iovs_len: u32, nread: u32);
    fd_pread(fd: u32, iovs: u32, iovs_len: u32, offset: u64, nread: u32);
    fd_write(fd: u32, iovs: u32, iovs_len: u32, nwritten: u32);
    fd_pwrite(fd: u32, iovs: u32, iovs_len: u32, offset: u64, nwritten: u32);
    fd_seek(fd: u32, offset: u64, whence: u32, newoffset: u32);
    fd_tell(fd: u32, offset: u32);
    fd_close(fd: u32);
    fd_sync(fd: u32);
    fd_fdstat_get(fd: u32, stat: u32);
    fd_fdstat_set_flags(fd: u32, flags: u32);
    fd_filestat_get(fd: u32, stat: u32);
    fd_prestat_get(fd: u32, prestat: u32);
    fd_prestat_dir_name(fd: u32, path: u32, path_len: u32);
    fd_readdir(fd: u32, buf: u32, buf_len: u32, cookie: u64, bufused: u32);
    path_open(fd: u32, dirflags: u32, path: u32, path_len: u32, oflags: u32,
        fs_rights_base: u64, fs_rights_inheriting: u64, fdflags: u32, opened_fd: u32);
    path_filestat_get(fd: u32, flags: u32, path: u32, path_len: u32, stat: u32);
    path_create_directory(fd: u32, path: u32, path_len: u32);
    path_unlink_file(fd: u32, path: u32, path_len: u32);
    path_remove_directory(fd: u32, path: u32, path_len: u32);
    path_rename(fd: u32, old_path: u32, old_path_len: u32, new_fd: u32, new_path: u32,
        new_path_len: u32);
}

/// The rest of `wasi_snapshot_preview1`: defined with their signatures
/// (parameters as in [`implemented!`]), each returning `ENOSYS`.
macro_rules! unsupported {
    ($($name:ident($($param:ident: $ty:ident),*);)*) => {
        const UNSUPPORTED: &[(&str, &[ValType])] = &[
            $((stringify!($name), &[$(implemented!(@valtype $ty)),*]),)*
        ];
    };
}

unsupported! {
    fd_advise(fd: u32, offset: u64, len: u64, advice: u32);
    fd_allocate(fd: u32, offset: u64, len: u64);
    fd_datasync(fd: u32);
    fd_fdstat_set_rights(fd: u32, fs_rights_base: u64, fs_rights_inheriting: u64);
    fd_filestat_set_size(fd: u32, size: u64);
    fd_filestat_set_times(fd: u32, atim: u64, mtim: u64, fst_flags: u32);
    fd_renumber(fd: u32, to: u32);
    path_filestat_set_times(fd: u32, flags: u32, path: u32, path_len: u32, atim: u64,
        mtim: u64, fst_flags: u32);
    path_link(old_fd: u32, old_flags: u32, old_path: u32, old_path_len: u32, new_fd: u32,
        new_path: u32, new_path_len: u32);
    path_readlink(fd: u32, path: u32, path_len: u32, buf: u32, buf_len: u32, bufused: u32);
    path_symlink(old_path: u32, old_path_len: u32, fd: u32, new_path: u32, new_path_len: u32);
    proc_raise(sig: u32);
    sock_accept(fd: u32, flags: u32, result_fd: u32);
    sock_recv(fd: u32, ri_data: u32, ri_data_len: u32, ri_flags: u32, ro_datalen: u32,
        ro_flags: u32);
    sock_send(fd: u32, si_data: u32, si_data_len: u32, si_flags: u32, so_datalen: u32);
    sock_shutdown(fd: u32, how: u32);
}

/// The parameters' bits: an `i32` zero-extended, an `i64` as is.
fn raw_args(params: &[Val]) -> Result<Vec<u64>, Error> {
    params
        .iter()
        .map(|param| match *param {
            Val::I32(value) => Ok(u64::from(value as u32)),
            Val::I64(value) => Ok(value as u64),
            other => Err(Error::from(ErrorKind::Type(format!(
                "a WASI function was given a value of type {}",
                other.ty()
            )))),
        })
        .collect()
}

/// Defines every function of `wasi_snapshot_preview1` in `linker`, each
/// reaching its [`WasiCtx`] through `get` on the store's data and the
/// calling instance's memory through its `memory` export.
///
/// `proc_exit` ends the program with a trap carrying [`I32Exit`] (a code
/// past 125 with a trap carrying a host error saying so instead); a
/// function that needs memory, called by a module that exports none, traps
/// with a host error saying so. Everything else returns an errno.
pub fn add_to_linker<T: 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> &mut WasiCtx,
) -> Result<(), Error> {
    let errno_result: Box<[ValType]> = [ValType::I32].into();
    for function in IMPLEMENTED {
        let ty = FuncType {
            params: function.params.into(),
            results: errno_result.clone(),
        };
        let (name, call) = (function.name, function.call);
        linker.func_new(WASI_MODULE, name, ty, move |mut caller, params, results| {
            let args = raw_args(params)?;
            let memory = guest_memory(&mut caller, name)?;
            let (bytes, data) = memory.data_and_store_mut(&mut caller)?;
            let mut context = Call {
                memory: GuestMemory::new(bytes),
                ctx: get(data),
            };
            let errno = call(&mut context, &args).err().unwrap_or(Errno::Success);
            results[0] = Val::I32(i32::from(errno.code()));
            Ok(())
        })?;
    }
    for &(name, params) in UNSUPPORTED {
        let ty = FuncType {
            params: params.into(),
            results: errno_result.clone(),
        };
        linker.func_new(WASI_MODULE, name, ty, |_, _, results| {
            results[0] = Val::I32(i32::from(Errno::Nosys.code()));
            Ok(())
        })?;
    }
    let proc_exit = FuncType {
        params: [ValType::I32].into(),
        results: [].into(),
    };
    linker.func_new(WASI_MODULE, "proc_exit", proc_exit, |_, params, _| {
        let code = params.first().and_then(Val::i32).unwrap_or_default();
        // WASI's exit codes are 0 to 125 (126 and up are the shell's and
        // signals'); past that, as in Wasmtime, the call fails instead.
        if (code as u32) < I32Exit::LIMIT {
            Err(Error::new(I32Exit(code)))
        } else {
            Err(Error::msg(format!(
                "exit with invalid exit status {} outside of [0..{})",
                code as u32,
                I32Exit::LIMIT
            )))
        }
    })?;
    Ok(())
}

/// The calling instance's `memory` export, which every WASI function but
/// `proc_exit` needs.
fn guest_memory<T>(caller: &mut Caller<'_, T>, function: &str) -> Result<crate::Memory, Error> {
    match caller.get_export("memory") {
        Some(Extern::Memory(memory)) => Ok(memory),
        _ => Err(Error::msg(format!(
            "`{WASI_MODULE}`.`{function}` needs the caller to export its memory as `memory`"
        ))),
    }
}
