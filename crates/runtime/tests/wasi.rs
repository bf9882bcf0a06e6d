//! WASI preview 1 through the embedding API: each function called from
//! wasm with pointers into the guest's memory, the sandbox's refusals, and
//! the errors a guest can provoke (which are errnos, never host failures).
//!
//! The guest is generated: it imports every function of
//! `wasi_snapshot_preview1` with the signature the witx definitions give
//! (written out below, independently of the runtime's own tables) and
//! exports a wrapper of each under the same name, so a test calls
//! `guest.call("path_open", ...)` and reads the errno; arguments and
//! results go through the guest's memory, which the test reads and writes.

use duet::wasi::{I32Exit, OutputBuffer, WasiCtx};
use duet::{Engine, Error, Instance, Linker, Memory, Module, Store, Val};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// The system allocator, counting the bytes each thread asks for, so that
/// a test can see that a WASI call allocated nothing in proportion to a
/// count the guest chose ([`allocated_during`]).
struct CountingAllocator;

thread_local! {
    /// Bytes this thread has asked the allocator for (growths counted at
    /// their new size), never decreasing. `const`-initialised and without
    /// a destructor: safe to touch from inside the allocator.
    static ALLOCATED: Cell<usize> = const { Cell::new(0) };
}

fn count_allocation(bytes: usize) {
    let _ = ALLOCATED.try_with(|total| total.set(total.get().saturating_add(bytes)));
}

// SAFETY: every call is forwarded to the system allocator unchanged; the
// counting touches only a thread-local `Cell`.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_allocation(layout.size());
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count_allocation(layout.size());
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_allocation(new_size);
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// What `f` returns, and how many bytes this thread allocated while it ran.
fn allocated_during<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let before = ALLOCATED.with(Cell::get);
    let result = f();
    (result, ALLOCATED.with(Cell::get) - before)
}

/// Every function of `wasi_snapshot_preview1` (witx), with its wasm
/// parameter types; all return an `i32` errno but `proc_exit`.
const PREVIEW1: &[(&str, &str)] = &[
    ("args_get", "i32 i32"),
    ("args_sizes_get", "i32 i32"),
    ("environ_get", "i32 i32"),
    ("environ_sizes_get", "i32 i32"),
    ("clock_res_get", "i32 i32"),
    ("clock_time_get", "i32 i64 i32"),
    ("fd_advise", "i32 i64 i64 i32"),
    ("fd_allocate", "i32 i64 i64"),
    ("fd_close", "i32"),
    ("fd_datasync", "i32"),
    ("fd_fdstat_get", "i32 i32"),
    ("fd_fdstat_set_flags", "i32 i32"),
    ("fd_fdstat_set_rights", "i32 i64 i64"),
    ("fd_filestat_get", "i32 i32"),
    ("fd_filestat_set_size", "i32 i64"),
    ("fd_filestat_set_times", "i32 i64 i64 i32"),
    ("fd_pread", "i32 i32 i32 i64 i32"),
    ("fd_prestat_get", "i32 i32"),
    ("fd_prestat_dir_name", "i32 i32 i32"),
    ("fd_pwrite", "i32 i32 i32 i64 i32"),
    ("fd_read", "i32 i32 i32 i32"),
    ("fd_readdir", "i32 i32 i32 i64 i32"),
    ("fd_renumber", "i32 i32"),
    ("fd_seek", "i32 i64 i32 i32"),
    ("fd_sync", "i32"),
    ("fd_tell", "i32 i32"),
    ("fd_write", "i32 i32 i32 i32"),
    ("path_create_directory", "i32 i32 i32"),
    ("path_filestat_get", "i32 i32 i32 i32 i32"),
    ("path_filestat_set_times", "i32 i32 i32 i32 i64 i64 i32"),
    ("path_link", "i32 i32 i32 i32 i32 i32 i32"),
    ("path_open", "i32 i32 i32 i32 i32 i64 i64 i32 i32"),
    ("path_readlink", "i32 i32 i32 i32 i32 i32"),
    ("path_remove_directory", "i32 i32 i32"),
    ("path_rename", "i32 i32 i32 i32 i32 i32"),
    ("path_symlink", "i32 i32 i32 i32 i32"),
    ("path_unlink_file", "i32 i32 i32"),
    ("poll_oneoff", "i32 i32 i32 i32"),
    ("proc_exit", "i32"),
    ("proc_raise", "i32"),
    ("sched_yield", ""),
    ("random_get", "i32 i32"),
    ("sock_accept", "i32 i32 i32"),
    ("sock_recv", "i32 i32 i32 i32 i32 i32"),
    ("sock_send", "i32 i32 i32 i32 i32"),
    ("sock_shutdown", "i32 i32"),
];

/// Those that return `ENOSYS`.
const NOT_IMPLEMENTED: &[&str] = &[
    "fd_advise",
    "fd_allocate",
    "fd_datasync",
    "fd_fdstat_set_rights",
    "fd_filestat_set_size",
    "fd_filestat_set_times",
    "fd_renumber",
    "path_filestat_set_times",
    "path_link",
    "path_readlink",
    "path_symlink",
    "proc_raise",
    "sock_accept",
    "sock_recv",
    "sock_send",
    "sock_shutdown",
];

// errno values (witx).
const SUCCESS: i32 = 0;
const EBADF: i32 = 8;
const EEXIST: i32 = 20;
const EFAULT: i32 = 21;
const EILSEQ: i32 = 25;
const EINVAL: i32 = 28;
const EISDIR: i32 = 31;
const ELOOP: i32 = 32;
const ENAMETOOLONG: i32 = 37;
const ENOENT: i32 = 44;
const ENOSYS: i32 = 52;
const ENOTDIR: i32 = 54;
const ENOTEMPTY: i32 = 55;
const EPERM: i32 = 63;
const ESPIPE: i32 = 70;

// Flags and rights (witx).
const O_CREAT: i32 = 1;
const O_DIRECTORY: i32 = 2;
const O_EXCL: i32 = 4;
const O_TRUNC: i32 = 8;
const LOOKUP_SYMLINK_FOLLOW: i32 = 1;
const RIGHT_FD_READ: i64 = 1 << 1;
const RIGHT_FD_WRITE: i64 = 1 << 6;
const FDFLAG_APPEND: i32 = 1;

/// The first pre-opened directory's descriptor.
const PREOPEN: i32 = 3;

/// A scratch area of guest memory the tests use: [`SCRATCH`, 64 KiB).
const SCRATCH: u32 = 1024;
/// One page of memory.
const MEMORY_SIZE: u32 = 65536;

