;; A shuffle with no special form: two pshufb masks and por.
(module
  (func (param v128 v128) (result v128)
    (i8x16.shuffle 0 31 2 29 4 27 6 25 1 17 3 19 5 21 7 23
      (local.get 0) (local.get 1))))
