;; A counting loop over locals: the loop header gets block parameters for
;; the locals the body changes (SSA construction from variables).
(module
  (func $sum (param $n i32) (result i32)
    (local $i i32) (local $acc i32)
    block $done
      loop $next
        local.get $i
        local.get $n
        i32.ge_u
        br_if $done
        local.get $acc
        local.get $i
        i32.add
        local.set $acc
        local.get $i
        i32.const 1
        i32.add
        local.set $i
        br $next
      end
    end
    local.get $acc)
  (func $loop_with_params (param i64) (result i64)
    local.get 0
    loop (param i64) (result i64)
      i64.const 1
      i64.sub
      local.tee 0
      local.get 0
      i64.eqz
      i32.eqz
      br_if 0
    end))
