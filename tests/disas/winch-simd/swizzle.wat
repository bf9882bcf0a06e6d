;; i8x16.swizzle: indices of 16 and up select 0.
(module
  (func (param v128 v128) (result v128)
    (i8x16.swizzle (local.get 0) (local.get 1))))
