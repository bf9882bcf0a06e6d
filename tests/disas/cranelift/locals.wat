;; local.set, local.tee and local.get on parameters and declared locals.
(module
  (func $locals (export "locals") (param i32) (result i32)
    (local i32 i64)
    local.get 0
    i32.const 1
    i32.add
    local.tee 1
    local.get 1
    i32.mul
    local.set 0
    i64.const 7
    local.set 2
    local.get 0
    local.get 1
    i32.xor))
