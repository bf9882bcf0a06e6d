;; Float min and max with wasm's NaN and signed-zero rules, and pmin.
(module
  (func (param v128 v128) (result v128)
    (f32x4.min (local.get 0) (local.get 1)))
  (func (param v128 v128) (result v128)
    (f64x2.max (local.get 0) (local.get 1)))
  (func (param v128 v128) (result v128)
    (f32x4.pmin (local.get 0) (local.get 1))))