/// The generated guest module's text.
fn guest_wat() -> String {
    let result = |name: &str| {
        if name == "proc_exit" {
            ""
        } else {
            "(result i32)"
        }
    };
    let mut wat = String::from("(module\n");
    for (i, (name, params)) in PREVIEW1.iter().enumerate() {
        let result = result(name);
        wat += &format!(
            "  (import \"wasi_snapshot_preview1\" \"{name}\" (func $f{i} (param {params}) {result}))\n"
        );
    }
    for (i, (name, params)) in PREVIEW1.iter().enumerate() {
        let result = result(name);
        let forwarded: String = (0..params.split_whitespace().count())
            .map(|k| format!(" (local.get {k})"))
            .collect();
        wat += &format!(
            "  (func (export \"{name}\") (param {params}) {result} (call $f{i}{forwarded}))\n"
        );
    }
    wat += "  (memory (export \"memory\") 1))\n";
    wat
}

/// An instance of the guest module with a WASI context.
struct Guest {
    store: Store<WasiCtx>,
    instance: Instance,
    memory: Memory,
}

impl Guest {
    fn new(ctx: WasiCtx) -> Guest {
        Guest::of_module(ctx, &guest_wat())
    }

    /// An instance of `wat`, a module exporting its memory as `memory`.
    fn of_module(ctx: WasiCtx, wat: &str) -> Guest {
        let engine = Engine::default();
        let module = Module::new(&engine, wat).expect("the guest compiles");
        let mut linker = Linker::new(&engine);
        duet::wasi::add_to_linker(&mut linker, |wasi| wasi).expect("WASI links");
        let mut store = Store::new(&engine, ctx);
        let instance = linker
            .instantiate(&mut store, &module)
            .expect("every import is defined");
        let memory = instance
            .get_memory(&store, "memory")
            .unwrap()
            .expect("exported");
        Guest {
            store,
            instance,
            memory,
        }
    }

    /// Calls `name` with `args`; its errno.
    fn call(&mut self, name: &str, args: &[Val]) -> i32 {
        let func = self
            .instance
            .get_func(&self.store, name)
            .unwrap()
            .expect("exported");
        let mut results = [Val::I32(-1)];
        func.call(&mut self.store, args, &mut results)
            .unwrap_or_else(|e| panic!("{name} failed: {e}"));
        results[0].i32().expect("an errno")
    }

    fn write(&mut self, at: u32, bytes: &[u8]) {
        let at = at as usize;
        self.memory.data_mut(&mut self.store).unwrap()[at..at + bytes.len()].copy_from_slice(bytes);
    }

    fn read(&self, at: u32, len: u32) -> Vec<u8> {
        self.memory.data(&self.store).unwrap()[at as usize..(at + len) as usize].to_vec()
    }

    fn u32_at(&self, at: u32) -> u32 {
        u32::from_le_bytes(self.read(at, 4).try_into().unwrap())
    }

    fn u64_at(&self, at: u32) -> u64 {
        u64::from_le_bytes(self.read(at, 8).try_into().unwrap())
    }

    /// Writes `text` at `at`; its (pointer, length) as arguments.
    fn text(&mut self, at: u32, text: &str) -> [Val; 2] {
        self.write(at, text.as_bytes());
        [Val::I32(at as i32), Val::I32(text.len() as i32)]
    }

    /// `path_open` of `path` below `dir`; the errno and the new descriptor.
    fn open(
        &mut self,
        dir: i32,
        lookup: i32,
        path: &str,
        oflags: i32,
        rights: i64,
        fdflags: i32,
    ) -> (i32, i32) {
        let [p, len] = self.text(SCRATCH + 512, path);
        let out = SCRATCH + 256;
        let errno = self.call(
            "path_open",
            &[
                Val::I32(dir),
                Val::I32(lookup),
                p,
                len,
                Val::I32(oflags),
                Val::I64(rights),
                Val::I64(0),
                Val::I32(fdflags),
                Val::I32(out as i32),
            ],
        );
        (
            errno,
            if errno == SUCCESS {
                self.u32_at(out) as i32
            } else {
                -1
            },
        )
    }

    /// `fd_write` of `bytes` (one ciovec); the errno and the count.
    fn fd_write(&mut self, fd: i32, bytes: &[u8]) -> (i32, u32) {
        let data = SCRATCH + 2048;
        self.write(data, bytes);
        let iovec = SCRATCH;
        self.write(iovec, &data.to_le_bytes());
        self.write(iovec + 4, &(bytes.len() as u32).to_le_bytes());
        let errno = self.call(
            "fd_write",
            &[
                Val::I32(fd),
                Val::I32(iovec as i32),
                Val::I32(1),
                Val::I32((SCRATCH + 16) as i32),
            ],
        );
        (
            errno,
            if errno == SUCCESS {
                self.u32_at(SCRATCH + 16)
            } else {
                0
            },
        )
    }

    /// `fd_read` of up to `len` bytes (two ciovecs splitting it); the
    /// errno and the bytes.
    fn fd_read(&mut self, fd: i32, len: u32) -> (i32, Vec<u8>) {
        let data = SCRATCH + 4096;
        let first = len / 2;
        let iovec = SCRATCH;
        self.write(iovec, &data.to_le_bytes());
        self.write(iovec + 4, &first.to_le_bytes());
        self.write(iovec + 8, &(data + first).to_le_bytes());
        self.write(iovec + 12, &(len - first).to_le_bytes());
        let errno = self.call(
            "fd_read",
            &[
                Val::I32(fd),
                Val::I32(iovec as i32),
                Val::I32(2),
                Val::I32((SCRATCH + 16) as i32),
            ],
        );
        if errno != SUCCESS {
            return (errno, Vec::new());
        }
        let n = self.u32_at(SCRATCH + 16);
        (errno, self.read(data, n))
    }
}

/// A fresh directory under the system's temporary directory, removed on
/// drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(test: &str) -> TempDir {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "duet-wasi-{test}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A guest with `dir` pre-opened as `.`.
fn guest_with_dir(dir: &Path) -> Guest {
    Guest::new(WasiCtx::builder().preopened_dir(dir, ".").build().unwrap())
}

#[test]
fn every_preview1_function_links_and_the_rest_return_enosys() {
    let mut guest = Guest::new(WasiCtx::builder().build().unwrap());
    for (name, params) in PREVIEW1 {
        if !NOT_IMPLEMENTED.contains(name) {
            continue;
        }
        let args: Vec<Val> = params
            .split_whitespace()
            .map(|ty| {
                if ty == "i64" {
                    Val::I64(0)
                } else {
                    Val::I32(0)
                }
            })
            .collect();
        assert_eq!(guest.call(name, &args), ENOSYS, "{name}");
    }
}

