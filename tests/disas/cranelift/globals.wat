;; global.get and global.set of a defined mutable global and an imported one.
(module
  (import "env" "g" (global $imported (mut i32)))
  (global $counter (mut i64) (i64.const 0))
  (func $bump (export "bump") (param i64) (result i64)
    global.get $counter
    local.get 0
    i64.add
    global.set $counter
    global.get $counter)
  (func $imported (export "imported") (result i32)
    global.get $imported
    i32.const 1
    i32.add
    global.set $imported
    global.get $imported))
