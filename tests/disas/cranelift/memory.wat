;; Loads and stores with an offset: the guard pages make bounds checks
;; unnecessary with the default tunables.
(module
  (memory 1)
  (func $load (export "load") (param i32) (result i32)
    local.get 0
    i32.load offset=4)
  (func $store (export "store") (param i32 i32)
    local.get 0
    local.get 1
    i32.store offset=8)
  (func $load8_s_i64 (export "load8_s_i64") (param i32) (result i64)
    local.get 0
    i64.load8_s)
  (func $copy_word (export "copy_word") (param i32 i32)
    local.get 1
    local.get 0
    i32.load
    i32.store))
