;; memory.size from the definition's length; memory.grow and the bulk
;; operations through the runtime's builtins (System V), the failing ones
;; followed by their trap; an imported memory through its pointer.
(module
  (import "env" "mem" (memory 1))
  (memory $own 1)
  (data $d "hello")
  (func $grow (param i32) (result i32)
    local.get 0
    memory.grow $own
    memory.size 0
    i32.add)
  (func $bulk (param i32 i32 i32)
    local.get 0
    local.get 1
    local.get 2
    memory.copy 0 1
    local.get 0
    i32.const 0
    local.get 2
    memory.fill $own
    local.get 0
    local.get 1
    local.get 2
    memory.init $d
    data.drop $d)
  (func $imported_load (param i32) (result i32)
    local.get 0
    i32.load 0))
