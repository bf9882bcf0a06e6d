;; Integer and float arithmetic, comparisons producing i32, sign extension,
;; select: one IR instruction per operator, comparisons zero-extended.
(module
  (func $poly (param i32 i32) (result i32)
    local.get 0
    local.get 1
    i32.mul
    local.get 0
    i32.const 3
    i32.shl
    i32.add
    local.get 1
    i32.const 7
    i32.rotl
    i32.xor)
  (func $compare_select (param i64 i64) (result i64)
    local.get 0
    local.get 1
    local.get 0
    local.get 1
    i64.lt_s
    select)
  (func $extend (param i32) (result i64)
    local.get 0
    i32.extend8_s
    i64.extend_i32_u
    local.get 0
    i64.extend_i32_s
    i64.extend16_s
    i64.add)
  (func $eqz_clz (param i64) (result i32)
    local.get 0
    i64.eqz
    local.get 0
    i64.clz
    i32.wrap_i64
    i32.add))
