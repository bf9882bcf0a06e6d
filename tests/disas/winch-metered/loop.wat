;; A counted loop and a call: the function-entry fuel check, the loop header's
;; checks, and the charges before `loop`, `br_if`, `call` and `end`.
(module
  (func $leaf (result i32) i32.const 7)
  (func (export "count") (param i32) (result i32)
    (local i32)
    loop
      local.get 1
      i32.const 1
      i32.add
      local.set 1
      local.get 1
      local.get 0
      i32.lt_u
      br_if 0
    end
    call $leaf
    local.get 1
    i32.add))
