//! A spec-script runner: executes `.wast` files (the WebAssembly spec
//! suite's format) against duet's embedding API and counts what passed.
//!
//! # Design
//!
//! The `wast` crate parses a script into directives; each directive is run
//! in order against one file-wide state, `FileRun`:
//!
//! ```text
//!   text ──► wast::parser ──► [directive, directive, …]
//!                                   │ one at a time, each under catch_unwind
//!                                   ▼
//!   FileRun { store, linker ("spectest" + every `register`ed instance),
//!             current instance, named instances, module definitions,
//!             one ExternRef per `ref.extern N` }
//!                                   │
//!                                   ▼
//!   Summary { passed, failed, failures: ["file:line:col: directive: what went wrong"] }
//! ```
//!
//! Every file gets a fresh store and linker: scripts are independent, and
//! the state one script leaves behind (registered names, grown memories)
//! must not leak into the next.
//!
//! # What counts
//!
//! The summary counts *assertions* (`assert_*`) and *module directives*
//! (`module`, `module definition`, `module instance`): each is one pass or
//! one failure. Actions (`register`, a bare `invoke`) are not checks of
//! their own and are not counted when they succeed; when one fails (an
//! unknown module, a trap) it is counted as a failure, because a script
//! whose set-up went wrong cannot be called passing. Directives the runner
//! cannot execute — threads, exceptions, suspensions, GC references — fail
//! with a message saying so: nothing is skipped silently.
//!
//! # How each directive is judged
//!
//! * `module`: compiles and instantiates through the linker; the instance
//!   becomes the current one (and is named, for `(module $M …)`). A module
//!   that fails leaves no current instance, so the assertions after it fail
//!   with "no module" instead of calling an older module by mistake.
//! * `assert_return`: the results must match exactly, by bits for floats,
//!   except the NaN patterns (`nan:canonical`: sign-free quiet NaN with an
//!   empty payload; `nan:arithmetic`: any quiet NaN); a `v128.const` is
//!   cut into the lanes of its shape (`i8x16` ... `f64x2`,
//!   [`crate::v128::LaneShape`]) and each lane matched as a scalar of its
//!   type, so each float lane may be a NaN pattern of its own; `either`
//!   (relaxed SIMD's results) matches when any alternative does;
//!   `ref.null` matches a null of the right kind, `ref.extern N` the
//!   reference the script made for `N`, `ref.func` any non-null function
//!   reference. A mismatched `v128` is shown in the expected lane shape.
//!   `v128.const` arguments are passed as [`Val::V128`].
//! * `assert_trap`, `assert_exhaustion`: the call (or, for a module, its
//!   instantiation: the spec's `assert_uninstantiable` cases) must fail with
//!   a trap whose message contains the expected text
//!   ([`trap_message_matches`]); exhaustion must be a stack overflow.
//! * `assert_invalid`, `assert_malformed`: compiling must fail; any error
//!   will do (the engine's messages are not the reference interpreter's).
//!   A quoted (`module quote`) text that the `wast` crate itself cannot
//!   parse or encode is malformed, and passes.
//! * `assert_unlinkable`: the module must compile and its instantiation
//!   fail with an unlinkable error containing the expected text.
//! * `assert_invalid_custom`, `assert_malformed_custom`: custom sections do
//!   not affect validity, so the module must compile.
//!
//! # Stack
//!
//! `assert_exhaustion` recurses until wasm's stack limit
//! ([`duet::Config::max_wasm_stack`], 512 KiB by default) traps. Each file
//! runs on its own thread with a [`STACK_SIZE`] stack, far more than the
//! wasm limit plus the runner's own frames, so the limit always fires
//! first.

use crate::v128::{self, LaneShape};
use ::wast::core::{AbstractHeapType, HeapType, NanPattern, V128Pattern, WastArgCore, WastRetCore};
use ::wast::lexer::Lexer;
use ::wast::parser::{self, ParseBuffer};
use ::wast::token::{F32, F64, Id};
use ::wast::{
    QuoteWat, QuoteWatTest, Wast, WastArg, WastDirective, WastExecute, WastInvoke, WastRet, Wat,
};
use duet::{
    Engine, Error as DuetError, ErrorKind, ExternRef, FuncType, GlobalType, Instance, Linker,
    Memory, MemoryType, Module, RefType, Store, Table, TableType, Trap, TrapCode, Val, ValType,
};
use std::collections::HashMap;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

/// The stack each script runs on: far above the wasm stack limit, so that
/// `assert_exhaustion` meets the limit, never the end of the real stack.
pub const STACK_SIZE: usize = 16 << 20;

/// Runs `.wast` scripts with one [`Engine`].
#[derive(Clone)]
pub struct WastRunner {
    engine: Engine,
}

/// What running one or more scripts found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Assertions and module directives that passed.
    pub passed: u64,
    /// Assertions, module directives and actions that failed.
    pub failed: u64,
    /// One line per failure: `file:line:column: directive: what went wrong`.
    pub failures: Vec<String>,
}

impl Summary {
    /// Adds `other`'s counts and failures to this one.
    pub fn merge(&mut self, other: Summary) {
        self.passed += other.passed;
        self.failed += other.failed;
        self.failures.extend(other.failures);
    }
}

impl fmt::Display for Summary {
    /// The summary line, `N passed, M failed`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} passed, {} failed", self.passed, self.failed)
    }
}

/// Why a script could not be run at all. Each displays as one line.
#[derive(Debug)]
pub enum WastError {
    /// The file could not be read (or is not UTF-8).
    Read {
        /// The script's path.
        path: PathBuf,
        /// What went wrong.
        error: std::io::Error,
    },
    /// The script is not valid `.wast` syntax: `file:line:column: message`.
    Parse(String),
    /// The `spectest` module could not be built: `file: message`.
    Setup(String),
    /// The script's thread could not be started or panicked outside a
    /// directive: `file: message`.
    Thread(String),
}

impl fmt::Display for WastError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WastError::Read { path, error } => {
                write!(f, "{}: cannot read the file: {error}", path.display())
            }
            WastError::Parse(message) | WastError::Setup(message) | WastError::Thread(message) => {
                f.write_str(message)
            }
        }
    }
}

impl std::error::Error for WastError {}

impl WastRunner {
    /// A runner that compiles every module with `engine`.
    pub fn new(engine: Engine) -> WastRunner {
        WastRunner { engine }
    }

    /// Runs the script at `path`; failures are named after the path.
    pub fn run_file(&self, path: &Path) -> Result<Summary, WastError> {
        let read_error = |error| WastError::Read {
            path: path.to_path_buf(),
            error,
        };
        let bytes = std::fs::read(path).map_err(read_error)?;
        let text = String::from_utf8(bytes)
            .map_err(|e| read_error(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))?;
        self.run_str(&text, &path.display().to_string())
    }

