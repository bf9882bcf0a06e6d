;; Constants fold into immediates: i32 and i64 adds with a constant operand
;; on either side, and an i64 constant too large for an imm32.
(module
  (func $add_const (export "add_const") (param i32) (result i32)
    local.get 0
    i32.const 42
    i32.add)
  (func $const_sub (export "const_sub") (param i32) (result i32)
    i32.const 100
    local.get 0
    i32.sub)
  (func $add_i64_big (export "add_i64_big") (param i64) (result i64)
    local.get 0
    i64.const 0x123456789
    i64.add))
