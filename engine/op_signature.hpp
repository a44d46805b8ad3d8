// What an op promises: its name, version, documented typed parameters with
// defaults, and its output type. The compiler type checks calls against this;
// `pipette ops` and `pipette plugins inspect` print it.
#pragma once

#include "engine/api.hpp"

#include <optional>
#include <string>
#include <vector>

#include "engine/operand.hpp"
#include "engine/resources.hpp"
#include "engine/types.hpp"

namespace pipette {

struct ParamSpec {
  std::string name;
  Type type;
  std::string doc;
  bool required = true;
  Operand default_value;               // when !required
  // A compile-time parameter must be a constant (a literal, a param, a loop
  // variable): it shapes what the op does, e.g. an architecture name.
  bool compile_time = false;
  std::vector<std::string> choices;    // allowed strings, when non-empty
  // A file the op writes, relative to the run's output directory; the compiler
  // rejects absolute paths and paths that climb out with "..".
  bool output_path = false;
  // A file the op reads: its content, not only its name, is part of the node's
  // identity, so editing the file makes the node run again.
  bool input_file = false;
  std::optional<double> min, max;      // inclusive bounds for numbers
  // A tensor the op feeds to the model given as parameter `feeds` (its contract,
  // checked by the engine before the op runs): floating inputs are cast to the
  // model's dtype (said once in the log), integer ones (uint8 images) refused.
  std::string feeds;
  // A tensor of images [N, C, H, W], floating point in [0, 1], with one of
  // `image_channels` channels (empty = any): a contract the engine checks
  // before the op runs (value_checks.hpp check_images), for plugins' ops too.
  bool images = false;
  std::vector<int64_t> image_channels;
};

class PIPETTE_API OpSignature {
 public:
  OpSignature() = default;
  OpSignature(std::string name, std::string doc, int version = 1);

  // Fluent declaration. Type texts use Type::parse notation; a bad one is a
  // programming error and throws std::logic_error at registration.
  OpSignature& input(std::string name, const std::string& type, std::string doc);
  OpSignature& param(std::string name, const std::string& type, Operand default_value, std::string doc);
  OpSignature& optional(std::string name, const std::string& type, std::string doc);  // default none
  OpSignature& compile_time();                        // applies to the last parameter
  OpSignature& choices(std::vector<std::string> allowed);  // last parameter
  OpSignature& range(std::optional<double> min, std::optional<double> max = std::nullopt);  // last parameter
  OpSignature& output_path();                         // last parameter: see ParamSpec
  OpSignature& input_file();                          // last parameter: see ParamSpec
  OpSignature& feeds(std::string model_param);        // last parameter: see ParamSpec::feeds
  OpSignature& images(std::vector<int64_t> channels = {});  // last parameter: see ParamSpec::images
  OpSignature& side_effects();  // the op writes outside the graph: never dropped as dead code
  // NaN and Inf are errors by default: the engine checks every tensor an op
  // reads and returns, and names the node, the value and where the first one is.
  // An op that carries values as they are (loading, saving, cleaning them)
  // declares that it passes them; its consumers are checked instead.
  OpSignature& passes_nonfinite();
  // Its inputs are checked, but its output may hold NaN where its docs say a
  // value is undefined (a group with no examples): said, not an error.
  OpSignature& may_return_nonfinite();
  // The op draws random numbers: the run seed is part of its identity, so a new
  // --seed recomputes it (and what depends on it) and nothing else. Every
  // stochastic op gets an optional `seed: int` (unless it declares its own):
  // two calls with different seeds are two draws.
  OpSignature& stochastic();
  // What a job of this op asks a cluster for by default (issue 25); a call's
  // resources={...} and the command line override it.
  OpSignature& resources(Resources r);
  // Cheap enough to run in the driver under any executor: opening datasets,
  // tensor arithmetic, drawing. Every other op runs as a job on a cluster.
  OpSignature& light();
  // A call may say shards=N: the op's examples are split by range into N
  // nodes (N jobs on a cluster) whose tensor outputs are concatenated along
  // dim 0. `per_example` names the parameters whose tensors are split (rows
  // matching the first one's; other values, like a [1, ...] baseline, go to
  // every shard whole). Only for ops whose output row i depends on example i alone.
  // `reduce_param`, for an op whose per-example scores a parameter reduces
  // to their mean ("mean" | "none"): the shards compute "none", and a call
  // that asked for the mean gets metric.mean_of_shards of them.
  OpSignature& shardable(std::vector<std::string> per_example, std::string reduce_param = {});
  // For an op whose result needs every example at once (tags cut at the
  // batch's quantiles): shards=N runs the shardable `map_op` (its parameters
  // taken from the call by name) on N example ranges, concatenates its
  // tensors and gives them to `finish_op` as its first input, with the
  // call's arguments that `finish_op` also declares. The result must equal
  // the op's own.
  OpSignature& shardable_via(std::string map_op, std::string finish_op);
  OpSignature& returns(const std::string& type, std::string doc = {});
  // A parameter described in full (used when reading signatures back from the
  // plugin registry cache).
  OpSignature& add_param(ParamSpec p);
  OpSignature& returns(Type type, std::string doc = {});

  const std::string& name() const { return name_; }
  int version() const { return version_; }
  const std::string& doc() const { return doc_; }
  std::string summary() const;  // the doc's first sentence
  const std::vector<ParamSpec>& params() const { return params_; }
  const ParamSpec* find_param(const std::string& name) const;
  const Type& output() const { return output_; }
  const std::string& output_doc() const { return output_doc_; }

  bool has_side_effects() const { return side_effects_; }
  bool is_stochastic() const { return stochastic_; }
  const Resources& default_resources() const { return resources_; }
  bool is_light() const { return light_; }
  const std::vector<std::string>& shard_params() const { return shard_params_; }
  bool is_shardable() const { return !shard_params_.empty() || !shard_map_.empty(); }
  const std::string& shard_reduce_param() const { return shard_reduce_; }
  const std::string& shard_map_op() const { return shard_map_; }
  const std::string& shard_finish_op() const { return shard_finish_; }
  bool passes_nonfinite_values() const { return passes_nonfinite_; }
  bool may_return_nonfinite_values() const { return passes_nonfinite_ || nonfinite_output_; }
  // Which plugin provides the op; empty for the standard library.
  const std::string& plugin() const { return plugin_; }
  void set_plugin(std::string p) { plugin_ = std::move(p); }
  // Signature-only ops can be type checked and lowered but not run yet.
  bool implemented() const { return implemented_; }
  void set_implemented(bool v) { implemented_ = v; }

  // `name(a: tensor, steps: int = 50) -> tensor`
  std::string to_string() const;

 private:
  ParamSpec& last();
  void add_seed_param();  // a stochastic op's `seed`, once its parameters are declared
  std::string name_;
  int version_ = 1;
  std::string doc_;
  std::vector<ParamSpec> params_;
  Type output_ = Type::none();
  std::string output_doc_;
  std::string plugin_;
  bool implemented_ = false;
  bool side_effects_ = false;
  bool stochastic_ = false;
  bool passes_nonfinite_ = false;
  bool nonfinite_output_ = false;
  bool returns_declared_ = false;
  bool light_ = false;
  Resources resources_;
  std::vector<std::string> shard_params_;
  std::string shard_reduce_;
  std::string shard_map_, shard_finish_;
};

}  // namespace pipette
