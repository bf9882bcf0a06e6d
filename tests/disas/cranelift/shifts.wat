;; Shifts and rotates by a variable count (in cl) and by a constant.
(module
  (func $shl (export "shl") (param i32 i32) (result i32)
    local.get 0
    local.get 1
    i32.shl)
  (func $shr_s_i64 (export "shr_s_i64") (param i64 i64) (result i64)
    local.get 0
    local.get 1
    i64.shr_s)
  (func $rotl_const (export "rotl_const") (param i32) (result i32)
    local.get 0
    i32.const 5
    i32.rotl))
