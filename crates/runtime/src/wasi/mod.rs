//! WASI preview 1 (`wasi_snapshot_preview1`): what command-line programs
//! compiled for `wasm32-wasip1` import to reach arguments, the environment,
//! clocks, randomness, standard streams and files.
//!
//! ```
//! use duet::wasi::{OutputBuffer, WasiCtx};
//! use duet::{Engine, Linker, Module, Store};
//!
//! let engine = Engine::default();
//! let module = Module::new(&engine, r#"(module
//!     (import "wasi_snapshot_preview1" "fd_write"
//!       (func $fd_write (param i32 i32 i32 i32) (result i32)))
//!     (memory (export "memory") 1)
//!     (data (i32.const 16) "hello\n")
//!     ;; one ciovec at 0: 6 bytes at 16
//!     (data (i32.const 0) "\10\00\00\00\06\00\00\00")
//!     (func (export "_start")
//!       (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))"#)?;
//! let stdout = OutputBuffer::new();
//! let wasi = WasiCtx::builder().arg("hello").stdout(stdout.clone()).build()?;
//! let mut store = Store::new(&engine, wasi);
//! let mut linker = Linker::new(&engine);
//! duet::wasi::add_to_linker(&mut linker, |wasi| wasi)?;
//! let instance = linker.instantiate(&mut store, &module)?;
//! let start = instance.get_func(&store, "_start")?.expect("exported");
//! start.call(&mut store, &[], &mut [])?;
//! assert_eq!(stdout.contents(), b"hello\n");
//! # Ok::<(), duet::Error>(())
//! ```
//!
//! # Design
//!
//! ```text
//!   wasm ──call──▶ host function (one per import, made by add_to_linker)
//!                   │ the calling instance's "memory" export, split from
//!                   │ the store's data T (Memory::data_and_store_mut)
//!                   ▼
//!                  Call { GuestMemory, &mut WasiCtx }     preview1.rs
//!                   │ every pointer checked: EFAULT    guest.rs
//!                   ▼
//!                  WasiCtx { args, env, Table }       table.rs: fd → Stdin /
//!                                                      Output / File / Dir
//! ```
//!
//! * **Errors are values.** Each function returns an [`Errno`] to the
//!   guest; nothing the guest passes can make the host panic or fail. A
//!   pointer outside the memory is `EFAULT` ([`Errno::Fault`]), a path
//!   that is not UTF-8 `EILSEQ`, a host I/O error its errno
//!   ([`Errno::from_io`]). The two exceptions unwind the guest as a trap
//!   with a host error: `proc_exit` ([`I32Exit`]), and a module without a
//!   `memory` export calling a function that needs one.
//! * **Guest counts never size host allocations.** An `iovec` or
//!   subscription array is checked against the memory and its records are
//!   read in place one at a time; `fd_readdir` fills the guest's buffer
//!   directly. A huge count costs one comparison (`EFAULT`) when its array
//!   does not fit, and no host memory when it does (`guest.rs` says how,
//!   and what a guest that overwrites its own array gets).
//! * **Files are capabilities.** Every file and directory is reached
//!   through a [`cap_std::fs::Dir`] that was pre-opened by the embedder
//!   ([`WasiCtxBuilder::preopened_dir`]), or opened below one. cap-std
//!   resolves each path beneath its directory: `..` past the root, an
//!   absolute path, or a symbolic link leading outside fail with
//!   `PermissionDenied`, which the guest sees as `EPERM` (as under
//!   Wasmtime). The host's ambient authority is used once, to open the
//!   pre-opened directories.
//! * **Every import name links.** The functions programs use are
//!   implemented (the list is in `preview1.rs`); every other function of
//!   `wasi_snapshot_preview1` (sockets, links, `fd_renumber`, setting
//!   sizes and times, `proc_raise`, ...) is defined with its signature and
//!   returns `ENOSYS`, so that a program importing it still links and can
//!   handle the error.
//! * **Rights are reported, not enforced.** Preview 1's rights are
//!   deprecated; as in Wasmtime, a file's access mode (read, write) is
//!   taken from the rights `path_open` asks for and enforced as POSIX
//!   would (`EBADF`); `fd_fdstat_get` reports rights consistent with it.
//! * **Standard streams** are the host's own, or captured into
//!   [`OutputBuffer`]s (tests), or empty/discarded (the default).
//!
//! What is left out: `poll_oneoff` waits on clocks; a descriptor
//! subscription is answered at once (files and outputs are always ready)
//! or with `ENOTSUP` in its event (the host's stdin, which would need
//! real polling).