    /// Runs the script `text`; `filename` names it in failures.
    pub fn run_str(&self, text: &str, filename: &str) -> Result<Summary, WastError> {
        std::thread::scope(|scope| {
            let thread = std::thread::Builder::new()
                .name(format!("wast {filename}"))
                .stack_size(STACK_SIZE)
                .spawn_scoped(scope, || run_script(&self.engine, text, filename))
                .map_err(|e| {
                    WastError::Thread(format!("{filename}: cannot start a thread: {e}"))
                })?;
            thread.join().unwrap_or_else(|payload| {
                Err(WastError::Thread(format!(
                    "{filename}: the runner panicked: {}",
                    panic_message(&*payload)
                )))
            })
        })
    }
}

/// Parses and runs one script on the current thread.
fn run_script(engine: &Engine, text: &str, filename: &str) -> Result<Summary, WastError> {
    let parse_error = |error: ::wast::Error| {
        let (line, column) = error.span().linecol_in(text);
        WastError::Parse(format!(
            "{filename}:{}:{}: {}",
            line + 1,
            column + 1,
            error.message()
        ))
    };
    // The suite's names.wast spells names with bidirectional-override
    // characters on purpose; the lexer refuses them unless told not to.
    let mut lexer = Lexer::new(text);
    lexer.allow_confusing_unicode(true);
    let buffer = ParseBuffer::new_with_lexer(lexer).map_err(parse_error)?;
    let script = parser::parse::<Wast<'_>>(&buffer).map_err(parse_error)?;
    let mut run = FileRun::new(engine, filename, text)?;
    for directive in script.directives {
        run.run_directive(directive);
    }
    Ok(run.summary)
}

/// How a directive counts in the [`Summary`] (see the module docs).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Counts {
    /// An assertion or a module directive: a pass or a failure.
    Always,
    /// An action: counted only when it fails.
    OnFailure,
}

/// A wasm call's or instantiation's outcome: its results, or the engine's
/// error (a trap, a link error, …).
type Outcome = Result<Vec<Val>, DuetError>;

/// The state of one script: see the module docs.
struct FileRun<'a> {
    engine: Engine,
    filename: &'a str,
    text: &'a str,
    store: Store<()>,
    linker: Linker<()>,
    /// The instance of the last `module` or `module instance`, which
    /// unnamed `invoke`, `get` and `register` refer to.
    current: Option<Instance>,
    /// Instances by their script name (`$M`).
    instances: HashMap<String, Instance>,
    /// `module definition`s by name.
    definitions: HashMap<String, Module>,
    /// The last `module definition`, for `module instance` without a name.
    last_definition: Option<Module>,
    /// The reference each `ref.extern N` stands for, made on first use.
    extern_refs: HashMap<u32, ExternRef>,
    summary: Summary,
}

impl<'a> FileRun<'a> {
    fn new(engine: &Engine, filename: &'a str, text: &'a str) -> Result<Self, WastError> {
        let mut store = Store::new(engine, ());
        let mut linker = Linker::new(engine);
        define_spectest(&mut store, &mut linker)
            .map_err(|e| WastError::Setup(format!("{filename}: the spectest module: {e}")))?;
        Ok(FileRun {
            engine: engine.clone(),
            filename,
            text,
            store,
            linker,
            current: None,
            instances: HashMap::new(),
            definitions: HashMap::new(),
            last_definition: None,
            extern_refs: HashMap::new(),
            summary: Summary::default(),
        })
    }

    /// Runs `directive` and records its outcome.
    fn run_directive(&mut self, directive: WastDirective<'_>) {
        let span = directive.span();
        let (name, counts, result) =
            match catch_unwind(AssertUnwindSafe(|| self.execute(directive))) {
                Ok(outcome) => outcome,
                Err(payload) => (
                    "directive",
                    Counts::Always,
                    Err(format!("panicked: {}", panic_message(&*payload))),
                ),
            };
        match result {
            Ok(()) => {
                if counts == Counts::Always {
                    self.summary.passed += 1;
                }
            }
            Err(message) => {
                let (line, column) = span.linecol_in(self.text);
                self.summary.failed += 1;
                self.summary.failures.push(format!(
                    "{}:{}:{}: {name}: {message}",
                    self.filename,
                    line + 1,
                    column + 1
                ));
            }
        }
    }

    /// Executes one directive; returns its name, how it counts, and what
    /// went wrong.
    fn execute(
        &mut self,
        directive: WastDirective<'_>,
    ) -> (&'static str, Counts, Result<(), String>) {
        use Counts::{Always, OnFailure};
        match directive {
            WastDirective::Module(mut module) => ("module", Always, self.module(&mut module)),
            WastDirective::ModuleDefinition(mut module) => (
                "module definition",
                Always,
                self.module_definition(&mut module),
            ),
            WastDirective::ModuleInstance {
                instance, module, ..
            } => (
                "module instance",
                Always,
                self.module_instance(instance, module),
            ),
            WastDirective::Register { name, module, .. } => {
                ("register", OnFailure, self.register(name, module))
            }
            WastDirective::Invoke(invoke) => (
                "invoke",
                OnFailure,
                self.invoke(&invoke).and_then(|outcome| {
                    outcome
                        .map(drop)
                        .map_err(|e| format!("{}: {}", describe_invoke(&invoke), one_line(&e)))
                }),
            ),
            WastDirective::AssertReturn { exec, results, .. } => {
                ("assert_return", Always, self.assert_return(exec, &results))
            }
            WastDirective::AssertTrap { exec, message, .. } => {
                ("assert_trap", Always, self.assert_trap(exec, message))
            }
            WastDirective::AssertExhaustion { call, message, .. } => (
                "assert_exhaustion",
                Always,
                self.assert_exhaustion(&call, message),
            ),
            WastDirective::AssertInvalid { mut module, .. } => {
                ("assert_invalid", Always, self.assert_invalid(&mut module))
            }
            WastDirective::AssertMalformed { mut module, .. } => (
                "assert_malformed",
                Always,
                self.assert_malformed(&mut module),
            ),
            WastDirective::AssertUnlinkable {
                mut module,
                message,
                ..
            } => (
                "assert_unlinkable",
                Always,
                self.assert_unlinkable(&mut module, message),
            ),
            WastDirective::AssertInvalidCustom { mut module, .. } => (
                "assert_invalid_custom",
                Always,
                self.compile(&mut module).map(drop),
            ),
            WastDirective::AssertMalformedCustom { mut module, .. } => (
                "assert_malformed_custom",
                Always,
                self.compile(&mut module).map(drop),
            ),
            WastDirective::AssertException { .. } => (
                "assert_exception",
                Always,
                Err("exceptions are not supported by the runner".into()),
            ),
            WastDirective::AssertSuspension { .. } => (
                "assert_suspension",
                Always,
                Err("stack switching is not supported by the runner".into()),
            ),
            WastDirective::Thread(_) => (
                "thread",
                Always,
                Err("threads are not supported by the runner".into()),
            ),
            WastDirective::Wait { .. } => (
                "wait",
                Always,
                Err("threads are not supported by the runner".into()),
            ),
        }
    }

