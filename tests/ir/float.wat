;; Floats: WebAssembly min/max and nearest are IR instructions; trapping
;; and saturating float-to-int conversions; comparisons zero-extended.
(module
  (func $min (param f32 f32) (result f32)
    local.get 0
    local.get 1
    f32.min)
  (func $mixed (param f64 f32) (result i32)
    local.get 0
    local.get 1
    f64.promote_f32
    f64.max
    f64.nearest
    i32.trunc_f64_s
    local.get 0
    i64.trunc_sat_f64_u
    f32.convert_i64_u
    local.get 1
    f32.ne
    i32.add))
