;; A direct call with arguments and a result, and a call used in an
;; expression.
(module
  (func $sub (param i32 i32) (result i32)
    local.get 0
    local.get 1
    i32.sub)
  (func $caller (export "caller") (param i32) (result i32)
    local.get 0
    i32.const 5
    call $sub
    local.get 0
    i32.add))
