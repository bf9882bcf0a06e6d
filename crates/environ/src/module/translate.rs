//! [`translate`]: one pass over the binary with wasmparser, validating each
//! payload before reading it into a [`Module`].
//!
//! Every section is validated first and read second, so the reading code may
//! rely on the validator's checks (indices in range, limits, well-typed
//! constant expressions); what it must still check is whether duet supports
//! what the feature set allowed, which it reports as
//! [`TranslationError::Unsupported`].
//!
//! Two rules make the outcome match the spec suites:
//!
//! * the parser decodes with the same [`WasmFeatures`] the validator checks
//!   (without memory64, memory limits are `u32` and a six-byte LEB128 is
//!   malformed, as the 2.0 suite's `binary-leb128.wast` expects);
//! * *invalid* wins over *unsupported*: after the first unsupported
//!   construct, translation stops but validation runs to the end of the
//!   module, and only a module whose sections are all valid gets the
//!   `Unsupported` error. (Bodies are not validated here, so an invalid
//!   body still shows up only when it is compiled.)

use wasmparser::{
    BinaryReaderError, Encoding, FuncToValidate, FunctionBody, KnownCustom, Name, Operator, Parser,
    Payload, ValidPayload, Validator, ValidatorResources, WasmFeatures,
};

use super::Module;
use super::const_expr::{ConstExpr, ConstOp};
use super::index::{
    DefinedFuncIndex, EntityIndex, FuncIndex, GlobalIndex, MemoryIndex, TableIndex, TypeIndex,
};
use super::types::{
    DataKind, DataSegment, ElementItems, ElementKind, ElementSegment, FuncType, GlobalType, Import,
    MemoryType, RefType, TableType, ValType,
};

/// Why a module could not be translated. Every variant names the byte
/// offset in the module where the problem is.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum TranslationError {
    /// The module is malformed or invalid under the chosen features: the
    /// decoder's or validator's message.
    #[error("invalid WebAssembly at offset {offset:#x}: {message}")]
    Invalid {
        /// wasmparser's message.
        message: String,
        /// Byte offset in the module.
        offset: u64,
    },
    /// The module is valid under the chosen features but uses something
    /// duet does not implement yet.
    #[error("unsupported WebAssembly feature at offset {offset:#x}: {feature}")]
    Unsupported {
        /// The proposal and the construct, e.g. `"gc: struct and array types"`.
        feature: &'static str,
        /// Byte offset in the module.
        offset: u64,
    },
    /// The module is valid but exceeds one of duet's limits.
    #[error("implementation limit exceeded at offset {offset:#x}: {what} exceeds {limit}")]
    LimitExceeded {
        /// What is too large.
        what: &'static str,
        /// The largest value duet accepts.
        limit: u64,
        /// Byte offset in the module.
        offset: u64,
    },
}

impl From<BinaryReaderError> for TranslationError {
    fn from(error: BinaryReaderError) -> TranslationError {
        TranslationError::Invalid {
            message: error.message().to_string(),
            offset: error.offset(),
        }
    }
}

/// A translated module: its metadata, and the bodies of its defined
/// functions still in the input bytes, each to be validated by whichever
/// compiler compiles it.
pub struct ModuleTranslation<'data> {
    /// The module's metadata.
    pub module: Module,
    /// The defined functions' bodies, indexed by [`DefinedFuncIndex`].
    pub function_bodies: Vec<FunctionBodyData<'data>>,
}

impl<'data> ModuleTranslation<'data> {
    /// The body of defined function `func`.
    pub fn function_body(&self, func: DefinedFuncIndex) -> &FunctionBodyData<'data> {
        &self.function_bodies[func.index()]
    }
}