    // ---- Modules -------------------------------------------------------

    /// Encodes and compiles `module`.
    fn compile(&mut self, module: &mut QuoteWat<'_>) -> Result<Module, String> {
        let bytes = module
            .encode()
            .map_err(|e| format!("the text does not encode: {}", e.message()))?;
        compile_binary(&self.engine, &bytes)
            .map_err(|e| format!("the module does not compile: {}", one_line(&e)))
    }

    /// `(module …)`: compile, instantiate, make current.
    fn module(&mut self, module: &mut QuoteWat<'_>) -> Result<(), String> {
        self.current = None;
        let name = module.name().map(|id| id.name().to_string());
        let compiled = self.compile(module)?;
        let instance = self
            .linker
            .instantiate(&mut self.store, &compiled)
            .map_err(|e| format!("instantiation failed: {}", one_line(&e)))?;
        self.current = Some(instance);
        if let Some(name) = name {
            self.instances.insert(name, instance);
        }
        Ok(())
    }

    /// `(module definition $M …)`: compile only.
    fn module_definition(&mut self, module: &mut QuoteWat<'_>) -> Result<(), String> {
        self.last_definition = None;
        let name = module.name().map(|id| id.name().to_string());
        let compiled = self.compile(module)?;
        if let Some(name) = name {
            self.definitions.insert(name, compiled.clone());
        }
        self.last_definition = Some(compiled);
        Ok(())
    }

    /// `(module instance $I $M)`: instantiate a definition.
    fn module_instance(
        &mut self,
        instance: Option<Id<'_>>,
        module: Option<Id<'_>>,
    ) -> Result<(), String> {
        self.current = None;
        let definition = match module {
            Some(id) => self.definitions.get(id.name()),
            None => self.last_definition.as_ref(),
        }
        .ok_or_else(|| match module {
            Some(id) => format!("no module definition ${}", id.name()),
            None => "no module definition before it".to_string(),
        })?;
        let created = self
            .linker
            .instantiate(&mut self.store, definition)
            .map_err(|e| format!("instantiation failed: {}", one_line(&e)))?;
        self.current = Some(created);
        if let Some(id) = instance {
            self.instances.insert(id.name().to_string(), created);
        }
        Ok(())
    }

    /// The instance `id` names, or the current one.
    fn instance(&self, id: Option<Id<'_>>) -> Result<Instance, String> {
        match id {
            Some(id) => self
                .instances
                .get(id.name())
                .copied()
                .ok_or_else(|| format!("no module ${}", id.name())),
            None => self.current.ok_or_else(|| {
                "no current module (the last module directive failed, or there was none)"
                    .to_string()
            }),
        }
    }

    /// `(register "name" $M)`.
    fn register(&mut self, name: &str, module: Option<Id<'_>>) -> Result<(), String> {
        let instance = self.instance(module)?;
        self.linker
            .instance(&mut self.store, name, instance)
            .map(drop)
            .map_err(|e| one_line(&e))
    }

    // ---- Actions -------------------------------------------------------

