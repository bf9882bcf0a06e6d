;; An `if`/`else` (charges before `if`, `else` and `end`) and a builtin
;; call (`memory.grow`), after which the fuel counter is reloaded.
(module
  (memory 1)
  (func (export "pick") (param i32) (result i32)
    local.get 0
    if (result i32)
      i32.const 1
      memory.grow
    else
      i32.const 2
      i32.const 3
      i32.add
    end))