/// One defined function's body, not yet validated, and what validating it
/// needs. `Send`, so that functions can be compiled on several threads.
pub struct FunctionBodyData<'data> {
    /// The body (locals and operators) as it is in the input.
    pub body: FunctionBody<'data>,
    /// The module-level facts the body is validated against; turn it into a
    /// `FuncValidator` with `into_validator` and feed it every operator.
    pub validator: FuncToValidate<ValidatorResources>,
}

/// Parses and validates `wasm` under `features`, and collects its
/// [`Module`] and function bodies. The bodies are *not* validated (see
/// [`FunctionBodyData`]).
pub fn translate(
    wasm: &[u8],
    features: WasmFeatures,
) -> Result<ModuleTranslation<'_>, TranslationError> {
    let mut validator = Validator::new_with_features(features);
    // The parser decodes by the same features: without memory64, for
    // example, memory limits are `u32` and a longer LEB128 is malformed.
    let mut parser = Parser::new(0);
    parser.set_features(features);
    let mut translator = Translator::default();
    let mut function_bodies = Vec::new();
    // The first unsupported construct met. Translation stops there, but
    // validation goes on to the end, so that an invalid module is reported
    // as invalid even if it also uses something unsupported.
    let mut first_unsupported = None;
    let mut reached_end = false;
    for payload in parser.parse_all(wasm) {
        let payload = payload?;
        let valid = validator.payload(&payload)?;
        if let Payload::CodeSectionStart { count, .. } = payload {
            // Validated: `count` is the function section's count.
            function_bodies.reserve_exact(count as usize);
        }
        match valid {
            ValidPayload::Ok if first_unsupported.is_none() => match translator.payload(payload) {
                Ok(()) => {}
                Err(error @ TranslationError::Unsupported { .. }) => {
                    first_unsupported = Some(error)
                }
                Err(error) => return Err(error),
            },
            ValidPayload::Ok => {}
            ValidPayload::Func(validator, body) => {
                function_bodies.push(FunctionBodyData { body, validator })
            }
            ValidPayload::End(_) => reached_end = true,
            // Only components nest, and their version payload was already
            // reported as unsupported.
            ValidPayload::Parser(_) => {
                first_unsupported.get_or_insert(unsupported("component model: components", 0));
            }
        }
    }
    if let Some(error) = first_unsupported {
        return Err(error);
    }
    if !reached_end {
        // `parse_all` reports truncation itself; this only guards the
        // invariant that a module ends with an `End` payload.
        return Err(TranslationError::Invalid {
            message: "unexpected end of module".to_string(),
            offset: wasm.len() as u64,
        });
    }
    Ok(ModuleTranslation {
        module: translator.finish(),
        function_bodies,
    })
}

/// Shorthand for an `Unsupported` error.
fn unsupported(feature: &'static str, offset: u64) -> TranslationError {
    TranslationError::Unsupported { feature, offset }
}

/// The module being collected.
#[derive(Default)]
struct Translator {
    module: Module,
}

