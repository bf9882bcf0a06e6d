;; A recursive function: no epoch check at its entry, one before the first
;; call of the path that recurses (`metering::calls_checked_for_epoch`);
;; the base case returns unchecked, and the second call follows a check
;; on every path. The call's operand is in a register at the check.
(module
  (func $fib (export "fib") (param i32) (result i32)
    local.get 0
    i32.const 2
    i32.lt_s
    if
      local.get 0
      return
    end
    local.get 0
    i32.const 1
    i32.sub
    call $fib
    local.get 0
    i32.const 2
    i32.sub
    call $fib
    i32.add))
