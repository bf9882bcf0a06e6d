;; Direct calls of defined functions (a relocation), calls of imported
;; functions (through their VMFunctionImport), multiple results passed on.
(module
  (import "env" "host" (func $host (param i32) (result i32)))
  (func $pair (param i32) (result i32 i64)
    local.get 0
    local.get 0
    i64.extend_i32_u)
  (func $sum (param i32 i64) (result i64)
    local.get 1
    local.get 0
    i64.extend_i32_u
    i64.add)
  (func $caller (param i32) (result i64)
    local.get 0
    call $host
    call $pair
    call $sum))