#[test]
fn args_and_environment_round_trip() {
    let mut guest = Guest::new(
        WasiCtx::builder()
            .args(["prog.wasm", "-x", ""])
            .env("HOME", "/nowhere")
            .env("EMPTY", "")
            .build()
            .unwrap(),
    );
    let (count, size) = (SCRATCH, SCRATCH + 4);
    assert_eq!(
        guest.call(
            "args_sizes_get",
            &[Val::I32(count as i32), Val::I32(size as i32)]
        ),
        SUCCESS
    );
    assert_eq!((guest.u32_at(count), guest.u32_at(size)), (3, 10 + 3 + 1));
    let (argv, buf) = (SCRATCH + 64, SCRATCH + 128);
    assert_eq!(
        guest.call("args_get", &[Val::I32(argv as i32), Val::I32(buf as i32)]),
        SUCCESS
    );
    assert_eq!(guest.read(buf, 14), b"prog.wasm\0-x\0\0");
    assert_eq!(
        [
            guest.u32_at(argv),
            guest.u32_at(argv + 4),
            guest.u32_at(argv + 8)
        ],
        [buf, buf + 10, buf + 13]
    );

    assert_eq!(
        guest.call(
            "environ_sizes_get",
            &[Val::I32(count as i32), Val::I32(size as i32)]
        ),
        SUCCESS
    );
    assert_eq!((guest.u32_at(count), guest.u32_at(size)), (2, 14 + 7));
    assert_eq!(
        guest.call(
            "environ_get",
            &[Val::I32(argv as i32), Val::I32(buf as i32)]
        ),
        SUCCESS
    );
    assert_eq!(guest.read(buf, 21), b"HOME=/nowhere\0EMPTY=\0");
    assert_eq!(guest.u32_at(argv + 4), buf + 14);
}

#[test]
fn the_builder_refuses_what_cannot_be_a_c_string() {
    assert!(WasiCtx::builder().arg("a\0b").build().is_err());
    assert!(WasiCtx::builder().env("A=B", "c").build().is_err());
    assert!(WasiCtx::builder().env("", "c").build().is_err());
    let missing = WasiCtx::builder()
        .preopened_dir("/this/directory/does/not/exist", ".")
        .build()
        .unwrap_err();
    assert!(
        matches!(
            missing.downcast_ref::<duet::ErrorKind>(),
            Some(duet::ErrorKind::Io { .. })
        ),
        "{missing}"
    );
}

#[test]
fn pointers_outside_the_memory_are_efault() {
    let stdout = OutputBuffer::new();
    let mut guest = Guest::new(
        WasiCtx::builder()
            .arg("x")
            .stdout(stdout.clone())
            .build()
            .unwrap(),
    );
    let end = MEMORY_SIZE as i32;
    // Results written past the end.
    assert_eq!(
        guest.call("args_sizes_get", &[Val::I32(end - 4), Val::I32(end - 2)]),
        EFAULT
    );
    assert_eq!(
        guest.call("args_get", &[Val::I32(end), Val::I32(0)]),
        EFAULT
    );
    assert_eq!(
        guest.call(
            "clock_time_get",
            &[Val::I32(1), Val::I64(0), Val::I32(end - 7)]
        ),
        EFAULT
    );
    assert_eq!(
        guest.call("random_get", &[Val::I32(end - 8), Val::I32(9)]),
        EFAULT
    );
    assert_eq!(
        guest.call("random_get", &[Val::I32(-1), Val::I32(-1)]),
        EFAULT
    );
    assert_eq!(
        guest.call("fd_fdstat_get", &[Val::I32(1), Val::I32(end - 23)]),
        EFAULT
    );
    // An iovec array, or a buffer it names, past the end; nothing is
    // written when any buffer is bad.
    assert_eq!(
        guest.call(
            "fd_write",
            &[Val::I32(1), Val::I32(end - 4), Val::I32(1), Val::I32(0)]
        ),
        EFAULT
    );
    assert_eq!(
        guest.call(
            "fd_write",
            &[Val::I32(1), Val::I32(0), Val::I32(i32::MAX), Val::I32(0)]
        ),
        EFAULT
    );
    guest.write(SCRATCH, &[16, 0, 0, 0, 1, 0, 0, 0]);
    guest.write(SCRATCH + 8, &(MEMORY_SIZE - 1).to_le_bytes());
    guest.write(SCRATCH + 12, &2u32.to_le_bytes());
    assert_eq!(
        guest.call(
            "fd_write",
            &[
                Val::I32(1),
                Val::I32(SCRATCH as i32),
                Val::I32(2),
                Val::I32(0)
            ]
        ),
        EFAULT
    );
    assert!(stdout.contents().is_empty());
    // The count past the end.
    assert_eq!(
        guest.call(
            "fd_write",
            &[
                Val::I32(1),
                Val::I32(SCRATCH as i32),
                Val::I32(1),
                Val::I32(end)
            ]
        ),
        EFAULT
    );
    assert!(stdout.contents().is_empty());
    // A path past the end.
    assert_eq!(
        guest.call(
            "path_create_directory",
            &[Val::I32(3), Val::I32(end - 1), Val::I32(2)]
        ),
        EFAULT
    );
    // poll_oneoff's subscriptions past the end.
    assert_eq!(
        guest.call(
            "poll_oneoff",
            &[Val::I32(end - 47), Val::I32(0), Val::I32(1), Val::I32(0)]
        ),
        EFAULT
    );
}

#[test]
fn stdout_and_stderr_are_captured_and_stdin_read() {
    let (stdout, stderr) = (OutputBuffer::new(), OutputBuffer::new());
    let mut guest = Guest::new(
        WasiCtx::builder()
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .stdin_bytes(&b"input bytes"[..])
            .build()
            .unwrap(),
    );
    assert_eq!(guest.fd_write(1, b"out\n"), (SUCCESS, 4));
    assert_eq!(guest.fd_write(2, b"err"), (SUCCESS, 3));
    assert_eq!(guest.fd_write(1, b"more"), (SUCCESS, 4));
    assert_eq!(stdout.contents(), b"out\nmore");
    assert_eq!(stderr.contents(), b"err");
    assert_eq!(guest.fd_read(0, 6), (SUCCESS, b"input ".to_vec()));
    assert_eq!(guest.fd_read(0, 100), (SUCCESS, b"bytes".to_vec()));
    assert_eq!(guest.fd_read(0, 100), (SUCCESS, Vec::new()));
    // The wrong direction, and no such descriptor.
    assert_eq!(guest.fd_write(0, b"x").0, EBADF);
    assert_eq!(guest.fd_read(1, 1).0, EBADF);
    assert_eq!(guest.fd_write(9, b"x").0, EBADF);
    // Streams do not seek.
    assert_eq!(
        guest.call(
            "fd_seek",
            &[
                Val::I32(1),
                Val::I64(0),
                Val::I32(0),
                Val::I32(SCRATCH as i32)
            ]
        ),
        ESPIPE
    );
    assert_eq!(
        guest.call("fd_tell", &[Val::I32(0), Val::I32(SCRATCH as i32)]),
        ESPIPE
    );
    // fdstat: no seek or tell rights (wasi-libc's isatty), not a terminal.
    assert_eq!(
        guest.call("fd_fdstat_get", &[Val::I32(1), Val::I32(SCRATCH as i32)]),
        SUCCESS
    );
    let rights = guest.u64_at(SCRATCH + 8);
    assert_eq!(rights & (1 << 2 | 1 << 5), 0);
    assert_ne!(rights & RIGHT_FD_WRITE as u64, 0);
    // No pre-opened directory: fd 3 is not open.
    assert_eq!(
        guest.call("fd_prestat_get", &[Val::I32(3), Val::I32(SCRATCH as i32)]),
        EBADF
    );
}

