;; A call with more arguments than argument registers (five after the
;; VMContext): the rest go on the stack, and the callee reads them there.
(module
  (func $sum7 (param i32 i32 i32 i32 i32 i64 i64) (result i64)
    local.get 0
    local.get 6
    i32.wrap_i64
    i32.add
    i64.extend_i32_u
    local.get 5
    i64.add)
  (func $caller (export "caller") (param i32) (result i64)
    local.get 0
    i32.const 1
    i32.const 2
    i32.const 3
    i32.const 4
    i64.const 5
    i64.const 6
    call $sum7))
