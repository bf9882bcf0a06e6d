;; Two dwords from each operand: one shufps.
(module
  (func (param v128 v128) (result v128)
    (i8x16.shuffle 4 5 6 7 0 1 2 3 28 29 30 31 16 17 18 19
      (local.get 0) (local.get 1))))