/// A guest with 257 pages (16 MiB and one page) of memory and wrappers of
/// `fd_read`, `fd_write` and `poll_oneoff`.
fn large_guest(ctx: WasiCtx) -> Guest {
    let (mut imports, mut wrappers) = (String::new(), String::new());
    for name in ["fd_read", "fd_write", "poll_oneoff"] {
        let ty = "(param i32 i32 i32 i32) (result i32)";
        imports +=
            &format!("  (import \"wasi_snapshot_preview1\" \"{name}\" (func ${name} {ty}))\n");
        wrappers += &format!(
            "  (func (export \"{name}\") {ty}\n\
             \x20   (call ${name} (local.get 0) (local.get 1) (local.get 2) (local.get 3)))\n"
        );
    }
    let mut wat = format!("(module\n{imports}{wrappers}");
    wat += "  (memory (export \"memory\") 257))\n";
    Guest::of_module(ctx, &wat)
}

#[test]
fn guest_counts_never_size_host_allocations() {
    let stdout = OutputBuffer::new();
    let ctx = || {
        WasiCtx::builder()
            .stdout(stdout.clone())
            .stdin_bytes(&b"stdin"[..])
            .build()
            .unwrap()
    };
    let args = |fd: i32, array: u32, count: u32, out: u32| {
        [fd, array as i32, count as i32, out as i32].map(Val::I32)
    };

    // 2^27 iovecs (a 1 GiB array) against one page of memory: EFAULT after
    // one comparison, for writes and reads alike.
    let mut small = Guest::new(ctx());
    for name in ["fd_write", "fd_read"] {
        let fd = if name == "fd_write" { 1 } else { 0 };
        let (errno, allocated) =
            allocated_during(|| small.call(name, &args(fd, 0, 1 << 27, SCRATCH)));
        assert_eq!(errno, EFAULT, "{name}");
        assert!(allocated < 64 << 10, "{name}: {allocated} bytes allocated");
    }

    // An array the memory does hold: 2^21 zero-length iovecs, 16 MiB of
    // guest memory, are walked (and checked) in place; the host allocates
    // nothing like 16 MiB.
    let mut large = large_guest(ctx());
    let count = 1u32 << 21;
    let nwritten = count * 8;
    for (name, fd) in [("fd_write", 1), ("fd_read", 0)] {
        let (errno, allocated) =
            allocated_during(|| large.call(name, &args(fd, 0, count, nwritten)));
        assert_eq!(errno, SUCCESS, "{name}");
        assert_eq!(large.u32_at(nwritten), 0, "{name}: nothing transferred");
        assert!(allocated < 1 << 20, "{name}: {allocated} bytes allocated");
    }
    // One bad buffer at the very end is still found before anything is
    // written or read.
    large.write(nwritten - 8, &u32::MAX.to_le_bytes());
    large.write(nwritten - 4, &1u32.to_le_bytes());
    assert_eq!(large.call("fd_read", &args(0, 0, count, nwritten)), EFAULT);
    assert_eq!(large.call("fd_write", &args(1, 0, count, nwritten)), EFAULT);
    assert_eq!(stdout.contents(), b"");

    // 2^16 subscriptions (3 MiB) on stdout's writability, each answered
    // with an event (2 MiB), written straight into the guest's array.
    let subscriptions = 0u32;
    let n = 1u32 << 16;
    let events = n * 48;
    let nevents = events + n * 32;
    for i in 0..n {
        let mut record = [0u8; 48];
        record[0..8].copy_from_slice(&u64::from(i).to_le_bytes());
        record[8] = 2; // fd_write
        record[16..20].copy_from_slice(&1u32.to_le_bytes());
        large.write(subscriptions + i * 48, &record);
    }
    let (errno, allocated) = allocated_during(|| {
        large.call(
            "poll_oneoff",
            &args(subscriptions as i32, events, n, nevents),
        )
    });
    assert_eq!(errno, SUCCESS);
    assert!(
        allocated < 1 << 20,
        "poll_oneoff: {allocated} bytes allocated"
    );
    assert_eq!(large.u32_at(nevents), n);
    for i in [0, 1, n - 1] {
        let event = events + i * 32;
        assert_eq!(large.u64_at(event), u64::from(i), "userdata, in order");
        assert_eq!(large.read(event + 8, 3), [0, 0, 2], "no error, fd_write");
    }
    // A count whose arrays run past the memory: EFAULT, nothing written.
    large.write(nevents, &[0xAA; 4]);
    assert_eq!(
        large.call("poll_oneoff", &args(0, events, u32::MAX / 48, nevents)),
        EFAULT
    );
    assert_eq!(large.read(nevents, 4), [0xAA; 4]);
}

#[test]
fn iovecs_are_read_as_they_are_when_used() {
    // The first buffer of an fd_read overlaps the second iovec: the read
    // rewrites that entry before it is used, and the rewritten entry (a
    // 2-byte buffer at SCRATCH + 4096) is the one followed.
    let mut replacement = (SCRATCH + 4096).to_le_bytes().to_vec();
    replacement.extend_from_slice(&2u32.to_le_bytes());
    replacement.extend_from_slice(b"xyz");
    let mut guest = Guest::new(WasiCtx::builder().stdin_bytes(replacement).build().unwrap());
    let iovecs = SCRATCH;
    guest.write(iovecs, &(iovecs + 8).to_le_bytes());
    guest.write(iovecs + 4, &8u32.to_le_bytes());
    guest.write(iovecs + 8, &(SCRATCH + 2048).to_le_bytes());
    guest.write(iovecs + 12, &3u32.to_le_bytes());
    let errno = guest.call(
        "fd_read",
        &[0, iovecs as i32, 2, (SCRATCH + 16) as i32].map(Val::I32),
    );
    assert_eq!(errno, SUCCESS);
    assert_eq!(guest.u32_at(SCRATCH + 16), 10);
    assert_eq!(guest.read(SCRATCH + 4096, 2), b"xy");
    assert_eq!(guest.read(SCRATCH + 2048, 3), [0, 0, 0]);
}

