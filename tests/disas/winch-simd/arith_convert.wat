;; Integer arithmetic, a dot product, a saturating conversion and an
;; unsigned conversion.
(module
  (func (param v128 v128) (result v128)
    (i32x4.add (i32x4.mul (local.get 0) (local.get 1)) (local.get 1)))
  (func (param v128 v128) (result v128)
    (i32x4.dot_i16x8_s (local.get 0) (local.get 1)))
  (func (param v128) (result v128)
    (i32x4.trunc_sat_f32x4_u (local.get 0)))
  (func (param v128) (result v128)
    (f32x4.convert_i32x4_u (local.get 0))))