impl Translator {
    /// Reads one validated payload into the module.
    fn payload(&mut self, payload: Payload<'_>) -> Result<(), TranslationError> {
        match payload {
            Payload::Version {
                encoding, range, ..
            } => {
                if encoding != Encoding::Module {
                    return Err(unsupported("component model: components", range.start));
                }
            }
            Payload::TypeSection(section) => {
                for rec_group in section.into_iter_with_offsets() {
                    let (offset, rec_group) = rec_group?;
                    self.rec_group(rec_group, offset)?;
                }
            }
            Payload::ImportSection(section) => {
                for import in section.into_imports_with_offsets() {
                    let (offset, import) = import?;
                    self.import(import, offset)?;
                }
            }
            Payload::FunctionSection(section) => {
                self.module.functions.reserve(section.count() as usize);
                for ty in section {
                    self.module.functions.push(TypeIndex::from_u32(ty?));
                }
            }
            Payload::TableSection(section) => {
                for table in section.into_iter_with_offsets() {
                    let (offset, table) = table?;
                    let mut ty = table_type(&table.ty, offset)?;
                    if let wasmparser::TableInit::Expr(init) = &table.init {
                        ty.init = Some(self.const_expr(init)?);
                    }
                    self.module.tables.push(ty);
                }
            }
            Payload::MemorySection(section) => {
                for memory in section.into_iter_with_offsets() {
                    let (offset, memory) = memory?;
                    self.module.memories.push(memory_type(&memory, offset)?);
                }
            }
            Payload::TagSection(section) => {
                return Err(unsupported(
                    "exception handling: tags",
                    section.range().start,
                ));
            }
            Payload::GlobalSection(section) => {
                for global in section.into_iter_with_offsets() {
                    let (offset, global) = global?;
                    self.module.globals.push(global_type(&global.ty, offset)?);
                    let init = self.const_expr(&global.init_expr)?;
                    self.module.global_initializers.push(init);
                }
            }
            Payload::ExportSection(section) => {
                for export in section.into_iter_with_offsets() {
                    let (offset, export) = export?;
                    let index = self.export_index(export.kind, export.index, offset)?;
                    self.module.exports.push((export.name.to_string(), index));
                }
            }
            Payload::StartSection { func, .. } => {
                self.module.start = Some(FuncIndex::from_u32(func));
            }
            Payload::ElementSection(section) => {
                for element in section {
                    let element = self.element(element?)?;
                    self.module.elements.push(element);
                }
            }
            Payload::DataCountSection { count, .. } => self.module.data_count = Some(count),
            Payload::DataSection(section) => {
                for data in section {
                    let data = data?;
                    let kind = match data.kind {
                        wasmparser::DataKind::Passive => DataKind::Passive,
                        wasmparser::DataKind::Active {
                            memory_index,
                            offset_expr,
                        } => DataKind::Active {
                            memory: MemoryIndex::from_u32(memory_index),
                            offset: self.const_expr(&offset_expr)?,
                        },
                    };
                    self.module.data.push(DataSegment {
                        kind,
                        bytes: data.data.into(),
                    });
                }
            }
            Payload::CustomSection(section) => {
                if let KnownCustom::Name(names) = section.as_known() {
                    self.name_section(names);
                }
            }
            // The code section's entries come back from the validator as
            // `ValidPayload::Func`; its start needs nothing.
            Payload::CodeSectionStart { .. } | Payload::CodeSectionEntry(_) => {}
            Payload::End(_) => {}
            // The validator rejects unknown sections; everything else
            // belongs to components, which the version payload rejected.
            _ => return Err(unsupported("component model: component sections", 0)),
        }
        Ok(())
    }

    /// Reads a recursion group of the type section: one plain function type
    /// is all duet supports (no explicit `rec`, no subtyping, no struct or
    /// array types), so that type identity stays structural.
    fn rec_group(
        &mut self,
        rec_group: wasmparser::RecGroup,
        offset: u64,
    ) -> Result<(), TranslationError> {
        if rec_group.is_explicit_rec_group() {
            return Err(unsupported("gc: explicit recursion groups", offset));
        }
        for (offset, sub_type) in rec_group.into_types_and_offsets() {
            if !sub_type.is_final || !sub_type.supertype_idxs.is_empty() {
                return Err(unsupported("gc: subtyping", offset));
            }
            let composite = sub_type.composite_type;
            if composite.shared {
                return Err(unsupported(
                    "shared-everything threads: shared types",
                    offset,
                ));
            }
            if composite.descriptor_idx.is_some() || composite.describes_idx.is_some() {
                return Err(unsupported("custom descriptors", offset));
            }
            let wasmparser::CompositeInnerType::Func(func_type) = composite.inner else {
                return Err(unsupported(
                    "gc: struct, array and continuation types",
                    offset,
                ));
            };
            let params = val_types(func_type.params(), offset)?;
            let results = val_types(func_type.results(), offset)?;
            self.module.types.push(FuncType { params, results });
        }
        Ok(())
    }

