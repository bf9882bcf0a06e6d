;; call_indirect: bounds check, null check, signature check, then a call
;; through the VMFuncRef with its VMContext.
(module
  (type $binary (func (param i32 i32) (result i32)))
  (table 4 funcref)
  (func $dispatch (param i32 i32 i32) (result i32)
    local.get 1
    local.get 2
    local.get 0
    call_indirect (type $binary)))
