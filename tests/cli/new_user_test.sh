#!/usr/bin/env bash
# What a new user hit with their own model and files (issue 18), end to end:
# `ops NAME`, `help`, options after the command, where files go when a script
# lives elsewhere, `runs diff` of a changed tensor, a choice refused by check,
# and the .pt files and models PyTorch users save (made by Debian's Python
# with torch; skipped without it).
#   new_user_test.sh PIPETTE_BINARY
source "$(dirname "$0")/harness.sh" "$1"

has() {  # has FILE TEXT DESCRIPTION
  grep -qF -- "$2" "$1" && return 0
  echo "FAIL: $3: no '$2' in"; cat "$1"; fail=1
}

# `ops NAME` shows one op in full; a plugin namespace lists from the registry
# cache or says where to look. Before: "no ops in namespace 'attr.grad_cam'".
expect 0 "ops attr.grad_cam" -- "$PIPETTE" ops attr.grad_cam
has "$tmp/out" "parameters:" "ops NAME"
has "$tmp/out" "  layer: " "ops NAME lists every parameter"
expect 0 "ops data.from_tensors" -- "$PIPETTE" ops data
grep -q "(e\.g\.$" "$tmp/out" && { echo "FAIL: one-line doc cut at 'e.g.'"; grep "(e\.g\.$" "$tmp/out"; fail=1; }
expect 1 "ops of an unknown namespace" -- "$PIPETTE" ops nosuchthing
has "$tmp/err" "plugins inspect" "ops hints at plugins inspect"
expect 1 "a misspelt op" -- "$PIPETTE" ops attr.grad_cma
has "$tmp/err" "attr.grad_cam" "did you mean"

# `pipette help` is the top-level help; `-v` may follow the command.
expect 0 "help" -- "$PIPETTE" help
has "$tmp/out" "run" "help lists commands"
grep -q "^Usage: .* help" "$tmp/out" && { echo "FAIL: help prints help for help"; fail=1; }
printf 'report "x" = 1\n' >"$tmp/one.pipe"
expect 0 "-v after the command" -- "$PIPETTE" check "$tmp/one.pipe" -v
expect 0 "-q after the command" -- "$PIPETTE" check "$tmp/one.pipe" -q

# A choice is checked when the script is compiled, not when the node runs.
printf 'let m = model.load("m.pt")\nreport "a" = attr.integrated_gradients(m, tensor.load("x.pt"), baselines="mean")\n' >"$tmp/mean.pipe"
expect 1 "baselines=\"mean\" is a compile error" -- "$PIPETTE" check "$tmp/mean.pipe"
has "$tmp/err" "mean.pipe:2:" "the error's location"

# Where files go: one rule for outputs, cache and run store, from the working
# directory (a project's .pipette/ above it), not from the script's directory.
mkdir -p "$tmp/proj/s1" "$tmp/proj/sub"
printf 'param steps: int = 4\nreport "t" = tensor.mul(tensor.random([6], seed=1), steps)\n' >"$tmp/proj/s1/x.pipe"
cd "$tmp/proj" || exit 1
expect 0 "run a script in another directory" -- "$PIPETTE" run s1/x.pipe
[[ -d .pipette/cache && -f .pipette/runs.db && -d runs && ! -e s1/.pipette ]] \
  && echo "ok: outputs, cache and run store all in the launch directory" \
  || { echo "FAIL: file locations"; find . | sort; fail=1; }
expect 0 "runs finds it from the launch directory" -- "$PIPETTE" runs
has "$tmp/out" "x-" "runs lists the run"
cd "$tmp/proj/sub" || exit 1
expect 0 "a run from a subdirectory uses the project's .pipette/" -- "$PIPETTE" run ../s1/x.pipe --set steps=5
[[ ! -e .pipette && ! -e runs ]] && [[ $(ls "$tmp/proj/runs" | wc -l) -eq 2 ]] \
  && echo "ok: the nearest .pipette/ upwards wins" || { echo "FAIL: project found from a subdirectory"; find "$tmp/proj" | sort; fail=1; }
# runs diff compares the tensors themselves (a [6] report goes to a file).
expect 0 "runs from the subdirectory" -- "$PIPETTE" runs
first=$(awk 'NR==3{print $1}' "$tmp/out"); second=$(awk 'NR==2{print $1}' "$tmp/out")
expect 0 "runs diff of a changed tensor" -- "$PIPETTE" runs diff "$first" "$second"
has "$tmp/out" "report t" "the changed tensor report is listed"
# steps 4 -> 5 scales every value by 5/4: relative to the first run, 0.25.
has "$tmp/out" "max relative 0.25 (6 of 6 values differ)" "max abs/rel difference"
cd "$tmp" || exit 1

# Files PyTorch users save, and models saved in training mode.
if [[ -x /usr/bin/python3 ]] && /usr/bin/python3 -c "import torch" 2>/dev/null; then
  mkdir -p "$tmp/pt"
  # From a file, not stdin: torch.jit.script reads the class's source.
  cat >"$tmp/pt/make.py" <<'PY'