#[test]
fn proc_exit_unwinds_with_the_exit_code() {
    let mut guest = Guest::new(WasiCtx::builder().build().unwrap());
    let func = guest
        .instance
        .get_func(&guest.store, "proc_exit")
        .unwrap()
        .unwrap();
    let error = func
        .call(&mut guest.store, &[Val::I32(42)], &mut [])
        .unwrap_err();
    assert_eq!(I32Exit::from_error(&error), Some(42), "{error}");
    assert_eq!(I32Exit::from_error(&Error::msg("other")), None);
    // 125 is the last exit code; past it (and below 0) the call fails with
    // a host error instead, as Wasmtime's does.
    let error = func
        .call(&mut guest.store, &[Val::I32(125)], &mut [])
        .unwrap_err();
    assert_eq!(I32Exit::from_error(&error), Some(125), "{error}");
    for (code, shown) in [(126, "126"), (255, "255"), (-1, "4294967295")] {
        let error = func
            .call(&mut guest.store, &[Val::I32(code)], &mut [])
            .unwrap_err();
        assert_eq!(I32Exit::from_error(&error), None, "{error}");
        let host = error
            .downcast_ref::<duet::Trap>()
            .and_then(|trap| trap.host_error());
        assert_eq!(
            host.map(ToString::to_string),
            Some(format!(
                "exit with invalid exit status {shown} outside of [0..126)"
            )),
            "{code}"
        );
    }
}

#[test]
fn a_module_without_memory_gets_an_error_not_a_crash() {
    let engine = Engine::default();
    let module = Module::new(
        &engine,
        r#"(module
            (import "wasi_snapshot_preview1" "sched_yield" (func $yield (result i32)))
            (func (export "_start") (drop (call $yield))))"#,
    )
    .unwrap();
    let mut linker = Linker::new(&engine);
    duet::wasi::add_to_linker(&mut linker, |wasi| wasi).unwrap();
    let mut store = Store::new(&engine, WasiCtx::builder().build().unwrap());
    let instance = linker.instantiate(&mut store, &module).unwrap();
    let start = instance.get_func(&store, "_start").unwrap().unwrap();
    let error = start.call(&mut store, &[], &mut []).unwrap_err();
    let trap = error.downcast_ref::<duet::Trap>().expect("a trap");
    assert!(
        trap.host_error().unwrap().to_string().contains("memory"),
        "{error}"
    );
}

#[test]
fn clocks_random_poll_and_yield() {
    let mut guest = Guest::new(WasiCtx::builder().build().unwrap());
    for clock in 0..4 {
        assert_eq!(
            guest.call(
                "clock_time_get",
                &[Val::I32(clock), Val::I64(1), Val::I32(SCRATCH as i32)]
            ),
            SUCCESS
        );
        assert_eq!(
            guest.call(
                "clock_res_get",
                &[Val::I32(clock), Val::I32(SCRATCH as i32 + 8)]
            ),
            SUCCESS
        );
        assert!(
            guest.u64_at(SCRATCH + 8) > 0,
            "clock {clock} has a resolution"
        );
    }
    assert_eq!(
        guest.call(
            "clock_time_get",
            &[Val::I32(0), Val::I64(1), Val::I32(SCRATCH as i32)]
        ),
        SUCCESS
    );
    assert!(
        guest.u64_at(SCRATCH) > 1_600_000_000 * 1_000_000_000,
        "realtime is after 2020"
    );
    assert_eq!(
        guest.call(
            "clock_time_get",
            &[Val::I32(4), Val::I64(1), Val::I32(SCRATCH as i32)]
        ),
        EINVAL
    );

    guest.write(SCRATCH, &[0; 64]);
    assert_eq!(
        guest.call("random_get", &[Val::I32(SCRATCH as i32), Val::I32(64)]),
        SUCCESS
    );
    assert_ne!(guest.read(SCRATCH, 64), vec![0; 64]);
    assert_eq!(
        guest.call("random_get", &[Val::I32(0), Val::I32(0)]),
        SUCCESS
    );
    assert_eq!(guest.call("sched_yield", &[]), SUCCESS);

    // Two clock subscriptions, relative, 20 ms and 10 s, and one on stdout
    // writability: stdout is ready, so nothing sleeps.
    let subscription = |userdata: u64, tag: u8, body: &[u8]| {
        let mut record = [0u8; 48];
        record[0..8].copy_from_slice(&userdata.to_le_bytes());
        record[8] = tag;
        record[16..16 + body.len()].copy_from_slice(body);
        record
    };
    let clock = |timeout_ns: u64| {
        let mut body = [0u8; 26];
        body[0..4].copy_from_slice(&1u32.to_le_bytes());
        body[8..16].copy_from_slice(&timeout_ns.to_le_bytes());
        body
    };
    let (subs, events, nevents) = (SCRATCH, SCRATCH + 512, SCRATCH + 1000);
    guest.write(subs, &subscription(7, 0, &clock(20_000_000)));
    guest.write(subs + 48, &subscription(8, 0, &clock(10_000_000_000)));
    guest.write(subs + 96, &subscription(9, 2, &1u32.to_le_bytes()));
    let poll = |guest: &mut Guest, n: i32| {
        guest.call(
            "poll_oneoff",
            &[
                Val::I32(subs as i32),
                Val::I32(events as i32),
                Val::I32(n),
                Val::I32(nevents as i32),
            ],
        )
    };
    assert_eq!(poll(&mut guest, 3), SUCCESS);
    assert_eq!(guest.u32_at(nevents), 1);
    assert_eq!(
        (guest.u64_at(events), guest.read(events + 10, 1)[0]),
        (9, 2)
    );
    // The clocks alone: the 20 ms one fires, after 20 ms.
    let start = std::time::Instant::now();
    assert_eq!(poll(&mut guest, 2), SUCCESS);
    assert!(start.elapsed() >= std::time::Duration::from_millis(20));
    assert!(start.elapsed() < std::time::Duration::from_secs(5));
    assert_eq!(guest.u32_at(nevents), 1);
    assert_eq!(guest.u64_at(events), 7);
    assert_eq!(
        u16::from_le_bytes(guest.read(events + 8, 2).try_into().unwrap()),
        0
    );
    assert_eq!(poll(&mut guest, 0), EINVAL);
}

