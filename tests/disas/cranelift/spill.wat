;; More live values than free registers: the value stack spills.
(module
  (func $many (export "many") (param i32 i32) (result i32)
    local.get 0 local.get 1 i32.add
    local.get 0 local.get 1 i32.sub
    local.get 0 local.get 1 i32.mul
    local.get 0 local.get 1 i32.xor
    local.get 0 local.get 1 i32.or
    local.get 0 local.get 1 i32.and
    local.get 0 i32.const 3 i32.shl
    local.get 1 i32.const 1 i32.shr_u
    local.get 0 local.get 1 i32.rotl
    local.get 0 i32.const 9 i32.add
    i32.add i32.add i32.add i32.add i32.add
    i32.add i32.add i32.add i32.add))
