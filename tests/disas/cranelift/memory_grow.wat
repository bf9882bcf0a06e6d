;; memory.grow through the runtime's builtin, and memory.size.
(module
  (memory 1)
  (func $grow (export "grow") (param i32) (result i32)
    local.get 0
    memory.grow)
  (func $size (export "size") (result i32)
    memory.size))
