;; Shifts by a constant and by a variable count (masked to the lane width).
(module
  (func (param v128 i32) (result v128)
    (i8x16.shl (local.get 0) (local.get 1)))
  (func (param v128) (result v128)
    (i8x16.shr_s (local.get 0) (i32.const 3)))
  (func (param v128 i32) (result v128)
    (i64x2.shr_s (local.get 0) (local.get 1)))
  (func (param v128) (result v128)
    (i32x4.shl (local.get 0) (i32.const 33))))