#[test]
fn files_are_created_written_read_and_listed() {
    let dir = TempDir::new("files");
    std::fs::write(dir.path().join("existing.txt"), "hello, world").unwrap();
    let mut guest = guest_with_dir(dir.path());

    // The pre-opened directory is fd 3, named ".".
    assert_eq!(
        guest.call(
            "fd_prestat_get",
            &[Val::I32(PREOPEN), Val::I32(SCRATCH as i32)]
        ),
        SUCCESS
    );
    assert_eq!(
        (guest.read(SCRATCH, 1)[0], guest.u32_at(SCRATCH + 4)),
        (0, 1)
    );
    assert_eq!(
        guest.call(
            "fd_prestat_dir_name",
            &[Val::I32(PREOPEN), Val::I32(SCRATCH as i32), Val::I32(1)]
        ),
        SUCCESS
    );
    assert_eq!(guest.read(SCRATCH, 1), b".");
    assert_eq!(
        guest.call(
            "fd_prestat_dir_name",
            &[Val::I32(PREOPEN), Val::I32(SCRATCH as i32), Val::I32(0)]
        ),
        ENAMETOOLONG
    );
    assert_eq!(
        guest.call(
            "fd_prestat_get",
            &[Val::I32(PREOPEN + 1), Val::I32(SCRATCH as i32)]
        ),
        EBADF
    );

    // Read an existing file, with a seek and positioned reads.
    let (errno, fd) = guest.open(PREOPEN, 0, "existing.txt", 0, RIGHT_FD_READ, 0);
    assert_eq!((errno, fd), (SUCCESS, 4));
    assert_eq!(guest.fd_read(fd, 5), (SUCCESS, b"hello".to_vec()));
    assert_eq!(
        guest.call("fd_tell", &[Val::I32(fd), Val::I32(SCRATCH as i32)]),
        SUCCESS
    );
    assert_eq!(guest.u64_at(SCRATCH), 5);
    assert_eq!(
        guest.call(
            "fd_seek",
            &[
                Val::I32(fd),
                Val::I64(-5),
                Val::I32(2),
                Val::I32(SCRATCH as i32)
            ]
        ),
        SUCCESS
    );
    assert_eq!(guest.u64_at(SCRATCH), 7);
    assert_eq!(guest.fd_read(fd, 100), (SUCCESS, b"world".to_vec()));
    assert_eq!(
        guest.call(
            "fd_seek",
            &[
                Val::I32(fd),
                Val::I64(-1),
                Val::I32(0),
                Val::I32(SCRATCH as i32)
            ]
        ),
        EINVAL
    );
    assert_eq!(
        guest.call(
            "fd_seek",
            &[
                Val::I32(fd),
                Val::I64(0),
                Val::I32(3),
                Val::I32(SCRATCH as i32)
            ]
        ),
        EINVAL
    );
    guest.write(SCRATCH, &(SCRATCH + 100).to_le_bytes());
    guest.write(SCRATCH + 4, &3u32.to_le_bytes());
    assert_eq!(
        guest.call(
            "fd_pread",
            &[
                Val::I32(fd),
                Val::I32(SCRATCH as i32),
                Val::I32(1),
                Val::I64(2),
                Val::I32(SCRATCH as i32 + 8)
            ]
        ),
        SUCCESS
    );
    assert_eq!(
        (guest.u32_at(SCRATCH + 8), guest.read(SCRATCH + 100, 3)),
        (3, b"llo".to_vec())
    );
    // Read-only: writes are EBADF.
    assert_eq!(guest.fd_write(fd, b"x").0, EBADF);
    assert_eq!(
        guest.call("fd_filestat_get", &[Val::I32(fd), Val::I32(SCRATCH as i32)]),
        SUCCESS
    );
    assert_eq!(
        (guest.read(SCRATCH + 16, 1)[0], guest.u64_at(SCRATCH + 32)),
        (4, 12)
    );
    assert_eq!(guest.call("fd_close", &[Val::I32(fd)]), SUCCESS);
    assert_eq!(guest.call("fd_close", &[Val::I32(fd)]), EBADF);

    // Create, write, append, positioned write, truncate.
    let (errno, fd) = guest.open(
        PREOPEN,
        0,
        "new.txt",
        O_CREAT | O_EXCL,
        RIGHT_FD_READ | RIGHT_FD_WRITE,
        0,
    );
    assert_eq!((errno, fd), (SUCCESS, 4), "the lowest free descriptor");
    assert_eq!(guest.fd_write(fd, b"abcdef"), (SUCCESS, 6));
    guest.write(SCRATCH + 100, b"XY");
    guest.write(SCRATCH, &(SCRATCH + 100).to_le_bytes());
    guest.write(SCRATCH + 4, &2u32.to_le_bytes());
    assert_eq!(
        guest.call(
            "fd_pwrite",
            &[
                Val::I32(fd),
                Val::I32(SCRATCH as i32),
                Val::I32(1),
                Val::I64(1),
                Val::I32(SCRATCH as i32 + 8)
            ]
        ),
        SUCCESS
    );
    assert_eq!(guest.call("fd_sync", &[Val::I32(fd)]), SUCCESS);
    assert_eq!(
        std::fs::read(dir.path().join("new.txt")).unwrap(),
        b"aXYdef"
    );
    assert_eq!(
        guest.call(
            "fd_seek",
            &[
                Val::I32(fd),
                Val::I64(0),
                Val::I32(0),
                Val::I32(SCRATCH as i32)
            ]
        ),
        SUCCESS
    );
    assert_eq!(
        guest.call(
            "fd_fdstat_set_flags",
            &[Val::I32(fd), Val::I32(FDFLAG_APPEND)]
        ),
        SUCCESS
    );
    assert_eq!(
        guest.call("fd_fdstat_get", &[Val::I32(fd), Val::I32(SCRATCH as i32)]),
        SUCCESS
    );
    assert_eq!(
        (guest.read(SCRATCH, 1)[0], guest.read(SCRATCH + 2, 1)[0]),
        (4, 1)
    );
    assert_eq!(guest.fd_write(fd, b"!"), (SUCCESS, 1));
    assert_eq!(
        std::fs::read(dir.path().join("new.txt")).unwrap(),
        b"aXYdef!"
    );
    assert_eq!(
        guest.call("fd_fdstat_set_flags", &[Val::I32(fd), Val::I32(16)]),
        58,
        "SYNC cannot be turned on"
    );
    assert_eq!(guest.call("fd_close", &[Val::I32(fd)]), SUCCESS);
    assert_eq!(
        guest
            .open(PREOPEN, 0, "new.txt", O_CREAT | O_EXCL, RIGHT_FD_WRITE, 0)
            .0,
        EEXIST
    );
    let (errno, fd) = guest.open(PREOPEN, 0, "new.txt", O_TRUNC, RIGHT_FD_WRITE, 0);
    assert_eq!(errno, SUCCESS);
    assert_eq!(std::fs::read(dir.path().join("new.txt")).unwrap(), b"");
    assert_eq!(guest.call("fd_close", &[Val::I32(fd)]), SUCCESS);
    assert_eq!(
        guest.open(PREOPEN, 0, "missing.txt", 0, RIGHT_FD_READ, 0).0,
        ENOENT
    );
    assert_eq!(
        guest
            .open(PREOPEN, 0, "new.txt", O_DIRECTORY, RIGHT_FD_READ, 0)
            .0,
        ENOTDIR
    );

    // Directories: create, open, stat, list, rename into, remove.
    let [p, len] = guest.text(SCRATCH + 512, "sub");
    assert_eq!(
        guest.call("path_create_directory", &[Val::I32(PREOPEN), p, len]),
        SUCCESS
    );
    assert_eq!(
        guest.call("path_create_directory", &[Val::I32(PREOPEN), p, len]),
        EEXIST
    );
    assert_eq!(
        guest.call(
            "path_filestat_get",
            &[
                Val::I32(PREOPEN),
                Val::I32(LOOKUP_SYMLINK_FOLLOW),
                p,
                len,
                Val::I32(SCRATCH as i32)
            ]
        ),
        SUCCESS
    );
    assert_eq!(guest.read(SCRATCH + 16, 1)[0], 3, "a directory");
    let (errno, sub) = guest.open(PREOPEN, 0, "sub", O_DIRECTORY, RIGHT_FD_READ, 0);
    assert_eq!(errno, SUCCESS);
    assert_eq!(
        guest.call("fd_fdstat_get", &[Val::I32(sub), Val::I32(SCRATCH as i32)]),
        SUCCESS
    );
    assert_eq!(guest.read(SCRATCH, 1)[0], 3);
    assert_eq!(
        guest.call("fd_prestat_get", &[Val::I32(sub), Val::I32(SCRATCH as i32)]),
        EBADF,
        "not pre-opened"
    );
    assert_eq!(guest.fd_read(sub, 4).0, EBADF);
    let [old, old_len] = guest.text(SCRATCH + 512, "new.txt");
    let [new, new_len] = guest.text(SCRATCH + 600, "moved.txt");
    assert_eq!(
        guest.call(
            "path_rename",
            &[Val::I32(PREOPEN), old, old_len, Val::I32(sub), new, new_len]
        ),
        SUCCESS
    );
    assert!(dir.path().join("sub/moved.txt").exists());
    let [p, len] = guest.text(SCRATCH + 512, "sub");
    assert_eq!(
        guest.call("path_remove_directory", &[Val::I32(PREOPEN), p, len]),
        ENOTEMPTY
    );
    assert_eq!(
        guest.call("path_unlink_file", &[Val::I32(PREOPEN), p, len]),
        EISDIR
    );
    // Opening a directory without O_DIRECTORY gives a directory too.
    let (errno, again) = guest.open(PREOPEN, 0, "sub", 0, RIGHT_FD_READ, 0);
    assert_eq!(errno, SUCCESS);
    assert_eq!(
        guest.call(
            "fd_fdstat_get",
            &[Val::I32(again), Val::I32(SCRATCH as i32)]
        ),
        SUCCESS
    );
    assert_eq!(guest.read(SCRATCH, 1)[0], 3);

    // fd_readdir of `sub`: ".", "..", "moved.txt", whole, then from a
    // cookie, then into a buffer too small for the last entry.
    let readdir = |guest: &mut Guest, fd: i32, len: u32, cookie: u64| {
        let errno = guest.call(
            "fd_readdir",
            &[
                Val::I32(fd),
                Val::I32(SCRATCH as i32),
                Val::I32(len as i32),
                Val::I64(cookie as i64),
                Val::I32(SCRATCH as i32 + 2048),
            ],
        );
        assert_eq!(errno, SUCCESS);
        let used = guest.u32_at(SCRATCH + 2048);
        guest.read(SCRATCH, used)
    };
    let names = |bytes: &[u8]| {
        let mut names = Vec::new();
        let mut at = 0;
        while at + 24 <= bytes.len() {
            let len = u32::from_le_bytes(bytes[at + 16..at + 20].try_into().unwrap()) as usize;
            let end = (at + 24 + len).min(bytes.len());
            names.push(String::from_utf8_lossy(&bytes[at + 24..end]).into_owned());
            at += 24 + len;
        }
        names
    };
    let all = readdir(&mut guest, sub, 1000, 0);
    assert_eq!(names(&all), [".", "..", "moved.txt"]);
    assert_eq!(all.len(), 3 * 24 + 1 + 2 + 9);
    assert_eq!(names(&readdir(&mut guest, sub, 1000, 2)), ["moved.txt"]);
    assert_eq!(
        names(&readdir(&mut guest, sub, 1000, 3)),
        Vec::<String>::new()
    );
    assert_eq!(
        readdir(&mut guest, sub, 60, 0).len(),
        60,
        "cut off: the buffer is full"
    );
    assert_eq!(
        guest.call(
            "fd_readdir",
            &[
                Val::I32(1),
                Val::I32(0),
                Val::I32(0),
                Val::I64(0),
                Val::I32(0)
            ]
        ),
        ENOTDIR
    );

    let [p, len] = guest.text(SCRATCH + 512, "moved.txt");
    assert_eq!(
        guest.call("path_unlink_file", &[Val::I32(sub), p, len]),
        SUCCESS
    );
    assert_eq!(
        guest.call("path_unlink_file", &[Val::I32(sub), p, len]),
        ENOENT
    );
    let [p, len] = guest.text(SCRATCH + 512, "sub");
    assert_eq!(
        guest.call("path_remove_directory", &[Val::I32(PREOPEN), p, len]),
        SUCCESS
    );
    assert!(!dir.path().join("sub").exists());

    // A path that is not UTF-8.
    guest.write(SCRATCH + 512, b"\xff");
    assert_eq!(
        guest.call(
            "path_create_directory",
            &[
                Val::I32(PREOPEN),
                Val::I32(SCRATCH as i32 + 512),
                Val::I32(1)
            ]
        ),
        EILSEQ
    );
    // A file is not a directory to open paths below.
    assert_eq!(guest.open(1, 0, "x", 0, RIGHT_FD_READ, 0).0, ENOTDIR);
    assert_eq!(guest.open(77, 0, "x", 0, RIGHT_FD_READ, 0).0, EBADF);
}

