//! Redundant-load elimination and store-to-load forwarding.
//!
//! Memory is split into two disjoint *categories* by the access's flags:
//! linear memory (`heap`) and everything else (the VMContext's fields,
//! tables, globals). The pass walks the blocks in reverse postorder with a
//! *memory state*: the values known to be in memory, keyed by the access
//! (opcode, type, address value, offset, category).
//!
//! * A load whose key is known becomes an alias of the known value and
//!   leaves the layout: an equal access already ran on every path here
//!   (it would have trapped first), or a store just wrote the value.
//! * A load adds its own key. A `store` (a whole value, `store` opcode)
//!   forgets its category, then adds the key a `load` of the same type at
//!   the same place would have: the stored value. A narrow store forgets
//!   its category. A call, or anything else that may write memory,
//!   forgets everything.
//!
//! A block starts with its predecessor's final state when it has exactly
//! one predecessor that comes before it in reverse postorder (so along a
//! chain of single-predecessor blocks the state flows on), and with
//! nothing known otherwise: no meet over joins, and loop headers start
//! empty, which keeps the pass simple and linear.
//!
//! Forgetting a whole category at a store is what makes the keys sound:
//! two keys with different address values may still overlap, and only
//! equal keys are ever merged.

use crate::dominator_tree::DominatorTree;
use crate::entity::SecondaryMap;
use crate::flowgraph::ControlFlowGraph;
use crate::ir::{Block, Function, Inst, InstructionData, Opcode, Type, Value};
use std::collections::HashMap;

/// An access: opcode (of a load), type, address, offset, heap or not.
type Key = (Opcode, Type, Value, i32, bool);

/// What is known to be in memory.
#[derive(Clone, Default)]
struct State {
    known: HashMap<Key, Value>,
}

impl State {
    fn forget(&mut self, heap: bool) {
        self.known.retain(|key, _| key.4 != heap);
    }
}

/// Eliminates redundant loads (see the [module docs](self)). Loads it
/// replaces become aliases; the caller resolves aliases afterwards.
pub fn eliminate_redundant_loads(
    func: &mut Function,
    cfg: &ControlFlowGraph,
    domtree: &DominatorTree,
) {
    let mut exit: SecondaryMap<Block, Option<State>> = SecondaryMap::with_default(None);
    for &block in domtree.rpo() {
        let preds = cfg.preds(block);
        let mut state = match preds {
            [(pred, _)] if domtree.rpo_number(*pred) < domtree.rpo_number(block) => {
                exit[*pred].clone().unwrap_or_default()
            }
            _ => State::default(),
        };
        let insts: Vec<Inst> = func.layout.block_insts(block).collect();
        for inst in insts {
            match *func.dfg.inst(inst) {
                InstructionData::Load {
                    opcode,
                    flags,
                    arg,
                    offset,
                } => {
                    let result = func.dfg.first_result(inst);
                    let key = (
                        opcode,
                        func.dfg.value_type(result),
                        func.dfg.resolve_aliases(arg),
                        offset,
                        flags.heap(),
                    );
                    match state.known.get(&key) {
                        Some(&known) => {
                            func.layout.remove_inst(inst);
                            func.dfg.change_to_alias(result, known);
                        }
                        None => {
                            state.known.insert(key, result);
                        }
                    }
                }
                InstructionData::Store {
                    opcode,
                    flags,
                    args,
                    offset,
                } => {
                    state.forget(flags.heap());
                    if opcode == Opcode::Store {
                        let value = func.dfg.resolve_aliases(args[0]);
                        let key = (
                            Opcode::Load,
                            func.dfg.value_type(value),
                            func.dfg.resolve_aliases(args[1]),
                            offset,
                            flags.heap(),
                        );
                        state.known.insert(key, value);
                    }
                }
                ref data if data.opcode().can_store() || data.opcode().is_call() => {
                    state.known.clear();
                }
                _ => {}
            }
        }
        exit[block] = Some(state);
    }
}
