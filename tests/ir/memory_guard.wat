;; Loads and stores under guard pages: no bounds check, the access itself
;; traps (flagged `heap`, not `notrap`); the memory never moves, so its base
;; is `readonly`.
(module
  (memory 1)
  (func $load_store (param i32) (result i64)
    local.get 0
    local.get 0
    i32.load offset=16
    i32.store8 offset=3
    local.get 0
    i64.load16_s
    local.get 0
    f64.load offset=8
    i64.trunc_sat_f64_u
    i64.add)
  (func $large_offset (param i32) (result i32)
    local.get 0
    i32.load offset=0xfffffff0))
