;; Integer division with explicit traps: a zero check, and for signed
;; division the MIN / -1 overflow check; a constant divisor drops the
;; checks it rules out.
(module
  (func $div_s (param i32 i32) (result i32)
    local.get 0
    local.get 1
    i32.div_s)
  (func $rem_s (param i64 i64) (result i64)
    local.get 0
    local.get 1
    i64.rem_s)
  (func $div_u_by_constant (param i32) (result i32)
    local.get 0
    i32.const 10
    i32.div_u)
  (func $div_s_by_minus_one (param i64) (result i64)
    local.get 0
    i64.const -1
    i64.div_s))
