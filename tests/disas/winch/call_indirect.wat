;; An indirect call whose arguments are computed in registers: they stay
;; there through the table, null and signature checks and move straight
;; to the argument registers.
(module
  (type $binary (func (param i32 i32) (result i32)))
  (table 2 funcref)
  (elem (i32.const 0) $add $sub)
  (func $add (type $binary) local.get 0 local.get 1 i32.add)
  (func $sub (type $binary) local.get 0 local.get 1 i32.sub)
  (func $dispatch (export "dispatch") (param i32 i32 i32) (result i32)
    local.get 1
    i32.const 1
    i32.add
    local.get 2
    i32.const 2
    i32.mul
    local.get 0
    call_indirect (type $binary)))
