;; Fibonacci numbers, two ways.
;;
;;   cargo run --release -p duet-cli -- run --invoke fib examples/fib.wat 30
;;   cargo run --release -p duet-cli -- run --invoke fib_loop examples/fib.wat 90
;;
;; `fib` is the doubly recursive definition: fib(30) makes 1,664,079 calls,
;; which makes it a small benchmark of calls. `fib_loop` counts up in i64,
;; exact up to fib(92).
(module
  ;; fib(0) = 0, fib(1) = 1, fib(n) = fib(n - 1) + fib(n - 2).
  (func $fib (export "fib") (param $n i32) (result i32)
    (if (result i32) (i32.lt_u (local.get $n) (i32.const 2))
      (then (local.get $n))
      (else
        (i32.add
          (call $fib (i32.sub (local.get $n) (i32.const 1)))
          (call $fib (i32.sub (local.get $n) (i32.const 2)))))))

  ;; The same numbers in a loop: (a, b) = (b, a + b), n times.
  (func (export "fib_loop") (param $n i64) (result i64)
    (local $a i64) (local $b i64) (local $next i64)
    (local.set $b (i64.const 1))
    (block $done
      (loop $step
        (br_if $done (i64.eqz (local.get $n)))
        (local.set $next (i64.add (local.get $a) (local.get $b)))
        (local.set $a (local.get $b))
        (local.set $b (local.get $next))
        (local.set $n (i64.sub (local.get $n) (i64.const 1)))
        (br $step)))
    (local.get $a)))