/// The sandbox: a pre-opened directory `sandbox/` next to `outside.txt`,
/// with symbolic links inside pointing out (absolutely, relatively, and
/// through a directory link) and others staying in.
fn sandbox() -> (TempDir, PathBuf) {
    let root = TempDir::new("sandbox");
    let sandbox = root.path().join("sandbox");
    std::fs::create_dir_all(sandbox.join("sub")).unwrap();
    std::fs::write(root.path().join("outside.txt"), "secret").unwrap();
    std::fs::write(sandbox.join("inside.txt"), "public").unwrap();
    std::os::unix::fs::symlink(
        root.path().join("outside.txt"),
        sandbox.join("absolute-link"),
    )
    .unwrap();
    std::os::unix::fs::symlink("../outside.txt", sandbox.join("relative-link")).unwrap();
    std::os::unix::fs::symlink("../..", sandbox.join("sub/up-link")).unwrap();
    std::os::unix::fs::symlink("..", sandbox.join("sub/home-link")).unwrap();
    std::os::unix::fs::symlink("inside.txt", sandbox.join("inward-link")).unwrap();
    (root, sandbox)
}

#[test]
fn dot_dot_escapes_are_refused() {
    let (root, sandbox) = sandbox();
    let mut guest = guest_with_dir(&sandbox);
    for path in ["../outside.txt", "sub/../../outside.txt", "..", "sub/../.."] {
        assert_eq!(
            guest.open(PREOPEN, 0, path, 0, RIGHT_FD_READ, 0).0,
            EPERM,
            "{path}"
        );
    }
    // `..` that stays inside is fine.
    assert_eq!(
        guest
            .open(PREOPEN, 0, "sub/../inside.txt", 0, RIGHT_FD_READ, 0)
            .0,
        SUCCESS
    );
    // Creating, removing and renaming outside are refused the same way.
    let [p, len] = guest.text(SCRATCH + 512, "../made-outside");
    assert_eq!(
        guest.call("path_create_directory", &[Val::I32(PREOPEN), p, len]),
        EPERM
    );
    let [p, len] = guest.text(SCRATCH + 512, "../outside.txt");
    assert_eq!(
        guest.call("path_unlink_file", &[Val::I32(PREOPEN), p, len]),
        EPERM
    );
    assert_eq!(
        guest.call(
            "path_filestat_get",
            &[
                Val::I32(PREOPEN),
                Val::I32(0),
                p,
                len,
                Val::I32(SCRATCH as i32)
            ]
        ),
        EPERM
    );
    let [old, old_len] = guest.text(SCRATCH + 512, "inside.txt");
    let [new, new_len] = guest.text(SCRATCH + 600, "../stolen.txt");
    assert_eq!(
        guest.call(
            "path_rename",
            &[
                Val::I32(PREOPEN),
                old,
                old_len,
                Val::I32(PREOPEN),
                new,
                new_len
            ]
        ),
        EPERM
    );
    assert_eq!(
        guest
            .open(PREOPEN, 0, "../created.txt", O_CREAT, RIGHT_FD_WRITE, 0)
            .0,
        EPERM
    );
    assert!(!root.path().join("made-outside").exists());
    assert!(!root.path().join("stolen.txt").exists());
    assert!(!root.path().join("created.txt").exists());
    assert_eq!(
        std::fs::read(root.path().join("outside.txt")).unwrap(),
        b"secret"
    );
}