mod guest;
mod preview1;
mod table;
#[allow(dead_code, reason = "the witx definitions are kept whole, used or not")]
mod types;

pub use preview1::{WASI_MODULE, add_to_linker};
pub use table::OutputBuffer;
pub use types::Errno;

use crate::error::{Error, ErrorKind};
use std::path::PathBuf;
use table::{Descriptor, HostStream, Input, OpenDir, Output, Table};

/// The state of one WASI program: its arguments, environment and
/// descriptors. Made with [`WasiCtx::builder`]; kept in the store's data
/// and reached by the functions [`add_to_linker`] defines.
#[derive(Debug)]
pub struct WasiCtx {
    /// The arguments, without their NUL terminators.
    args: Vec<Vec<u8>>,
    /// `KEY=VALUE` entries, without NUL terminators.
    env: Vec<Vec<u8>>,
    table: Table,
}

impl WasiCtx {
    /// A builder, with no arguments, no environment, an empty stdin, stdout
    /// and stderr discarded and no pre-opened directory.
    pub fn builder() -> WasiCtxBuilder {
        WasiCtxBuilder::default()
    }
}

/// How a [`WasiCtx`] is made.
#[derive(Debug)]
pub struct WasiCtxBuilder {
    args: Vec<String>,
    env: Vec<(String, String)>,
    stdin: Input,
    stdout: Output,
    stderr: Output,
    preopens: Vec<(PathBuf, String)>,
}

impl Default for WasiCtxBuilder {
    fn default() -> WasiCtxBuilder {
        WasiCtxBuilder {
            args: Vec::new(),
            env: Vec::new(),
            stdin: Input::Bytes(Default::default()),
            stdout: Output::Discard,
            stderr: Output::Discard,
            preopens: Vec::new(),
        }
    }
}

impl WasiCtxBuilder {
    /// Appends an argument (the first is the program's name).
    pub fn arg(&mut self, arg: impl Into<String>) -> &mut Self {
        self.args.push(arg.into());
        self
    }

    /// Appends arguments.
    pub fn args<I>(&mut self, args: I) -> &mut Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Adds the environment variable `key` = `value`.
    pub fn env(&mut self, key: impl Into<String>, value: impl Into<String>) -> &mut Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// The guest reads the host's stdin.
    pub fn inherit_stdin(&mut self) -> &mut Self {
        self.stdin = Input::Inherit;
        self
    }

    /// The guest reads `bytes` from stdin, then end of file.
    pub fn stdin_bytes(&mut self, bytes: impl Into<Vec<u8>>) -> &mut Self {
        self.stdin = Input::Bytes(std::io::Cursor::new(bytes.into()));
        self
    }

    /// The guest writes to the host's stdout.
    pub fn inherit_stdout(&mut self) -> &mut Self {
        self.stdout = Output::Inherit(HostStream::Stdout);
        self
    }

    /// The guest writes to the host's stderr.
    pub fn inherit_stderr(&mut self) -> &mut Self {
        self.stderr = Output::Inherit(HostStream::Stderr);
        self
    }

    /// The guest uses the host's stdin, stdout and stderr.
    pub fn inherit_stdio(&mut self) -> &mut Self {
        self.inherit_stdin().inherit_stdout().inherit_stderr()
    }

    /// The guest's stdout goes into `buffer`.
    pub fn stdout(&mut self, buffer: OutputBuffer) -> &mut Self {
        self.stdout = Output::Buffer(buffer);
        self
    }

