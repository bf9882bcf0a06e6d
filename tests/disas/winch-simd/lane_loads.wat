;; Lane loads and stores, a splatting load and an extending load.
(module
  (memory 1)
  (func (param i32 v128) (result v128)
    (v128.load32_lane offset=4 1 (local.get 0) (local.get 1)))
  (func (param i32 v128)
    (v128.store16_lane 5 (local.get 0) (local.get 1)))
  (func (param i32) (result v128)
    (v128.load8_splat (local.get 0)))
  (func (param i32) (result v128)
    (v128.load16x4_s offset=8 (local.get 0))))
