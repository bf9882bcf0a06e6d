;; Division and remainder: the divide-by-zero check, the signed-overflow
;; check (INT_MIN / -1) of div_s, and rem_s, whose INT_MIN % -1 is 0.
(module
  (func $div_s (export "div_s") (param i32 i32) (result i32)
    local.get 0
    local.get 1
    i32.div_s)
  (func $div_u (export "div_u") (param i32 i32) (result i32)
    local.get 0
    local.get 1
    i32.div_u)
  (func $rem_s (export "rem_s") (param i32 i32) (result i32)
    local.get 0
    local.get 1
    i32.rem_s)
  (func $div_s_by_const (export "div_s_by_const") (param i32) (result i32)
    local.get 0
    i32.const 7
    i32.div_s))
