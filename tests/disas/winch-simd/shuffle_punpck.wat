;; Interleaves of the two operands: punpcklbw and punpckhdq.
(module
  (func (param v128 v128) (result v128)
    (i8x16.shuffle 0 16 1 17 2 18 3 19 4 20 5 21 6 22 7 23
      (local.get 0) (local.get 1)))
  (func (param v128 v128) (result v128)
    (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31
      (local.get 0) (local.get 1))))
