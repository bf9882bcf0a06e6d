;; A comparison feeding `if`, a call in the then arm and an `else`: the
;; charge before `if` goes around the pending comparison without writing
;; the flags, and each arm's region is charged before `else` and `end`.
(module
  (func $leaf (result i32) i32.const 7)
  (func (export "pick") (param i32) (result i32)
    local.get 0
    i32.const 10
    i32.lt_s
    if (result i32)
      call $leaf
      i32.const 1
      i32.add
    else
      local.get 0
    end))
