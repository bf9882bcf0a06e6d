;; i64x2.gt_s: pcmpgtq with SSE4.2, a dword sequence without.
(module
  (func (param v128 v128) (result v128)
    (i64x2.gt_s (local.get 0) (local.get 1)))
  (func (param v128 v128) (result v128)
    (i64x2.le_s (local.get 0) (local.get 1))))
