;; A byte rotation of the two operands' concatenation: one palignr.
(module
  (func (param v128 v128) (result v128)
    (i8x16.shuffle 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19
      (local.get 0) (local.get 1))))