    /// The guest's stderr goes into `buffer`.
    pub fn stderr(&mut self, buffer: OutputBuffer) -> &mut Self {
        self.stderr = Output::Buffer(buffer);
        self
    }

    /// Gives the guest the host directory `host` under the name `guest`
    /// (`.` for the guest's working directory, as wasi-libc resolves
    /// relative paths against a pre-opened `.`). Everything below it is
    /// reachable, nothing above. Opened by [`build`](Self::build).
    pub fn preopened_dir(
        &mut self,
        host: impl Into<PathBuf>,
        guest: impl Into<String>,
    ) -> &mut Self {
        self.preopens.push((host.into(), guest.into()));
        self
    }

    /// The context: opens the pre-opened directories (descriptors 3, 4,
    /// ... in the order given). Fails if one cannot be opened, or an
    /// argument or environment entry cannot be a C string (it holds a NUL,
    /// or a key holds `=`).
    pub fn build(&mut self) -> Result<WasiCtx, Error> {
        let builder = core::mem::take(self);
        let c_string = |what: &str, text: &str| {
            if text.contains('\0') {
                Err(Error::from(ErrorKind::Config(format!(
                    "WASI {what} `{text}` holds a NUL byte"
                ))))
            } else {
                Ok(text.as_bytes().to_vec())
            }
        };
        let args = builder
            .args
            .iter()
            .map(|arg| c_string("argument", arg))
            .collect::<Result<Vec<_>, _>>()?;
        let env = builder
            .env
            .iter()
            .map(|(key, value)| {
                if key.is_empty() || key.contains('=') {
                    return Err(Error::from(ErrorKind::Config(format!(
                        "WASI environment variable name `{key}` is empty or holds `=`"
                    ))));
                }
                c_string("environment variable", &format!("{key}={value}"))
            })
            .collect::<Result<Vec<_>, _>>()?;

        let mut table = Table::default();
        let standard = [
            Descriptor::Stdin(builder.stdin),
            Descriptor::Output(builder.stdout),
            Descriptor::Output(builder.stderr),
        ];
        for descriptor in standard {
            table
                .push(descriptor)
                .expect("the table has room for three");
        }
        for (host, guest) in builder.preopens {
            let dir = cap_std::fs::Dir::open_ambient_dir(&host, cap_std::ambient_authority())
                .map_err(|source| {
                    Error::from(ErrorKind::Io {
                        path: host.display().to_string(),
                        source,
                    })
                })?;
            table
                .push(Descriptor::Dir(OpenDir {
                    dir,
                    preopen_name: Some(guest),
                }))
                .map_err(|_| {
                    Error::from(ErrorKind::Config("too many pre-opened directories".into()))
                })?;
        }
        Ok(WasiCtx { args, env, table })
    }
}

/// How a WASI program ended early: it called `proc_exit` with this code.
///
/// `proc_exit` unwinds the guest as a trap whose host error
/// ([`Trap::host_error`](crate::Trap::host_error)) is an
/// [`Error`] holding this; [`I32Exit::from_error`] finds it. The code
/// is below [`I32Exit::LIMIT`]: for a larger one (or a negative one)
/// `proc_exit` fails with a host error instead ("exit with invalid exit
/// status"), as Wasmtime's does.
#[derive(Copy, Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the program exited with code {0}")]
pub struct I32Exit(pub i32);

impl I32Exit {
    /// The exit codes WASI gives a program are below this: 126 and up
    /// mean "cannot execute", "not found" and death by a signal to a
    /// shell.
    pub const LIMIT: u32 = 126;

    /// The exit code, if `error` is a program's `proc_exit` (as a trap
    /// from a call into wasm, or as the host error itself).
    pub fn from_error(error: &Error) -> Option<i32> {
        let error = match error.downcast_ref::<crate::Trap>() {
            Some(trap) => trap.host_error()?,
            None => error,
        };
        error.downcast_ref::<I32Exit>().map(|exit| exit.0)
    }
}