import collections, sys, torch
d = sys.argv[1]
torch.manual_seed(0)
class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(4, 3)
        self.bn = torch.nn.BatchNorm1d(3)
        self.drop = torch.nn.Dropout(0.5)
    def forward(self, x):
        return self.drop(self.bn(self.fc(x)))
net = Net()
with torch.no_grad():  # non-trivial running statistics
    net.bn.running_mean.copy_(torch.tensor([0.5, -0.2, 0.1]))
    net.bn.running_var.copy_(torch.tensor([2.0, 0.5, 1.5]))
x = torch.randn(8, 4)
torch.save(x, d + "/x.pt")
torch.save(net.state_dict(), d + "/state.pt")
torch.save(collections.OrderedDict(a=torch.ones(2), b=torch.arange(3)), d + "/ordered.pt")
torch.save({"a": torch.ones(2)}, d + "/legacy.pt", _use_new_zipfile_serialization=False)
torch.save(net, d + "/module.pt")
net.train()
torch.jit.script(net).save(d + "/scripted_train.pt")
net.eval()
torch.save(net(x).detach(), d + "/expected.pt")
# Tracing in training mode runs the model, which moves batch norm's statistics: a copy.
import copy
traced = copy.deepcopy(net).train()
torch.jit.trace(traced, x, check_trace=False).save(d + "/traced_train.pt")
PY
  /usr/bin/python3 "$tmp/pt/make.py" "$tmp/pt" || { echo "FAIL: making the .pt files"; fail=1; }
  cat >"$tmp/pt/load.pipe" <<'PIPE'
report "fc_weight" = tensor.load("state.pt", key="fc.weight")
report "bn_mean" = tensor.load("state.pt", key="bn.running_mean")
report "state" = load("state.pt")
report "ordered_b" = load("ordered.pt").b
report "legacy_a" = tensor.sum(load("legacy.pt").a)
PIPE
  expect 0 "state_dict, OrderedDict and legacy .pt files load as records" -- "$PIPETTE" run "$tmp/pt/load.pipe" --out "$tmp/pt/out" --no-cache
  /usr/bin/python3 - "$tmp/pt" <<'PY' && echo "ok: their values are Python's" || { echo "FAIL: .pt values"; fail=1; }
import json, sys, torch
d = sys.argv[1]
r = json.load(open(d + "/out/report.json"))["reports"]
s = torch.load(d + "/state.pt")
def tensor(v):  # a report: a file for tensors of more than one element, else inline
    return torch.load(d + "/out/" + v["file"]) if isinstance(v, dict) and "file" in v else torch.tensor(v)
assert torch.equal(tensor(r["fc_weight"]), s["fc.weight"]), r
assert torch.allclose(tensor(r["bn_mean"]), s["bn.running_mean"]), r
assert torch.equal(tensor(r["ordered_b"]), torch.arange(3)) and r["legacy_a"] == 2.0, r
# The whole state_dict, reported as a record: one file per tensor, in order.
assert sorted(r["state"]) == sorted(s), r["state"]
for k, v in s.items():
    got = tensor(r["state"][k])
    assert torch.allclose(got.to(v.dtype), v), (k, got, v)
PY
  printf 'report "m" = load("module.pt")\n' >"$tmp/pt/module.pipe"
  expect 1 "a pickled nn.Module is refused in one line" -- "$PIPETTE" run "$tmp/pt/module.pipe" --out "$tmp/pt/m" --no-cache
  has "$tmp/err" "Net" "the error names the pickled class"
  has "$tmp/err" "torch.jit" "the error says what pipette reads instead"
  printf 'report "p" = model.predict(model.load("scripted_train.pt"), tensor.load("x.pt"))\n' >"$tmp/pt/predict.pipe"
  expect 0 "a scripted model saved in training mode" -- "$PIPETTE" run "$tmp/pt/predict.pipe" --out "$tmp/pt/p" --no-cache -v
  has "$tmp/err" "saved in training mode; it runs in eval mode" "the log says so"
  /usr/bin/python3 - "$tmp/pt" <<'PY' && echo "ok: predictions match Python's eval mode" || { echo "FAIL: train-mode model"; fail=1; }
import sys, torch
d = sys.argv[1]
got = torch.load(d + "/p/reports/p.pt")
assert torch.allclose(got, torch.load(d + "/expected.pt"), atol=1e-5), got
PY
  printf 'report "p" = model.predict(model.load("traced_train.pt"), tensor.load("x.pt"))\n' >"$tmp/pt/traced.pipe"
  expect 1 "a model traced in training mode is refused" -- "$PIPETTE" run "$tmp/pt/traced.pipe" --out "$tmp/pt/t" --no-cache
  has "$tmp/err" "was traced in training mode" "the traced-train message"
else
  echo "skip: /usr/bin/python3 with torch is not here: no .pt files from Python"
fi

exit $fail
