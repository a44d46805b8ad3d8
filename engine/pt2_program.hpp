// A program saved by torch.export.save (a `.pt2` archive's models/model.json,
// the training IR), parsed into something pipette runs node by node: every
// ATen op through the dispatcher with grad mode as the caller has it, so
// autograd records eager PyTorch's graph; integer and symbolic-size ops,
// runtime asserts and the higher-order ops cond, while_loop,
// wrap_with_set_grad_enabled and wrap_with_autocast natively. Parsing rejects
// what cannot run (a Python custom op, a Triton kernel, an unknown
// higher-order op) with the node's name and Python stack trace.
//
// Hook points: each node's nn_module_stack metadata names the module call it
// belongs to. For each call the parser finds the value that leaves it (the
// module's output) and the first tensor that enters it (its input) and puts a
// Site step there, which hands the value to the thread's HookPlan, as the
// pipette::site op does in TorchScript models (engine/hook_points.hpp).
// Internal to the runtime; engine/model_file.hpp is the SDK's way in.
#pragma once

#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/hook_points.hpp"

namespace pipette::pt2 {

// The export schema versions this reader knows (torch/_export/serde/schema.py).
inline constexpr int kSchemaMajor = 8;
inline constexpr int kSchemaMinorMax = 17;

// Where an argument's value comes from when its step runs.
struct Arg {
  enum class Kind {
    Constant,            // `constant`
    Slot,                // the value in `slot`
    TensorList,          // Tensor[]: `slots`
    OptionalTensorList,  // Tensor?[]: `slots`, -1 for None
    ScalarList,          // int[]/SymInt[]/float[]/bool[]: `slots`, -1 for items[i]
    Device,              // `constant` is the device at export; runs on the inputs' device
    Graph,               // a subgraph of a higher-order op: Program::graphs[graph]
  };
  Kind kind = Kind::Constant;
  c10::IValue constant;
  int slot = -1;
  std::vector<int> slots;
  std::vector<c10::IValue> items;
  char scalar = 'i';  // ScalarList's element kind: 'i' int, 'f' float, 'b' bool
  // A number where the op takes a Tensor (x / 2.0 as aten.div.Tensor): passed
  // as a wrapped-number tensor, as Python's argument parser does, so that it
  // does not change the result's dtype.
  bool wrap_number = false;
  int graph = -1;
};

struct Step {
  enum class Kind {
    Op,             // a dispatcher op: `op`, `args` in schema order
    Scalar,         // Python arithmetic on symbolic ints/floats/bools (`target`)
    TensorInt,      // aten.sym_size / sym_stride / sym_numel / sym_storage_offset
    AssertScalar,   // aten._assert_scalar: args[0] must be true
    AssertMeta,     // aten._assert_tensor_metadata: the dtype must match
    ConstrainRange, // aten.sym_constrain_range(_for_size): min <= v <= max
    Cond,           // higher_order.cond(pred, true_graph, false_graph, operands)
    WhileLoop,      // higher_order.while_loop(cond, body, carried, additional)
    GradEnabled,    // higher_order.wrap_with_set_grad_enabled(enabled, graph, *args)
    Autocast,       // higher_order.wrap_with_autocast(device, dtype, enabled, cache, graph, *args)
    Site,           // a hook point: outputs[0] = plan(args[0])
  };
  Kind kind = Kind::Op;
  std::string name;    // the node's name ("linear_1")
  std::string target;  // "torch.ops.aten.linear.default"
  std::optional<c10::OperatorHandle> op;
  std::vector<Arg> args;
  std::vector<int> outputs;  // slots, -1 for an output nothing reads
  bool list_output = false;  // the op returns one Tensor[] spread over `outputs`
  std::string stack_trace;   // the node's Python stack trace, from its metadata
  // The module calls the node is in, outermost first ("L__self___fc1": the
  // key of one call; the root module's is left out).
  std::vector<std::string> calls;
  HookSite site;  // Site steps
};

struct Graph {
  std::vector<int> inputs;  // slots the graph's inputs go to, in order
  std::vector<Arg> outputs;
  std::vector<Step> steps;
  int slots = 0;
  std::vector<bool> tensor;  // by slot: does it hold a tensor
  // After step i, the slots nothing reads again (freed as the pass goes).
  std::vector<std::vector<int>> release;
};

// A parameter, buffer or lifted tensor constant: what the module holds and
// passes to every forward pass, in `Program::state` order.
struct StateTensor {
  enum class Kind { Parameter, Buffer, Constant };
  Kind kind;
  std::string name;  // "fc1.weight", "bn.running_mean", "lifted_tensor_0"
  int slot;          // in graphs[0]
  bool persistent = true;  // a buffer in the state_dict (the archive's weights, not its constants)
};

// A user input's shape as exported: each size a number, or a symbol with the
// range torch.export was given (Dim("batch", min=1, max=1024)).
struct InputSpec {
  std::string name;
  int slot;
  c10::ScalarType dtype;
  std::vector<std::optional<int64_t>> sizes;  // nullopt: symbolic
  std::vector<std::string> symbols;           // by dim: the symbol, or ""
  std::string shape;                          // "[s77, 1, 14, 14]"
};

struct Range {
  std::optional<int64_t> min, max;
};

// What forward returns (the out_spec's one level: a tensor, or a tuple,
// list or dict of tensors) and what the graph writes back.
struct Outputs {
  enum class Kind { Tensor, Tuple, List, Dict };
  Kind kind = Kind::Tensor;
  std::vector<std::string> keys;  // Dict
  std::vector<int> user;          // graph outputs that are the user's, in order
  // Graph outputs that are new values of a buffer/parameter (state index)
  // or of a user input (~input index): copied in after the pass.
  std::vector<std::pair<int, int>> mutations;
};

struct Program {
  std::string file;            // for messages
  std::string torch_version;   // the PyTorch that exported it
  std::string schema_version;  // "8.17"
  std::vector<Graph> graphs;   // graphs[0] is the program; the rest are subgraphs
  std::vector<StateTensor> state;
  std::vector<InputSpec> inputs;
  Outputs outputs;
  std::map<std::string, Range> ranges;
  c10::Device export_device = c10::Device(c10::kCPU);
  std::vector<HookSiteInfo> sites;  // in the order a forward pass reaches them
  std::vector<std::string> forward_arg_names;
  // The first op whose `train`/`training` argument is a constant true (a
  // model exported in training mode: dropout on, batch norm on batch
  // statistics, fixed in the graph): "node 'dropout' (aten::dropout)".
  std::string training_op;
};

// Parses model.json. Throws OpError naming the file (and the node) for a
// version this reader does not know or a construct it cannot run.
std::shared_ptr<const Program> parse_program(const std::string& model_json, const std::string& file);

// Runs the program: `state` as Program::state lists, then the user inputs.
// With `hooked`, Site steps consult the thread's active HookPlan, naming
// sites `prefix.path` (the program's path in an enclosing model; "" at the
// top). Returns the user outputs, flat.
std::vector<at::Tensor> run_program(const Program& p, const std::vector<at::Tensor>& state,
                                    const std::vector<at::Tensor>& inputs, bool hooked, const std::string& prefix);

// "node 'linear_1' (torch.ops.aten.linear.default) at File "net.py", line 8,
// in forward: return self.fc2(h)": a step as messages name it, with the
// user's line from its Python stack trace.
std::string node_where(const Step& s);

// "torch.ops.aten.add_.Tensor" -> {"aten::add_", "Tensor"}; "default" -> "".
std::pair<std::string, std::string> operator_name(const std::string& target);

}  // namespace pipette::pt2
