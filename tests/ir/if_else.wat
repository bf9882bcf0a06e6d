;; if/else with results, an if without else, a multi-value block, and a
;; block that is only fallen out of (it needs no IR block).
(module
  (func $max (param i32 i32) (result i32)
    local.get 0
    local.get 1
    i32.gt_s
    if (result i32)
      local.get 0
    else
      local.get 1
    end)
  (func $clamp_low (param i32) (result i32)
    local.get 0
    local.get 0
    i32.const 0
    i32.lt_s
    if (param i32) (result i32)
      drop
      i32.const 0
    end)
  (func $swap (param i32 i64) (result i64 i32)
    block (result i64 i32)
      local.get 1
      local.get 0
    end)
  (func $set_in_arms (param i32) (result f64)
    (local f64)
    local.get 0
    if
      f64.const 1.5
      local.set 1
    else
      f64.const -2
      local.set 1
    end
    local.get 1))