#[test]
fn absolute_paths_are_refused() {
    let (root, sandbox) = sandbox();
    let mut guest = guest_with_dir(&sandbox);
    let outside = root.path().join("outside.txt");
    let inside = sandbox.join("inside.txt");
    for path in [
        outside.to_str().unwrap(),
        inside.to_str().unwrap(),
        "/",
        "/etc/passwd",
    ] {
        assert_eq!(
            guest.open(PREOPEN, 0, path, 0, RIGHT_FD_READ, 0).0,
            EPERM,
            "{path}"
        );
        let [p, len] = guest.text(SCRATCH + 512, path);
        assert_eq!(
            guest.call(
                "path_filestat_get",
                &[
                    Val::I32(PREOPEN),
                    Val::I32(LOOKUP_SYMLINK_FOLLOW),
                    p,
                    len,
                    Val::I32(SCRATCH as i32)
                ]
            ),
            EPERM,
            "{path}"
        );
    }
}

#[test]
fn symlink_escapes_are_refused() {
    let (root, sandbox) = sandbox();
    let mut guest = guest_with_dir(&sandbox);
    for path in [
        "absolute-link",
        "relative-link",
        "sub/up-link/outside.txt",
        "sub/up-link/../outside.txt",
    ] {
        assert_eq!(
            guest
                .open(PREOPEN, LOOKUP_SYMLINK_FOLLOW, path, 0, RIGHT_FD_READ, 0)
                .0,
            EPERM,
            "{path}"
        );
        let [p, len] = guest.text(SCRATCH + 512, path);
        assert_eq!(
            guest.call(
                "path_filestat_get",
                &[
                    Val::I32(PREOPEN),
                    Val::I32(LOOKUP_SYMLINK_FOLLOW),
                    p,
                    len,
                    Val::I32(SCRATCH as i32)
                ]
            ),
            EPERM,
            "{path}"
        );
    }
    // Writing through a link that points out is refused too.
    assert_eq!(
        guest
            .open(
                PREOPEN,
                LOOKUP_SYMLINK_FOLLOW,
                "relative-link",
                O_TRUNC,
                RIGHT_FD_WRITE,
                0
            )
            .0,
        EPERM
    );
    assert_eq!(
        std::fs::read(root.path().join("outside.txt")).unwrap(),
        b"secret"
    );
    // Without SYMLINK_FOLLOW the last component is not followed: ELOOP,
    // as O_NOFOLLOW gives; the link itself can be looked at.
    assert_eq!(
        guest
            .open(PREOPEN, 0, "absolute-link", 0, RIGHT_FD_READ, 0)
            .0,
        ELOOP
    );
    let [p, len] = guest.text(SCRATCH + 512, "absolute-link");
    assert_eq!(
        guest.call(
            "path_filestat_get",
            &[
                Val::I32(PREOPEN),
                Val::I32(0),
                p,
                len,
                Val::I32(SCRATCH as i32)
            ]
        ),
        SUCCESS
    );
    assert_eq!(guest.read(SCRATCH + 16, 1)[0], 7, "a symbolic link");
    // `sub/home-link` leads back to the sandbox's root: inside, allowed.
    let (errno, fd) = guest.open(
        PREOPEN,
        LOOKUP_SYMLINK_FOLLOW,
        "sub/home-link/inside.txt",
        0,
        RIGHT_FD_READ,
        0,
    );
    assert_eq!(errno, SUCCESS);
    assert_eq!(guest.fd_read(fd, 100), (SUCCESS, b"public".to_vec()));
    // A link that stays inside is followed.
    let (errno, fd) = guest.open(
        PREOPEN,
        LOOKUP_SYMLINK_FOLLOW,
        "inward-link",
        0,
        RIGHT_FD_READ,
        0,
    );
    assert_eq!(errno, SUCCESS);
    assert_eq!(guest.fd_read(fd, 100), (SUCCESS, b"public".to_vec()));
}

#[test]
fn a_guest_name_other_than_dot_is_reported() {
    let dir = TempDir::new("named");
    let mut guest = Guest::new(
        WasiCtx::builder()
            .preopened_dir(dir.path(), "/data")
            .build()
            .unwrap(),
    );
    assert_eq!(
        guest.call(
            "fd_prestat_get",
            &[Val::I32(PREOPEN), Val::I32(SCRATCH as i32)]
        ),
        SUCCESS
    );
    assert_eq!(guest.u32_at(SCRATCH + 4), 5);
    assert_eq!(
        guest.call(
            "fd_prestat_dir_name",
            &[Val::I32(PREOPEN), Val::I32(SCRATCH as i32), Val::I32(5)]
        ),
        SUCCESS
    );
    assert_eq!(guest.read(SCRATCH, 5), b"/data");
}