    /// Reads one import into its index space.
    fn import(
        &mut self,
        import: wasmparser::Import<'_>,
        offset: u64,
    ) -> Result<(), TranslationError> {
        let module = &mut self.module;
        let kind = match import.ty {
            wasmparser::TypeRef::Func(ty) => {
                module.functions.push(TypeIndex::from_u32(ty));
                module.num_imported_functions += 1;
                EntityIndex::Function(FuncIndex::from_u32(module.num_imported_functions - 1))
            }
            wasmparser::TypeRef::Table(ty) => {
                module.tables.push(table_type(&ty, offset)?);
                module.num_imported_tables += 1;
                EntityIndex::Table(TableIndex::from_u32(module.num_imported_tables - 1))
            }
            wasmparser::TypeRef::Memory(ty) => {
                module.memories.push(memory_type(&ty, offset)?);
                module.num_imported_memories += 1;
                EntityIndex::Memory(MemoryIndex::from_u32(module.num_imported_memories - 1))
            }
            wasmparser::TypeRef::Global(ty) => {
                module.globals.push(global_type(&ty, offset)?);
                module.num_imported_globals += 1;
                EntityIndex::Global(GlobalIndex::from_u32(module.num_imported_globals - 1))
            }
            wasmparser::TypeRef::Tag(_) => {
                return Err(unsupported("exception handling: tag imports", offset));
            }
            wasmparser::TypeRef::FuncExact(_) => {
                return Err(unsupported(
                    "custom descriptors: exact function imports",
                    offset,
                ));
            }
        };
        module.imports.push(Import {
            module: import.module.to_string(),
            name: import.name.to_string(),
            kind,
        });
        Ok(())
    }

    /// The entity an export names; an exported function escapes.
    fn export_index(
        &mut self,
        kind: wasmparser::ExternalKind,
        index: u32,
        offset: u64,
    ) -> Result<EntityIndex, TranslationError> {
        Ok(match kind {
            wasmparser::ExternalKind::Func => {
                let func = FuncIndex::from_u32(index);
                self.module.escape_function(func);
                EntityIndex::Function(func)
            }
            wasmparser::ExternalKind::Table => EntityIndex::Table(TableIndex::from_u32(index)),
            wasmparser::ExternalKind::Memory => EntityIndex::Memory(MemoryIndex::from_u32(index)),
            wasmparser::ExternalKind::Global => EntityIndex::Global(GlobalIndex::from_u32(index)),
            wasmparser::ExternalKind::Tag => {
                return Err(unsupported("exception handling: tag exports", offset));
            }
            wasmparser::ExternalKind::FuncExact => {
                return Err(unsupported(
                    "custom descriptors: exact function exports",
                    offset,
                ));
            }
        })
    }

    /// Reads an element segment; every function it names escapes.
    fn element(
        &mut self,
        element: wasmparser::Element<'_>,
    ) -> Result<ElementSegment, TranslationError> {
        let offset = element.range.start;
        let kind = match element.kind {
            wasmparser::ElementKind::Passive => ElementKind::Passive,
            wasmparser::ElementKind::Declared => ElementKind::Declared,
            wasmparser::ElementKind::Active {
                table_index,
                offset_expr,
            } => ElementKind::Active {
                table: TableIndex::from_u32(table_index.unwrap_or(0)),
                offset: self.const_expr(&offset_expr)?,
            },
        };
        let (element_type, items) = match element.items {
            wasmparser::ElementItems::Functions(functions) => {
                let mut items = Vec::with_capacity(functions.count() as usize);
                for func in functions {
                    let func = FuncIndex::from_u32(func?);
                    self.module.escape_function(func);
                    items.push(Some(func));
                }
                (RefType::FuncRef, ElementItems::Functions(items))
            }
            wasmparser::ElementItems::Expressions(ty, exprs) => {
                let element_type = ref_type(ty, offset)?;
                let mut items = Vec::with_capacity(exprs.count() as usize);
                for expr in exprs {
                    items.push(self.const_expr(&expr?)?);
                }
                (element_type, function_items(element_type, items))
            }
        };
        Ok(ElementSegment {
            kind,
            element_type,
            items,
        })
    }

