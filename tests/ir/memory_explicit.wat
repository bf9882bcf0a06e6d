;; bounds-checks: explicit
;; The same accesses without a memory reservation: each is checked against
;; the current length, and the access itself cannot trap (`heap notrap`);
;; the base may move, so it is not `readonly`.
(module
  (memory 1)
  (func $load_store (param i32) (result i64)
    local.get 0
    local.get 0
    i32.load offset=16
    i32.store8 offset=3
    local.get 0
    i64.load16_s)
  (func $large_offset (param i32) (result i32)
    local.get 0
    i32.load offset=0xfffffff0))
