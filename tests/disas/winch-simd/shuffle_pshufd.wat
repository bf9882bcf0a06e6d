;; A shuffle of one operand's dwords: one pshufd.
(module
  (func (param v128 v128) (result v128)
    (i8x16.shuffle 12 13 14 15 8 9 10 11 4 5 6 7 0 1 2 3
      (local.get 0) (local.get 1))))
