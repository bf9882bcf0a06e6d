;; Globals: defined ones inline in the VMContext, imported ones through a
;; pointer; immutable ones `readonly`.
(module
  (import "env" "counter" (global $counter (mut i64)))
  (import "env" "limit" (global $limit i32))
  (global $scale f32 (f32.const 2.5))
  (global $state (mut i32) (i32.const 0))
  (func $step (result f32)
    global.get $counter
    i64.const 1
    i64.add
    global.set $counter
    global.get $state
    global.get $limit
    i32.add
    global.set $state
    global.get $scale))
