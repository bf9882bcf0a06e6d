;; A function that never returns, to try `duet run --timeout` and `--fuel`:
;;   duet run --timeout 1s --invoke spin examples/spin.wat
;;   duet run --fuel 1000000 --invoke spin examples/spin.wat
(module
  (func $spin (export "spin")
    (loop $forever
      br $forever)))
