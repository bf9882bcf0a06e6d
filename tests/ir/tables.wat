;; Tables and references: element access with a bounds check, table.size
;; from the definition, table.grow through a builtin, ref.func as an
;; address in the VMContext, ref.is_null.
(module
  (table $ext (import "env" "ext") 1 externref)
  (table $t 2 10 funcref)
  (elem declare func $f)
  (func $f (param i32) (result funcref)
    local.get 0
    table.get $t)
  (func $set_and_grow (param i32) (result i32)
    local.get 0
    ref.func $f
    table.set $t
    ref.null func
    i32.const 3
    table.grow $t
    table.size $ext
    i32.add)
  (func $is_null (param i32) (result i32)
    local.get 0
    table.get $ext
    ref.is_null))
