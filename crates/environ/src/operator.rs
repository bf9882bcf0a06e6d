//! Operators named as the text format names them (`v128.const`,
//! `i32.atomic.rmw8.add_u`, `return_call`), for the errors of both tiers.
//!
//! wasmparser names each operator twice in Rust: the `Operator` variant
//! (`I32AtomicRmw8AddU`) and its visitor method (`visit_i32_atomic_rmw8_add_u`),
//! both the text-format keyword with `.` and `_` spelled alike. The
//! keyword comes back by rule rather than by a table of the ~700
//! operators:
//!
//! * a name that starts with a namespace of the text format (a value type
//!   or shape, `local`, `global`, `table`, `memory`, `ref`, `elem`, `data`,
//!   `struct`, `array`, `i31`, `any`, `extern`, `cont`, `atomic`) has `.`
//!   after it: `v128_const` is `v128.const`, `i32_trunc_sat_f32_s` is
//!   `i32.trunc_sat_f32_s`;
//! * `atomic` after the namespace is a namespace too, and so is `rmw` (or
//!   `rmw8`, `rmw16`, `rmw32`) after it: `i64_atomic_rmw32_cmpxchg_u` is
//!   `i64.atomic.rmw32.cmpxchg_u`;
//! * any other name is the keyword as it is (`br_if`, `call_indirect`,
//!   `return_call_ref`, `try_table`);
//! * some variants split one keyword by its immediates: `typed_select`
//!   (and `typed_select_multi`) is `select`, `ref_test_non_null` and
//!   `ref_test_nullable` are `ref.test`, and likewise `ref.cast` and
//!   `ref.cast_desc_eq`.
//!
//! A test checks every operator wasmparser knows against the `wat`
//! parser, which knows the keywords.

/// The first words of the text format's dotted keywords.
const NAMESPACES: &[&str] = &[
    "i32", "i64", "f32", "f64", "v128", "i8x16", "i16x8", "i32x4", "i64x2", "f32x4", "f64x2",
    "local", "global", "table", "memory", "ref", "elem", "data", "struct", "array", "i31", "any",
    "extern", "cont", "atomic",
];

/// The text-format keyword of the operator whose snake-case name (its
/// wasmparser visitor method without `visit_`) is `name`. Words after the
/// name are kept (`ref_null of this heap type` is `ref.null of this heap
/// type`), so a description can name its operator.
pub fn text_name(name: &str) -> String {
    let (word, tail) = name.split_once(' ').map_or((name, ""), |(w, t)| (w, t));
    let keyword = match word {
        "typed_select" | "typed_select_multi" => "select".to_string(),
        // `ref.test`, `ref.cast` and `ref.cast_desc_eq` take the
        // nullability in their type immediate.
        _ if word.starts_with("ref_test") || word.starts_with("ref_cast") => dotted(
            word.strip_suffix("_non_null")
                .or_else(|| word.strip_suffix("_nullable"))
                .unwrap_or(word),
        ),
        _ => dotted(word),
    };
    if tail.is_empty() {
        keyword
    } else {
        format!("{keyword} {tail}")
    }
}

/// `name` with `.` after its namespaces (see the module docs).
fn dotted(name: &str) -> String {
    let Some((namespace, mut rest)) = name.split_once('_') else {
        return name.to_string();
    };
    if !NAMESPACES.contains(&namespace) {
        return name.to_string();
    }
    let mut out = format!("{namespace}.");
    if let Some(after) = rest.strip_prefix("atomic_") {
        out.push_str("atomic.");
        rest = after;
    }
    if let Some((first, after)) = rest.split_once('_')
        && first
            .strip_prefix("rmw")
            .is_some_and(|bits| bits.chars().all(|c| c.is_ascii_digit()))
    {
        out.push_str(first);
        out.push('.');
        rest = after;
    }
    out.push_str(rest);
    out
}

/// The snake-case name of `op` (`I32AtomicRmw8AddU` is
/// `i32_atomic_rmw8_add_u`, its visitor method's name), from its `Debug`
/// spelling: the variant's name, split before each capital that follows a
/// lower-case letter or a digit.
pub fn snake_name(op: &wasmparser::Operator<'_>) -> String {
    let debug = format!("{op:?}");
    let variant = debug
        .split(|c: char| !c.is_ascii_alphanumeric())
        .next()
        .unwrap_or_default();
    let mut name = String::with_capacity(variant.len() + 4);
    let mut previous: Option<char> = None;
    for c in variant.chars() {
        if c.is_ascii_uppercase()
            && previous.is_some_and(|p| p.is_ascii_lowercase() || p.is_ascii_digit())
        {
            name.push('_');
        }
        name.push(c.to_ascii_lowercase());
        previous = Some(c);
    }
    name
}

/// The text-format keyword of `op` (`Operator::V128Const { .. }` is
/// `v128.const`).
pub fn operator_text_name(op: &wasmparser::Operator<'_>) -> String {
    text_name(&snake_name(op))
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmparser::{MemArg, Operator};

    #[test]
    fn names_follow_the_text_format() {
        let memarg = MemArg {
            align: 0,
            max_align: 0,
            offset: 0,
            target: Default::default(),
            ordering: None,
        };
        for (op, name) in [
            (Operator::V128Load { memarg }, "v128.load"),
            (
                Operator::I32AtomicRmw8AddU { memarg },
                "i32.atomic.rmw8.add_u",
            ),
            (
                Operator::I64AtomicRmwCmpxchg { memarg },
                "i64.atomic.rmw.cmpxchg",
            ),
            (Operator::I8x16Swizzle, "i8x16.swizzle"),
            (Operator::ReturnCall { function_index: 3 }, "return_call"),
            (Operator::I32TruncSatF32S, "i32.trunc_sat_f32_s"),
            (Operator::LocalGet { local_index: 0 }, "local.get"),
            (Operator::MemoryGrow { mem: 0 }, "memory.grow"),
            (Operator::BrIf { relative_depth: 0 }, "br_if"),
        ] {
            assert_eq!(operator_text_name(&op), name);
        }
        assert_eq!(text_name("v128_const"), "v128.const");
        assert_eq!(
            text_name("ref_null of this heap type"),
            "ref.null of this heap type"
        );
        assert_eq!(text_name("GC reference values"), "GC reference values");
    }

    /// Every operator wasmparser knows, named by rule, is a keyword the
    /// `wat` parser knows: a keyword it does not know is "unknown
    /// operator", one it knows fails on its missing immediates or
    /// operands, or not at all.
    #[test]
    fn every_operator_name_is_a_text_format_keyword() {
        macro_rules! names {
            ($( @$proposal:ident $op:ident $({ $($arg:ident: $argty:ty),* })? => $visit:ident ($($ann:tt)*))*) => {
                [$(stringify!($visit)),*]
            };
        }
        let names = wasmparser::for_each_operator!(names);
        let mut unknown = Vec::new();
        for visit in names {
            let keyword = text_name(&visit["visit_".len()..]);
            let text = format!("(module (func {keyword}))");
            if let Err(error) = wat::parse_str(&text)
                && error.to_string().contains("unknown operator")
            {
                unknown.push(format!("{visit} -> {keyword}"));
            }
        }
        assert!(names.len() > 500, "{} operators", names.len());
        assert!(unknown.is_empty(), "not keywords:\n{}", unknown.join("\n"));
    }
}
