;; A function that never returns, to try `duet run --timeout` and `--fuel`:
;;   duet run --timeout 1s examples/spin.wat --invoke spin
;;   duet run --fuel 1000000 examples/spin.wat --invoke spin
(module
  (func $spin (export "spin")
    (loop $forever
      br $forever)))