    /// Copies a constant expression; every function it names escapes.
    fn const_expr(
        &mut self,
        expr: &wasmparser::ConstExpr<'_>,
    ) -> Result<ConstExpr, TranslationError> {
        let mut reader = expr.get_operators_reader();
        let mut ops = Vec::new();
        while !reader.eof() {
            let offset = reader.original_position();
            let op = match reader.read()? {
                Operator::I32Const { value } => ConstOp::I32Const(value),
                Operator::I64Const { value } => ConstOp::I64Const(value),
                Operator::F32Const { value } => ConstOp::F32Const(value.bits()),
                Operator::F64Const { value } => ConstOp::F64Const(value.bits()),
                Operator::V128Const { value } => ConstOp::V128Const(value.i128() as u128),
                Operator::RefNull { hty } => ConstOp::RefNull(match hty {
                    wasmparser::HeapType::FUNC => RefType::FuncRef,
                    wasmparser::HeapType::EXTERN => RefType::ExternRef,
                    _ => return Err(unsupported("gc: typed null references", offset)),
                }),
                Operator::RefFunc { function_index } => {
                    let func = FuncIndex::from_u32(function_index);
                    self.module.escape_function(func);
                    ConstOp::RefFunc(func)
                }
                Operator::GlobalGet { global_index } => {
                    ConstOp::GlobalGet(GlobalIndex::from_u32(global_index))
                }
                Operator::I32Add => ConstOp::I32Add,
                Operator::I32Sub => ConstOp::I32Sub,
                Operator::I32Mul => ConstOp::I32Mul,
                Operator::I64Add => ConstOp::I64Add,
                Operator::I64Sub => ConstOp::I64Sub,
                Operator::I64Mul => ConstOp::I64Mul,
                // The validator guarantees `end` is last.
                Operator::End => break,
                _ => {
                    return Err(unsupported(
                        "gc: allocating operators in constant expressions",
                        offset,
                    ));
                }
            };
            ops.push(op);
        }
        Ok(ConstExpr::new(ops))
    }

    /// Collects function names from the `name` section. Custom sections
    /// never make a module invalid, so a malformed name section is read up
    /// to its first error and the rest ignored.
    fn name_section(&mut self, names: wasmparser::NameSectionReader<'_>) {
        for subsection in names {
            let Ok(subsection) = subsection else { break };
            match subsection {
                Name::Module { name, .. } => {
                    // The first name section's name wins, as for functions.
                    self.module.name.get_or_insert_with(|| name.to_string());
                }
                Name::Function(map) => {
                    for naming in map {
                        let Ok(naming) = naming else { break };
                        self.module
                            .function_names
                            .push((FuncIndex::from_u32(naming.index), naming.name.to_string()));
                    }
                }
                _ => {}
            }
        }
    }

    /// Builds the lookup tables and returns the module.
    fn finish(mut self) -> Module {
        let module = &mut self.module;
        // Stable sort, then keep the first name for each index (a module
        // may carry several name sections).
        module.function_names.sort_by_key(|(index, _)| *index);
        module.function_names.dedup_by_key(|(index, _)| *index);

        let mut by_name: Vec<u32> = (0..module.exports.len() as u32).collect();
        by_name.sort_by(|&a, &b| {
            module.exports[a as usize]
                .0
                .cmp(&module.exports[b as usize].0)
        });
        module.exports_by_name = by_name;
        self.module
    }
}

