;; Splats, lane extraction and replacement.
(module
  (func (param i32) (result v128)
    (i8x16.splat (local.get 0)))
  (func (param f64) (result v128)
    (f64x2.splat (local.get 0)))
  (func (param v128) (result i32)
    (i16x8.extract_lane_s 3 (local.get 0)))
  (func (param v128) (result f32)
    (f32x4.extract_lane 2 (local.get 0)))
  (func (param v128 i64) (result v128)
    (i64x2.replace_lane 1 (local.get 0) (local.get 1))))
