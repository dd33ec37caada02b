;; Case 2: the start function never returns, so instantiation itself must be
;; stopped by the wall-time budget (armed before instantiating).
(module
  (memory (export "memory") 1)
  (; weavelet:node start_loop ;)
  (; weavelet:realloc ;)
  (func $spin (loop $again (br $again)))
  (start $spin)
  (func (export "weavelet:node/node@0.4.0#run") (param i32 i32 i32 i32) (result i32)
    i32.const 64))