/// Turns an expression segment into a function segment when every item is
/// `ref.func f` or `ref.null func`, so instantiation need not evaluate it.
fn function_items(element_type: RefType, exprs: Vec<ConstExpr>) -> ElementItems {
    if element_type != RefType::FuncRef {
        return ElementItems::Exprs(exprs);
    }
    let functions: Option<Vec<Option<FuncIndex>>> = exprs
        .iter()
        .map(|expr| match expr.ops() {
            [ConstOp::RefFunc(func)] => Some(Some(*func)),
            [ConstOp::RefNull(RefType::FuncRef)] => Some(None),
            _ => None,
        })
        .collect();
    match functions {
        Some(functions) => ElementItems::Functions(functions),
        None => ElementItems::Exprs(exprs),
    }
}

/// Converts a list of wasmparser value types.
fn val_types(
    types: &[wasmparser::ValType],
    offset: u64,
) -> Result<Box<[ValType]>, TranslationError> {
    types.iter().map(|&ty| val_type(ty, offset)).collect()
}

/// Converts a wasmparser value type.
fn val_type(ty: wasmparser::ValType, offset: u64) -> Result<ValType, TranslationError> {
    Ok(match ty {
        wasmparser::ValType::I32 => ValType::I32,
        wasmparser::ValType::I64 => ValType::I64,
        wasmparser::ValType::F32 => ValType::F32,
        wasmparser::ValType::F64 => ValType::F64,
        wasmparser::ValType::V128 => ValType::V128,
        wasmparser::ValType::Ref(ty) => ref_type(ty, offset)?.into(),
    })
}

/// Converts a wasmparser reference type: `funcref` and `externref` only.
fn ref_type(ty: wasmparser::RefType, offset: u64) -> Result<RefType, TranslationError> {
    if ty == wasmparser::RefType::FUNCREF {
        Ok(RefType::FuncRef)
    } else if ty == wasmparser::RefType::EXTERNREF {
        Ok(RefType::ExternRef)
    } else if ty.is_concrete_type_ref() || !ty.is_nullable() {
        Err(unsupported(
            "function references: typed and non-nullable references",
            offset,
        ))
    } else {
        Err(unsupported(
            "gc: reference types other than funcref and externref",
            offset,
        ))
    }
}

/// Converts a table type (without initializer).
fn table_type(ty: &wasmparser::TableType, offset: u64) -> Result<TableType, TranslationError> {
    if ty.shared {
        return Err(unsupported(
            "shared-everything threads: shared tables",
            offset,
        ));
    }
    Ok(TableType {
        element: ref_type(ty.element_type, offset)?,
        minimum: ty.initial,
        maximum: ty.maximum,
        table64: ty.table64,
        init: None,
    })
}

/// Converts a memory type, checking that its initial size in bytes fits a
/// `u64` (a memory64 may declare 2^48 pages of 64 KiB: exactly 2^64 bytes).
fn memory_type(ty: &wasmparser::MemoryType, offset: u64) -> Result<MemoryType, TranslationError> {
    let page_size_log2 = u8::try_from(ty.page_size_log2())
        .ok()
        .filter(|&log2| log2 < 64)
        .ok_or_else(|| unsupported("custom page sizes: page size", offset))?;
    let memory = MemoryType {
        minimum_pages: ty.initial,
        maximum_pages: ty.maximum,
        memory64: ty.memory64,
        shared: ty.shared,
        page_size_log2,
    };
    if memory
        .minimum_pages
        .checked_mul(memory.page_size())
        .is_none()
    {
        return Err(TranslationError::LimitExceeded {
            what: "initial memory size in bytes",
            limit: u64::MAX,
            offset,
        });
    }
    Ok(memory)
}

/// Converts a global type.
fn global_type(ty: &wasmparser::GlobalType, offset: u64) -> Result<GlobalType, TranslationError> {
    if ty.shared {
        return Err(unsupported(
            "shared-everything threads: shared globals",
            offset,
        ));
    }
    Ok(GlobalType {
        ty: val_type(ty.content_type, offset)?,
        mutable: ty.mutable,
    })
}
