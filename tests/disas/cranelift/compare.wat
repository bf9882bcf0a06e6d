;; i32 comparisons produce their result with setcc; a comparison feeding
;; br_if or if could branch on the flags directly.
(module
  (func $lt_s (export "lt_s") (param i32 i32) (result i32)
    local.get 0
    local.get 1
    i32.lt_s)
  (func $ge_u_const (export "ge_u_const") (param i32) (result i32)
    local.get 0
    i32.const 10
    i32.ge_u)
  (func $select_max (export "select_max") (param i32 i32) (result i32)
    local.get 0
    local.get 1
    local.get 0
    local.get 1
    i32.gt_s
    select))
