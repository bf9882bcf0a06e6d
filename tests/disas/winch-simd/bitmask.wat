;; Bitmasks and all_true feeding a branch.
(module
  (func (param v128) (result i32)
    (i8x16.bitmask (local.get 0)))
  (func (param v128) (result i32)
    (i16x8.bitmask (local.get 0)))
  (func (param v128) (result i32)
    (if (result i32) (i32x4.all_true (local.get 0))
      (then (i32.const 1)) (else (i32.const 2)))))