    /// Calls the export `invoke` names. The outer error is the runner's
    /// (no such module or export, an argument it cannot express); the
    /// inner one is the engine's.
    fn invoke(&mut self, invoke: &WastInvoke<'_>) -> Result<Outcome, String> {
        let instance = self.instance(invoke.module)?;
        let func = instance
            .get_func(&self.store, invoke.name)
            .map_err(|e| format!("{}: {}", describe_invoke(invoke), one_line(&e)))?
            .ok_or_else(|| {
                format!(
                    "{}: no exported function of that name",
                    describe_invoke(invoke)
                )
            })?;
        let args = invoke
            .args
            .iter()
            .map(|arg| self.argument(arg))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("{}: {e}", describe_invoke(invoke)))?;
        let result_count = func
            .ty(&self.store)
            .map_err(|e| format!("{}: {}", describe_invoke(invoke), one_line(&e)))?
            .results
            .len();
        let mut results = vec![Val::I32(0); result_count];
        Ok(func
            .call(&mut self.store, &args, &mut results)
            .map(|()| results))
    }

    /// The value a script argument stands for.
    fn argument(&mut self, arg: &WastArg<'_>) -> Result<Val, String> {
        let WastArg::Core(arg) = arg else {
            return Err("component-model values are not supported".into());
        };
        Ok(match arg {
            WastArgCore::I32(v) => Val::I32(*v),
            WastArgCore::I64(v) => Val::I64(*v),
            WastArgCore::F32(v) => Val::F32(v.bits),
            WastArgCore::F64(v) => Val::F64(v.bits),
            WastArgCore::V128(v) => Val::V128(u128::from_le_bytes(v.to_le_bytes())),
            WastArgCore::RefNull(heap) => Val::null(null_ref_type(heap)?),
            WastArgCore::RefExtern(n) => Val::ExternRef(Some(self.extern_ref(*n))),
            WastArgCore::RefHost(_) => {
                return Err("`ref.host` values (GC) are not supported".into());
            }
        })
    }

    /// The reference `ref.extern n` stands for, the same one every time.
    fn extern_ref(&mut self, n: u32) -> ExternRef {
        let store = &mut self.store;
        *self
            .extern_refs
            .entry(n)
            .or_insert_with(|| ExternRef::new(store, n))
    }

    /// Runs `exec`: a call, a global's value, or a module's instantiation
    /// (which has no results).
    fn execute_action(&mut self, exec: WastExecute<'_>) -> Result<Outcome, String> {
        match exec {
            WastExecute::Invoke(invoke) => self.invoke(&invoke),
            WastExecute::Get { module, global, .. } => {
                let instance = self.instance(module)?;
                let exported = instance
                    .get_global(&self.store, global)
                    .map_err(|e| format!("get \"{global}\": {}", one_line(&e)))?
                    .ok_or_else(|| format!("get \"{global}\": no exported global of that name"))?;
                let value = exported
                    .get(&self.store)
                    .map_err(|e| format!("get \"{global}\": {}", one_line(&e)))?;
                Ok(Ok(vec![value]))
            }
            WastExecute::Wat(mut wat) => {
                let module = self.compile_wat(&mut wat)?;
                Ok(self
                    .linker
                    .instantiate(&mut self.store, &module)
                    .map(|_| Vec::new()))
            }
        }
    }

    /// Encodes and compiles a module that must be valid.
    fn compile_wat(&mut self, wat: &mut Wat<'_>) -> Result<Module, String> {
        let bytes = wat
            .encode()
            .map_err(|e| format!("the text does not encode: {}", e.message()))?;
        compile_binary(&self.engine, &bytes)
            .map_err(|e| format!("the module does not compile: {}", one_line(&e)))
    }

    // ---- Assertions ----------------------------------------------------

    fn assert_return(
        &mut self,
        exec: WastExecute<'_>,
        expected: &[WastRet<'_>],
    ) -> Result<(), String> {
        let what = describe_execute(&exec);
        let actual = self
            .execute_action(exec)?
            .map_err(|e| format!("{what}: expected results, got {}", one_line(&e)))?;
        if actual.len() != expected.len() {
            return Err(format!(
                "{what}: expected {} results, got {} ({})",
                expected.len(),
                actual.len(),
                self.describe_values(&actual)
            ));
        }
        for (index, (actual, expected)) in actual.iter().zip(expected).enumerate() {
            let WastRet::Core(expected) = expected else {
                return Err(format!("{what}: component-model results are not supported"));
            };
            if !self.result_matches(actual, expected)? {
                // A vector reads best in the lane shape it was expected in.
                let got = match (expected_shape(expected), actual) {
                    (Some(shape), Val::V128(bits)) => format!("v128 {}", shape.describe(*bits)),
                    _ => self.describe_value(actual),
                };
                return Err(format!(
                    "{what}: result {index}: expected {}, got {got}",
                    describe_expected(expected)
                ));
            }
        }
        Ok(())
    }

    /// Whether `actual` matches the pattern `expected`; an error for a
    /// pattern the runner cannot check.
    fn result_matches(&self, actual: &Val, expected: &WastRetCore<'_>) -> Result<bool, String> {
        Ok(match (expected, actual) {
            (WastRetCore::I32(e), Val::I32(a)) => e == a,
            (WastRetCore::I64(e), Val::I64(a)) => e == a,
            (WastRetCore::F32(e), Val::F32(a)) => f32_matches(e, *a),
            (WastRetCore::F64(e), Val::F64(a)) => f64_matches(e, *a),
            (WastRetCore::V128(e), Val::V128(a)) => v128_matches(e, *a),
            (WastRetCore::RefNull(heap), actual) => {
                let kind = match heap {
                    None => None,
                    Some(heap) => Some(null_ref_type(heap)?),
                };
                matches!(
                    (kind, actual),
                    (None | Some(RefType::FuncRef), Val::FuncRef(None))
                        | (None | Some(RefType::ExternRef), Val::ExternRef(None))
                )
            }
            (WastRetCore::RefExtern(e), Val::ExternRef(Some(a))) => match e {
                None => true,
                Some(n) => {
                    let data = a.data(&self.store).map_err(|e| one_line(&e))?;
                    data.downcast_ref::<u32>() == Some(n)
                }
            },
            (WastRetCore::RefFunc(None), Val::FuncRef(Some(_))) => true,
            (WastRetCore::RefFunc(Some(_)), _) => {
                return Err("`ref.func` with a function index cannot be checked".into());
            }
            (WastRetCore::Either(choices), actual) => {
                for choice in choices {
                    if self.result_matches(actual, choice)? {
                        return Ok(true);
                    }
                }
                false
            }
            (
                WastRetCore::RefHost(_)
                | WastRetCore::RefAny
                | WastRetCore::RefEq
                | WastRetCore::RefArray
                | WastRetCore::RefStruct
                | WastRetCore::RefI31
                | WastRetCore::RefI31Shared,
                _,
            ) => return Err("GC references are not supported".into()),
            _ => false,
        })
    }

    fn assert_trap(&mut self, exec: WastExecute<'_>, expected: &str) -> Result<(), String> {
        let what = describe_execute(&exec);
        match self.execute_action(exec)? {
            Ok(results) => Err(format!(
                "{what}: expected trap \"{expected}\", got results ({})",
                self.describe_values(&results)
            )),
            Err(error)
                if error
                    .downcast_ref::<Trap>()
                    .is_some_and(|trap| trap_message_matches(trap.code(), expected)) =>
            {
                Ok(())
            }
            Err(error) => Err(format!(
                "{what}: expected trap \"{expected}\", got {}",
                one_line(&error)
            )),
        }
    }

    fn assert_exhaustion(&mut self, call: &WastInvoke<'_>, expected: &str) -> Result<(), String> {
        let what = describe_invoke(call);
        match self.invoke(call)? {
            Ok(results) => Err(format!(
                "{what}: expected exhaustion \"{expected}\", got results ({})",
                self.describe_values(&results)
            )),
            Err(error)
                if error.downcast_ref::<Trap>().is_some_and(|trap| {
                    trap.code() == TrapCode::StackOverflow
                        && trap_message_matches(trap.code(), expected)
                }) =>
            {
                Ok(())
            }
            Err(error) => Err(format!(
                "{what}: expected exhaustion \"{expected}\", got {}",
                one_line(&error)
            )),
        }
    }

    fn assert_invalid(&mut self, module: &mut QuoteWat<'_>) -> Result<(), String> {
        match self.compile(module) {
            Ok(_) => Err("the module compiled, but it is invalid".into()),
            Err(_) => Ok(()),
        }
    }

    fn assert_malformed(&mut self, module: &mut QuoteWat<'_>) -> Result<(), String> {
        let bytes = match module.to_test() {
            Ok(QuoteWatTest::Binary(bytes)) => bytes,
            Ok(QuoteWatTest::Text(text)) => {
                // The text parser is the first decoder of a quoted module:
                // text it rejects is malformed.
                let Ok(text) = String::from_utf8(text) else {
                    return Ok(());
                };
                let Ok(buffer) = ParseBuffer::new(&text) else {
                    return Ok(());
                };
                let Ok(mut wat) = parser::parse::<Wat<'_>>(&buffer) else {
                    return Ok(());
                };
                let Ok(bytes) = wat.encode() else {
                    return Ok(());
                };
                bytes
            }
            Err(_) => return Ok(()),
        };
        match compile_binary(&self.engine, &bytes) {
            Ok(_) => Err("the module compiled, but it is malformed".into()),
            Err(_) => Ok(()),
        }
    }

    fn assert_unlinkable(&mut self, module: &mut Wat<'_>, expected: &str) -> Result<(), String> {
        let module = self.compile_wat(module)?;
        match self.linker.instantiate(&mut self.store, &module) {
            Ok(_) => Err(format!(
                "expected \"{expected}\", but the module instantiated"
            )),
            Err(error)
                if matches!(
                    error.downcast_ref(),
                    Some(ErrorKind::Unlinkable(message)) if message.contains(expected)
                ) =>
            {
                Ok(())
            }
            Err(error) => Err(format!("expected \"{expected}\", got {}", one_line(&error))),
        }
    }

    // ---- Messages ------------------------------------------------------

    fn describe_value(&self, val: &Val) -> String {
        match val {
            Val::I32(v) => format!("i32 {v}"),
            Val::I64(v) => format!("i64 {v}"),
            Val::F32(bits) => format!("f32 {}", v128::describe_f32(*bits)),
            Val::F64(bits) => format!("f64 {}", v128::describe_f64(*bits)),
            Val::V128(v) => format!("v128 0x{v:032x}"),
            Val::FuncRef(None) => "ref.null func".into(),
            Val::FuncRef(Some(_)) => "ref.func".into(),
            Val::ExternRef(None) => "ref.null extern".into(),
            Val::ExternRef(Some(r)) => match r.data(&self.store) {
                Ok(data) => match data.downcast_ref::<u32>() {
                    Some(n) => format!("ref.extern {n}"),
                    None => "ref.extern (a host value)".into(),
                },
                Err(error) => format!("ref.extern ({})", one_line(&error)),
            },
        }
    }

    fn describe_values(&self, vals: &[Val]) -> String {
        if vals.is_empty() {
            return "none".into();
        }
        vals.iter()
            .map(|v| self.describe_value(v))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Compiles a module binary. Bytes without the binary magic are malformed
/// here: [`Module::new`] would read them as text.
fn compile_binary(engine: &Engine, bytes: &[u8]) -> Result<Module, DuetError> {
    if !bytes.starts_with(b"\0asm") {
        return Err(ErrorKind::Invalid("magic header not detected".into()).into());
    }
    Module::new(engine, bytes)
}

/// Defines the spec suite's `spectest` module in `linker`.
fn define_spectest(store: &mut Store<()>, linker: &mut Linker<()>) -> Result<(), DuetError> {
    use ValType::{F32, F64, I32, I64};
    let prints: [(&str, &[ValType]); 7] = [
        ("print", &[]),
        ("print_i32", &[I32]),
        ("print_i64", &[I64]),
        ("print_f32", &[F32]),
        ("print_f64", &[F64]),
        ("print_i32_f32", &[I32, F32]),
        ("print_f64_f64", &[F64, F64]),
    ];
    for (name, params) in prints {
        let ty = FuncType {
            params: params.into(),
            results: Box::new([]),
        };
        linker.func_new("spectest", name, ty, |_, _, _| Ok(()))?;
    }
    let globals = [
        ("global_i32", I32, Val::I32(666)),
        ("global_i64", I64, Val::I64(666)),
        ("global_f32", F32, Val::F32(666.6_f32.to_bits())),
        ("global_f64", F64, Val::F64(666.6_f64.to_bits())),
    ];
    for (name, ty, value) in globals {
        let global = duet::Global::new(&mut *store, GlobalType { ty, mutable: false }, value)?;
        linker.define("spectest", name, global)?;
    }
    let table_type = TableType {
        element: RefType::FuncRef,
        minimum: 10,
        maximum: Some(20),
        table64: false,
        init: None,
    };
    let table = Table::new(&mut *store, table_type, Val::FuncRef(None))?;
    linker.define("spectest", "table", table)?;
    let memory_type = MemoryType {
        minimum_pages: 1,
        maximum_pages: Some(2),
        memory64: false,
        shared: false,
        page_size_log2: 16,
    };
    let memory = Memory::new(&mut *store, memory_type)?;
    linker.define("spectest", "memory", memory)?;
    Ok(())
}

/// Whether a trap with `code` satisfies a script expecting the message
/// `expected`. Duet's messages use the spec's wording, some combining two
/// (an out-of-bounds `call_indirect` is "undefined element" to the spec
/// and "out of bounds table access" to the table instructions), so the
/// expected text must appear in ours. Some scripts add the element index
/// ("uninitialized element 2"), which the trap does not carry: a trailing
/// number is left out of the comparison.
pub fn trap_message_matches(code: TrapCode, expected: &str) -> bool {
    let actual = code.message();
    if actual.contains(expected) {
        return true;
    }
    match expected.rsplit_once(' ') {
        Some((prefix, number)) if number.bytes().all(|b| b.is_ascii_digit()) => {
            actual.contains(prefix)
        }
        _ => false,
    }
}

/// The reference type a `ref.null` names, for the types duet has.
fn null_ref_type(heap: &HeapType<'_>) -> Result<RefType, String> {
    match heap {
        HeapType::Abstract {
            shared: false,
            ty: AbstractHeapType::Func,
        } => Ok(RefType::FuncRef),
        HeapType::Abstract {
            shared: false,
            ty: AbstractHeapType::Extern,
        } => Ok(RefType::ExternRef),
        _ => Err(format!("`ref.null` of an unsupported heap type: {heap:?}")),
    }
}

/// Whether the `f32` with bits `actual` matches `expected`: the same bits,
/// or for `nan:canonical` a quiet NaN of either sign with an empty payload,
/// for `nan:arithmetic` any quiet NaN (the spec's patterns).
fn f32_matches(expected: &NanPattern<F32>, actual: u32) -> bool {
    match expected {
        NanPattern::CanonicalNan => actual & 0x7fff_ffff == 0x7fc0_0000,
        NanPattern::ArithmeticNan => actual & 0x7fc0_0000 == 0x7fc0_0000,
        NanPattern::Value(e) => e.bits == actual,
    }
}

/// [`f32_matches`] for `f64`.
fn f64_matches(expected: &NanPattern<F64>, actual: u64) -> bool {
    match expected {
        NanPattern::CanonicalNan => actual & 0x7fff_ffff_ffff_ffff == 0x7ff8_0000_0000_0000,
        NanPattern::ArithmeticNan => actual & 0x7ff8_0000_0000_0000 == 0x7ff8_0000_0000_0000,
        NanPattern::Value(e) => e.bits == actual,
    }
}

/// The lane shape of a `v128.const` pattern.
fn pattern_shape(pattern: &V128Pattern) -> LaneShape {
    match pattern {
        V128Pattern::I8x16(_) => LaneShape::I8x16,
        V128Pattern::I16x8(_) => LaneShape::I16x8,
        V128Pattern::I32x4(_) => LaneShape::I32x4,
        V128Pattern::I64x2(_) => LaneShape::I64x2,
        V128Pattern::F32x4(_) => LaneShape::F32x4,
        V128Pattern::F64x2(_) => LaneShape::F64x2,
    }
}

/// The lane shape of the first `v128.const` in `expected` (itself or, for
/// `either`, its first alternative that is one).
fn expected_shape(expected: &WastRetCore<'_>) -> Option<LaneShape> {
    match expected {
        WastRetCore::V128(pattern) => Some(pattern_shape(pattern)),
        WastRetCore::Either(choices) => choices.iter().find_map(expected_shape),
        _ => None,
    }
}

/// Whether the `v128` `actual` matches `expected` lane by lane, cut into
/// the pattern's lane shape: integer lanes by their bits, float lanes as
/// [`f32_matches`] and [`f64_matches`] match scalars, so each lane may be
/// a NaN pattern of its own.
fn v128_matches(expected: &V128Pattern, actual: u128) -> bool {
    let shape = pattern_shape(expected);
    let lane = |index| shape.lane(actual, index);
    let all_bits = |lanes: &mut dyn Iterator<Item = u64>| {
        lanes.enumerate().all(|(index, bits)| lane(index) == bits)
    };
    match expected {
        V128Pattern::I8x16(lanes) => all_bits(&mut lanes.iter().map(|&v| u64::from(v as u8))),
        V128Pattern::I16x8(lanes) => all_bits(&mut lanes.iter().map(|&v| u64::from(v as u16))),
        V128Pattern::I32x4(lanes) => all_bits(&mut lanes.iter().map(|&v| u64::from(v as u32))),
        V128Pattern::I64x2(lanes) => all_bits(&mut lanes.iter().map(|&v| v as u64)),
        V128Pattern::F32x4(lanes) => (lanes.iter().enumerate())
            .all(|(index, pattern)| f32_matches(pattern, lane(index) as u32)),
        V128Pattern::F64x2(lanes) => {
            (lanes.iter().enumerate()).all(|(index, pattern)| f64_matches(pattern, lane(index)))
        }
    }
}

/// A float pattern: its value as `value` describes it, or the NaN
/// pattern's name.
fn describe_float<T>(pattern: &NanPattern<T>, value: impl Fn(&T) -> String) -> String {
    match pattern {
        NanPattern::CanonicalNan => "nan:canonical".into(),
        NanPattern::ArithmeticNan => "nan:arithmetic".into(),
        NanPattern::Value(v) => value(v),
    }
}

/// A `v128.const` pattern as the script writes it: its shape, then each
/// lane (integers signed, floats with their bits, NaN patterns by name).
fn describe_v128_pattern(pattern: &V128Pattern) -> String {
    let f32_lane = |lane| describe_float(lane, |v: &F32| v128::describe_f32(v.bits));
    let f64_lane = |lane| describe_float(lane, |v: &F64| v128::describe_f64(v.bits));
    let lanes: Vec<String> = match pattern {
        V128Pattern::I8x16(lanes) => lanes.iter().map(i8::to_string).collect(),
        V128Pattern::I16x8(lanes) => lanes.iter().map(i16::to_string).collect(),
        V128Pattern::I32x4(lanes) => lanes.iter().map(i32::to_string).collect(),
        V128Pattern::I64x2(lanes) => lanes.iter().map(i64::to_string).collect(),
        V128Pattern::F32x4(lanes) => lanes.iter().map(f32_lane).collect(),
        V128Pattern::F64x2(lanes) => lanes.iter().map(f64_lane).collect(),
    };
    format!("v128 {} {}", pattern_shape(pattern).name(), lanes.join(" "))
}

fn describe_expected(expected: &WastRetCore<'_>) -> String {
    match expected {
        WastRetCore::I32(v) => format!("i32 {v}"),
        WastRetCore::I64(v) => format!("i64 {v}"),
        WastRetCore::F32(pattern) => {
            format!(
                "f32 {}",
                describe_float(pattern, |v| v128::describe_f32(v.bits))
            )
        }
        WastRetCore::F64(pattern) => {
            format!(
                "f64 {}",
                describe_float(pattern, |v| v128::describe_f64(v.bits))
            )
        }
        WastRetCore::V128(pattern) => describe_v128_pattern(pattern),
        WastRetCore::RefNull(None) => "ref.null".into(),
        WastRetCore::RefNull(Some(heap)) => match null_ref_type(heap) {
            Ok(RefType::FuncRef) => "ref.null func".into(),
            Ok(RefType::ExternRef) => "ref.null extern".into(),
            Err(_) => format!("ref.null {heap:?}"),
        },
        WastRetCore::RefExtern(None) => "ref.extern".into(),
        WastRetCore::RefExtern(Some(n)) => format!("ref.extern {n}"),
        WastRetCore::RefFunc(_) => "ref.func".into(),
        WastRetCore::Either(choices) => choices
            .iter()
            .map(describe_expected)
            .collect::<Vec<_>>()
            .join(" or "),
        other => format!("{other:?}"),
    }
}

fn describe_invoke(invoke: &WastInvoke<'_>) -> String {
    match invoke.module {
        Some(id) => format!("invoke ${} \"{}\"", id.name(), invoke.name),
        None => format!("invoke \"{}\"", invoke.name),
    }
}

fn describe_execute(exec: &WastExecute<'_>) -> String {
    match exec {
        WastExecute::Invoke(invoke) => describe_invoke(invoke),
        WastExecute::Get { global, .. } => format!("get \"{global}\""),
        WastExecute::Wat(_) => "module".into(),
    }
}

/// An engine error on one line: a trap's message without its backtrace.
fn one_line(error: &DuetError) -> String {
    match error.downcast_ref::<Trap>() {
        Some(trap) => format!("trap \"{}\"", trap.code().message()),
        None => error
            .to_string()
            .lines()
            .next()
            .unwrap_or_default()
            .to_string(),
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(script: &str) -> Summary {
        let runner = WastRunner::new(Engine::default());
        runner
            .run_str(script, "test.wast")
            .expect("the script runs")
    }

    /// Checks that every directive of `script` passed, and how many counted.
    fn assert_passes(script: &str, passed: u64) {
        let summary = run(script);
        assert_eq!(summary.failures, Vec::<String>::new());
        assert_eq!((summary.passed, summary.failed), (passed, 0));
    }

    #[test]
    fn every_directive_kind_runs() {
        assert_passes(
            r#"
            (module definition $D
              (global (export "g") (mut i32) (i32.const 1))
              (func (export "get") (result i32) (global.get 0)))
            (module instance $I1 $D)
            (module instance $I2 $D)
            (assert_return (invoke $I1 "get") (i32.const 1))
            (register "i1" $I1)
            (module $uses
              (import "i1" "g" (global (mut i32)))
              (func (export "bump") (global.set 0 (i32.add (global.get 0) (i32.const 1)))))
            (invoke "bump")
            (assert_return (get $I1 "g") (i32.const 2))
            (assert_return (get $I2 "g") (i32.const 1))
            (module binary "\00asm" "\01\00\00\00")
            (module quote "(func (export \"q\") (result i64) (i64.const -1))")
            (assert_return (invoke "q") (i64.const -1))
            (assert_malformed (module binary "\00asm" "\02\00\00\00") "unknown binary version")
            (assert_malformed (module quote "(func (result i32) (i32.const 0x1_0000_0000))") "constant out of range")
            (assert_malformed (module binary "asm\00") "magic header not detected")
            (assert_invalid (module (func (drop))) "type mismatch")
            (assert_unlinkable (module (import "spectest" "nope" (func))) "unknown import")
            (assert_trap (module (func unreachable) (start 0)) "unreachable")
            (module (func $r (export "r") (call $r)))
            (assert_exhaustion (invoke "r") "call stack exhausted")
            "#,
            18,
        );
    }

    #[test]
    fn values_and_patterns_compare_as_the_spec_says() {
        assert_passes(
            r#"
            (module
              (import "spectest" "print_i32" (func $print_i32 (param i32)))
              (import "spectest" "print" (func $print))
              (import "spectest" "global_i32" (global i32))
              (import "spectest" "table" (table 10 funcref))
              (import "spectest" "memory" (memory 1 2))
              (func $id_ext (export "id_ext") (param externref) (result externref) (local.get 0))
              (func (export "null_func") (result funcref) (ref.null func))
              (func (export "some_func") (result funcref) (ref.func $id_ext))
              (func (export "nan32") (param f32) (result f32) (f32.add (local.get 0) (f32.const 0)))
              (func (export "nan64") (result f64) (f64.div (f64.const 0) (f64.const 0)))
              (func (export "bits") (result f32) (f32.const -0x1p-149))
              (func (export "print") (call $print_i32 (i32.const 1)) (call $print))
              (func (export "spectest_global") (result i32) (global.get 0))
              (elem declare func $id_ext))
            (assert_return (invoke "id_ext" (ref.extern 7)) (ref.extern 7))
            (assert_return (invoke "id_ext" (ref.extern 7)) (ref.extern))
            (assert_return (invoke "id_ext" (ref.null extern)) (ref.null extern))
            (assert_return (invoke "null_func") (ref.null func))
            (assert_return (invoke "some_func") (ref.func))
            (assert_return (invoke "nan32" (f32.const nan:0x200000)) (f32.const nan:arithmetic))
            (assert_return (invoke "nan64") (f64.const nan:canonical))
            (assert_return (invoke "bits") (f32.const -0x1p-149))
            (assert_return (invoke "spectest_global") (either (i32.const 1) (i32.const 666)))
            (assert_return (invoke "print"))
            "#,
            11,
        );
    }

    #[test]
    fn mismatches_fail_with_their_location_and_both_values() {
        let summary = run(concat!(
            "(module (func (export \"f\") (result f32) (f32.const -0)))\n",
            "(assert_return (invoke \"f\") (f32.const 0))\n",
            "(assert_return (invoke \"f\") (f32.const nan:canonical))\n",
            "(assert_trap (invoke \"f\") \"unreachable\")\n",
            "(assert_return (invoke \"missing\"))\n",
            "(assert_invalid (module) \"type mismatch\")\n",
        ));
        assert_eq!(
            (summary.passed, summary.failed),
            (1, 5),
            "{:#?}",
            summary.failures
        );
        assert_eq!(
            summary.failures[0],
            "test.wast:2:2: assert_return: invoke \"f\": result 0: \
             expected f32 0 (0x00000000), got f32 -0 (0x80000000)"
        );
        assert!(summary.failures[1].contains("expected f32 nan:canonical"));
        assert!(summary.failures[2].starts_with("test.wast:4:2: assert_trap:"));
        assert!(summary.failures[2].contains("got results (f32 -0 (0x80000000))"));
        assert!(summary.failures[3].contains("no exported function"));
        assert!(summary.failures[4].contains("compiled, but it is invalid"));
    }

    #[test]
    fn what_the_runner_cannot_check_fails_instead_of_passing() {
        let summary = run(concat!(
            "(module (func (export \"f\") (result i32) (i32.const 0)))\n",
            "(assert_return (invoke \"f\") (v128.const i32x4 0 0 0 0))\n",
            "(invoke \"f\" (v128.const i32x4 0 0 0 0))\n",
            "(assert_return (invoke \"f\") (ref.func 0))\n",
            "(thread $t (invoke \"f\"))\n",
            "(wait $t)\n",
        ));
        assert_eq!(
            (summary.passed, summary.failed),
            (1, 5),
            "{:#?}",
            summary.failures
        );
        // A v128 is now checked and passed like any value: an i32 result
        // does not match a v128 pattern, and a v128 argument is one too
        // many for a function without parameters.
        assert!(
            summary.failures[0].contains("expected v128 i32x4 0 0 0 0, got i32 0"),
            "{}",
            summary.failures[0]
        );
        assert!(
            summary.failures[1].contains("takes 0 arguments, given 1"),
            "{}",
            summary.failures[1]
        );
        assert!(summary.failures[2].contains("cannot be checked"));
        assert!(summary.failures[3].contains("threads are not supported"));
    }

    /// A `v128.const` result pattern, parsed as a script writes it.
    fn v128_pattern(text: &str) -> V128Pattern {
        let buffer = ParseBuffer::new(text).unwrap();
        parser::parse::<V128Pattern>(&buffer).unwrap()
    }

    /// `v128_matches` for the pattern `text` and each of `actual`.
    fn matches(text: &str, actual: &[u128]) -> Vec<bool> {
        let pattern = v128_pattern(text);
        actual.iter().map(|&a| v128_matches(&pattern, a)).collect()
    }

    #[test]
    fn v128_integer_lanes_match_by_bits_in_their_shape() {
        // The same 128 bits in every integer shape (lane 0 lowest).
        let value: u128 = 0xffff_ffff_ffff_fffe_8000_0000_0000_0001;
        for pattern in [
            "i8x16 1 0 0 0 0 0 0 0x80 -2 -1 -1 -1 -1 -1 -1 -1",
            "i16x8 1 0 0 0x8000 -2 -1 -1 -1",
            "i32x4 1 0x80000000 -2 -1",
            "i64x2 0x8000000000000001 -2",
        ] {
            assert_eq!(matches(pattern, &[value]), [true], "{pattern}");
            // Each lane on its own: flipping any bit of the value fails.
            for bit in [0, 7, 8, 63, 64, 127] {
                assert_eq!(
                    matches(pattern, &[value ^ (1 << bit)]),
                    [false],
                    "{pattern} bit {bit}"
                );
            }
        }
        // Unsigned and signed spellings of a lane are the same bits.
        assert_eq!(
            matches(
                "i8x16 255 -1 128 -128 0 0 0 0 0 0 0 0 0 0 0 0",
                &[0x8080_ffff]
            ),
            [true]
        );
        assert_eq!(
            matches("i16x8 65535 0 0 0 0 0 0 -32768", &[0x8000 << 112 | 0xffff]),
            [true]
        );
    }

    #[test]
    fn v128_float_lanes_match_with_a_nan_pattern_per_lane() {
        let f32x4 = |lanes: [u32; 4]| LaneShape::F32x4.from_lanes(&lanes.map(u64::from));
        // Lane 0 canonical, lane 1 arithmetic, lanes 2 and 3 exact.
        let pattern = "f32x4 nan:canonical nan:arithmetic 1.0 -0.0";
        let exact = [0x3f80_0000, 0x8000_0000];
        let with = |nan0: u32, nan1: u32, rest: [u32; 2]| f32x4([nan0, nan1, rest[0], rest[1]]);
        assert_eq!(
            matches(
                pattern,
                &[
                    with(0x7fc0_0000, 0x7fc0_0000, exact),
                    with(0xffc0_0000, 0xffc0_0001, exact), // either sign; any quiet payload
                    with(0x7fc0_0001, 0x7fc0_0000, exact), // canonical: no payload
                    with(0x7fa0_0000, 0x7fc0_0000, exact), // canonical: quiet only
                    with(0x7fc0_0000, 0x7f80_0001, exact), // arithmetic: quiet only
                    with(0x7fc0_0000, 0x3f80_0000, exact), // arithmetic: a number is no NaN
                    with(0x7fc0_0000, 0x7fc0_0000, [0x3f80_0000, 0]), // -0 is not +0
                    with(0x7fc0_0000, 0x7fc0_0000, [0x3f80_0001, 0x8000_0000]),
                ]
            ),
            [true, true, false, false, false, false, false, false]
        );
        // A lane given as a NaN value (not a pattern) matches its bits only.
        assert_eq!(
            matches("f32x4 nan:0x200000 0 0 0", &[0x7fa0_0000, 0x7fc0_0000]),
            [true, false]
        );
        let f64x2 = |lanes: [u64; 2]| LaneShape::F64x2.from_lanes(&lanes);
        assert_eq!(
            matches(
                "f64x2 nan:arithmetic -0x1p-1074",
                &[
                    f64x2([0xfff8_0000_0000_0001, 0x8000_0000_0000_0001]),
                    f64x2([0x7ff8_0000_0000_0000, 0x0000_0000_0000_0001]), // sign of lane 1
                    f64x2([0x7ff0_0000_0000_0001, 0x8000_0000_0000_0001]), // signalling lane 0
                ]
            ),
            [true, false, false]
        );
        assert_eq!(
            matches(
                "f64x2 0.0 nan:canonical",
                &[
                    f64x2([0, 0xfff8_0000_0000_0000]),
                    f64x2([0, 0x7ff8_0000_0000_0001]),
                    f64x2([0x8000_0000_0000_0000, 0x7ff8_0000_0000_0000]),
                ]
            ),
            [true, false, false]
        );
    }

    #[test]
    fn v128_results_and_either_in_scripts() {
        // v128 globals are made by constant expressions, which need no
        // SIMD code: `get` reads them, as `invoke` will read functions'
        // results once the compilers compile SIMD.
        let summary = run(concat!(
            "(module\n",
            "  (global (export \"ints\") v128 (v128.const i32x4 1 -2 3 0x80000000))\n",
            "  (global (export \"nans\") v128 (v128.const f32x4 nan -nan nan:0x400001 -0)))\n",
            "(assert_return (get \"ints\") (v128.const i32x4 1 -2 3 0x80000000))\n",
            "(assert_return (get \"ints\") (v128.const i64x2 0xfffffffe00000001 0x8000000000000003))\n",
            "(assert_return (get \"nans\") (v128.const f32x4 nan:canonical nan:canonical nan:arithmetic -0))\n",
            "(assert_return (get \"ints\") (either (v128.const i32x4 0 0 0 0) (v128.const i16x8 1 0 -2 -1 3 0 0 -32768)))\n",
            "(assert_return (get \"ints\") (v128.const i32x4 1 -2 3 0))\n",
            "(assert_return (get \"nans\") (v128.const f32x4 nan:canonical nan:canonical nan:canonical 0))\n",
            "(assert_return (get \"ints\") (either (v128.const i32x4 0 0 0 0) (v128.const i8x16 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0)))\n",
        ));
        assert_eq!(
            (summary.passed, summary.failed),
            (5, 3),
            "{:#?}",
            summary.failures
        );
        // Failures name the lanes in the expected shape.
        assert!(
            summary.failures[0]
                .ends_with("expected v128 i32x4 1 -2 3 0, got v128 i32x4 1 -2 3 -2147483648"),
            "{}",
            summary.failures[0]
        );
        assert!(
            summary.failures[1].ends_with(
                "expected v128 f32x4 nan:canonical nan:canonical nan:canonical 0 (0x00000000), \
                 got v128 f32x4 NaN (0x7fc00000) NaN (0xffc00000) NaN (0x7fc00001) -0 (0x80000000)"
            ),
            "{}",
            summary.failures[1]
        );
        assert!(
            summary.failures[2].ends_with(
                "expected v128 i32x4 0 0 0 0 or v128 i8x16 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0, \
                 got v128 i32x4 1 -2 3 -2147483648"
            ),
            "{}",
            summary.failures[2]
        );
    }

    #[test]
    fn a_failed_module_leaves_no_current_module() {
        let summary = run(concat!(
            "(module (func (export \"f\")))\n",
            "(module (func (result i32)))\n",
            "(assert_return (invoke \"f\"))\n",
        ));
        assert_eq!(
            (summary.passed, summary.failed),
            (1, 2),
            "{:#?}",
            summary.failures
        );
        assert!(summary.failures[0].contains("module: the module does not compile"));
        assert!(summary.failures[1].contains("no current module"));
    }

    #[test]
    fn scripts_that_do_not_parse_are_errors_with_a_location() {
        let runner = WastRunner::new(Engine::default());
        let error = runner
            .run_str("\n  (assert_return", "bad.wast")
            .unwrap_err();
        assert!(error.to_string().starts_with("bad.wast:2:"), "{error}");
        let error = runner
            .run_file(Path::new("/nonexistent/x.wast"))
            .unwrap_err();
        assert!(
            error.to_string().contains("cannot read the file"),
            "{error}"
        );
    }

    #[test]
    fn trap_messages_match_by_containment_and_ignore_a_trailing_index() {
        assert!(trap_message_matches(
            TrapCode::TableOutOfBounds,
            "undefined element"
        ));
        assert!(trap_message_matches(
            TrapCode::TableOutOfBounds,
            "out of bounds table access"
        ));
        assert!(trap_message_matches(
            TrapCode::IndirectCallToNull,
            "uninitialized element 2"
        ));
        assert!(!trap_message_matches(
            TrapCode::IndirectCallToNull,
            "unreachable"
        ));
        assert!(!trap_message_matches(
            TrapCode::MemoryOutOfBounds,
            "out of bounds table access"
        ));
    }

    #[test]
    fn summaries_merge_and_print_the_summary_line() {
        let mut total = Summary {
            passed: 2,
            failed: 1,
            failures: vec!["a".into()],
        };
        total.merge(Summary {
            passed: 3,
            failed: 1,
            failures: vec!["b".into()],
        });
        assert_eq!(total.to_string(), "5 passed, 2 failed");
        assert_eq!(total.failures, ["a", "b"]);
    }
}
