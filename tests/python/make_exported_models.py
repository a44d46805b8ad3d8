"""Models exported with torch.export, and what eager PyTorch computes with
them, for tests/python/exported_programs_test.sh.

    python make_exported_models.py OUT_DIR

Each case CASE is CASE.pt2 (torch.export.export(model, args) + torch.export.save,
the batch dimension dynamic) with CASE/ holding its inputs (in0.pt, ...), a
cotangent (cot.pt), and eager PyTorch's forward output (out.pt, or out_KEY.pt
for a dict), input gradients of sum(out * cot) (gin0.pt, ...) and parameter
gradients (grad/NAME.pt). cases.json lists the cases with their parameter
names. Also Captum's IntegratedGradients and LayerIntegratedGradients on the
eager modules, a forward hook's patch and activations, and files for every
construct pipette refuses (bad_*.pt2). Seeded: the same files every time.
"""
import json
import os
import sys
import zipfile

import torch
import torch.nn as nn
import torch.nn.functional as F
from captum.attr import IntegratedGradients, LayerIntegratedGradients

out = sys.argv[1]
torch.manual_seed(0)
B = torch.export.Dim("batch", min=1, max=4096)


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.fc2, self.fc3 = nn.Linear(6, 16), nn.Linear(16, 16), nn.Linear(16, 3)
        self.act = nn.GELU()

    def forward(self, x):
        return self.fc3(torch.tanh(self.fc2(self.act(self.fc1(x)))))


class CNN(nn.Module):
    """Batch norm and dropout, exported in eval mode."""
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.drop = nn.Dropout(0.5)
        self.fc = nn.Linear(4 * 4 * 4, 3)

    def forward(self, x):
        h = F.max_pool2d(F.relu(self.bn(self.conv(x))), 2)
        return self.fc(self.drop(h.flatten(1)))


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, padding=1)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1)
        self.relu = nn.ReLU()

    def forward(self, x):
        return self.relu(x + self.conv2(self.relu(self.conv1(x))))


class ResNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(1, 4, 3, padding=1)
        self.blocks = nn.Sequential(Block(4), Block(4))
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(16, 3))

    def forward(self, x):
        return self.head(self.blocks(F.relu(self.stem(x))))


class Attention(nn.Module):
    def __init__(self, d, heads, sdpa):
        super().__init__()
        self.heads, self.sdpa = heads, sdpa
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.register_buffer("mask", torch.tril(torch.ones(16, 16, dtype=torch.bool)))

    def forward(self, x):
        b, t, d = x.shape
        q, k, v = self.qkv(x).split(d, dim=-1)
        q, k, v = (z.view(b, t, self.heads, d // self.heads).transpose(1, 2) for z in (q, k, v))
        if self.sdpa:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            a = (q @ k.transpose(-2, -1)) / (d // self.heads) ** 0.5
            y = a.masked_fill(~self.mask[:t, :t], float("-inf")).softmax(-1) @ v
        return self.proj(y.transpose(1, 2).reshape(b, t, d))


class GPTBlock(nn.Module):
    def __init__(self, d, heads, sdpa):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.attn = Attention(d, heads, sdpa)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class GPT(nn.Module):
    def __init__(self, sdpa=False, vocab=13, d=16, heads=2, n=2):
        super().__init__()
        self.embed = nn.Embedding(vocab, d)
        self.pos = nn.Parameter(torch.randn(16, d) * 0.1)
        self.blocks = nn.ModuleList(GPTBlock(d, heads, sdpa) for _ in range(n))
        self.ln_f = nn.LayerNorm(d)
        self.unembed = nn.Linear(d, vocab)

    def forward(self, tokens):
        h = self.embed(tokens) + self.pos[: tokens.shape[1]]
        for b in self.blocks:
            h = b(h)
        return self.unembed(self.ln_f(h))


class TwoInputs(nn.Module):
    """forward(x, mask) -> {"features", "logits"}."""
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(8, 6), nn.Tanh())
        self.fc = nn.Linear(6, 3)

    def forward(self, x, mask):
        h = self.body(x * mask)
        return {"features": h, "logits": self.fc(h)}


class Cond(nn.Module):
    """torch.cond on the data: one branch or the other per batch."""
    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(4, 3), nn.Linear(4, 3)

    def forward(self, x):
        return torch.cond(x.sum() > 0, lambda x: self.a(x).relu(), lambda x: self.b(x).tanh(), (x,))


class HigherOrder(nn.Module):
    """while_loop, a no_grad region and autocast: the other higher-order ops."""
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        _, y = torch._higher_order_ops.while_loop(lambda i, h: i < 3, lambda i, h: (i + 1, torch.tanh(self.fc(h))),
                                                  (torch.tensor(0), x))
        with torch.no_grad():
            scale = y.abs().mean() + 1
        with torch.autocast("cpu", dtype=torch.bfloat16):
            z = y @ y.t()
        return z.float() * scale


def eager_higher_order(m, x):
    y = x
    for _ in range(3):
        y = torch.tanh(m.fc(y))
    with torch.no_grad():
        scale = y.abs().mean() + 1
    with torch.autocast("cpu", dtype=torch.bfloat16):
        z = y @ y.t()
    return z.float() * scale


def save(t, *path):
    os.makedirs(os.path.dirname(os.path.join(out, *path)), exist_ok=True)
    torch.save(t.detach().clone() if isinstance(t, torch.Tensor) else t, os.path.join(out, *path))


cases = {}


def case(name, model, inputs, dynamic=None, eager=None, grads=True, export=True, file=None, train=False):
    """Exports `model`, and saves eager PyTorch's outputs and gradients (and,
    for a model exported in training mode, its buffers after one pass)."""
    model.train(train)
    start = {n: b.clone() for n, b in model.named_buffers()}
    if export:
        dyn = dynamic if dynamic is not None else tuple({0: B} for _ in inputs)
        ep = torch.export.export(model, tuple(inputs), dynamic_shapes=dyn)
        torch.export.save(ep, f"{out}/{name}.pt2")
    inputs = [i.clone().requires_grad_(i.is_floating_point()) for i in inputs]
    for k, i in enumerate(inputs):
        save(i, name, f"in{k}.pt")
    if train:  # export traced a pass on copies; start from the same buffers
        with torch.no_grad():
            for n, b in model.named_buffers():
                b.copy_(start[n])
    res = (eager or model)(*inputs)
    if train:
        for n, b in model.named_buffers():
            save(b, name, "buf", n + ".pt")
    outs = res if isinstance(res, dict) else {"": res}
    cot = {k: torch.randn_like(v) for k, v in outs.items()}
    for k, v in outs.items():
        save(v, name, f"out{'_' + k if k else ''}.pt")
        save(cot[k], name, f"cot{'_' + k if k else ''}.pt")
    params = [n for n, _ in model.named_parameters()]
    if grads:
        loss = sum((v * cot[k]).sum() for k, v in outs.items())
        wrt = [i for i in inputs if i.requires_grad] + [p for _, p in model.named_parameters()]
        g = torch.autograd.grad(loss, wrt, allow_unused=True)
        gi = g[: len(wrt) - len(params)]
        for k, t in enumerate(gi):
            save(t, name, f"gin{k}.pt")
        for n, t in zip(params, g[len(gi):]):
            save(t if t is not None else torch.zeros_like(dict(model.named_parameters())[n]), name, "grad", n + ".pt")
    cases[name] = {"file": (file or name) + ".pt2", "inputs": len(inputs),
                   "buffers": [n for n, _ in model.named_buffers()] if train else [], "outputs": sorted(k for k in outs if k), "params": params, "grads": grads}
    return model


x_img = torch.rand(5, 1, 8, 8)
mlp = case("mlp", MLP(), [torch.randn(7, 6)])
# The ATen dialect (after run_decompositions): the same numbers.
torch.export.save(torch.export.export(mlp, (torch.randn(7, 6),), dynamic_shapes=({0: B},)).run_decompositions(),
                  f"{out}/mlp_aten.pt2")
case("mlp_aten", mlp, [torch.randn(7, 6)], export=False, file="mlp_aten")
cnn = CNN()
with torch.no_grad():  # running statistics that are not 0 and 1
    cnn.bn.running_mean.uniform_(-0.5, 0.5)
    cnn.bn.running_var.uniform_(0.5, 2.0)
case("cnn", cnn, [x_img])
resnet = case("resnet", ResNet(), [x_img])
tokens = torch.randint(0, 13, (3, 9))
T = torch.export.Dim("t", min=2, max=15)
gpt = case("gpt", GPT(), [tokens], dynamic=({0: B, 1: T},))
case("gpt_sdpa", GPT(sdpa=True), [tokens], dynamic=({0: B, 1: T},))
two = case("two", TwoInputs(), [torch.rand(5, 8), (torch.rand(5, 8) > 0.3).float()])
cond = Cond()
case("cond", cond, [torch.rand(4, 4) + 0.1], dynamic=None)
case("cond_neg", cond, [-torch.rand(4, 4) - 0.1], export=False, file="cond")
# Exported in training mode (batch norm first: a bias before it has a gradient
# of zero up to rounding): batch norm's running statistics (and its
# num_batches_tracked, an in-place add_) update in the module's buffers.
case("bn_train", nn.Sequential(nn.BatchNorm1d(4), nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 2)),
     [torch.randn(8, 4)], train=True)
class SizeArithmetic(nn.Module):
    """Python's // and % on a symbolic size: -7 // 2 is -4 and -7 % 3 is 2, not C's -3 and -1."""
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 3)

    def forward(self, x):
        n = x.shape[0]
        return self.fc(x) * (-n // 2) + (-n % 3) + n / 2


case("sizes", SizeArithmetic(), [torch.randn(7, 3)])
ho = HigherOrder()
case("hops", ho, [torch.randn(3, 4)], dynamic=({},), eager=lambda x: eager_higher_order(ho, x))

# Captum on the eager modules, and a forward hook, for the scripts' methods.
e = {}
targets = torch.tensor([0, 1, 2, 0, 1])
e["ig_cnn"] = IntegratedGradients(cnn).attribute(x_img, target=targets, n_steps=32, method="gausslegendre")
e["lig_resnet"] = LayerIntegratedGradients(resnet, resnet.blocks[1].conv2).attribute(
    x_img, baselines=torch.zeros_like(x_img), target=targets, n_steps=32, method="gausslegendre")
h = resnet.blocks[0].register_forward_hook(lambda m, i, o: torch.zeros_like(o))
with torch.no_grad():
    e["zero_block0"] = resnet(x_img)
h.remove()
acts = {}
hs = [gpt.blocks[1].attn.register_forward_hook(lambda m, i, o: acts.__setitem__("attn", o)),
      gpt.blocks[0].mlp[1].register_forward_hook(lambda m, i, o: acts.__setitem__("gelu_in", i[0]))]
with torch.no_grad():
    gpt(tokens)
for hk in hs:
    hk.remove()
e["act_attn1"], e["act_gelu_in"] = acts["attn"], acts["gelu_in"]
h = two.body[1].register_forward_hook(lambda m, i, o: torch.zeros_like(o))
with torch.no_grad():
    e["two_zero_body1"] = two(torch.load(f"{out}/two/in0.pt"), torch.load(f"{out}/two/in1.pt"))["logits"]
h.remove()
for k, v in e.items():
    save(v, "expected", k + ".pt")
save(targets, "targets.pt")
# Fine-tuning data for cnn: a labelled dataset of its images.
save(torch.rand(64, 1, 8, 8), "ft_images.pt")
save(torch.randint(0, 3, (64,)), "ft_labels.pt")
torch.export.save(torch.export.export(cnn, (x_img,)), f"{out}/cnn_static.pt2")


# What pipette refuses, each for its own message.
class Train(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.drop = nn.Dropout(0.5)

    def forward(self, x):
        return self.drop(self.fc(x))


torch.export.save(torch.export.export(Train().train(), (torch.randn(2, 4),)), f"{out}/bad_training.pt2")


@torch.library.custom_op("pipette_test::twice", mutates_args=())
def twice(x: torch.Tensor) -> torch.Tensor:
    return x * 2


@twice.register_fake
def _(x):
    return torch.empty_like(x)


class Custom(nn.Module):
    def forward(self, x):
        return twice(x) + 1


torch.export.save(torch.export.export(Custom(), (torch.randn(2, 4),)), f"{out}/bad_custom_op.pt2")


class Mapped(nn.Module):
    def forward(self, xs):
        return torch._higher_order_ops.map(lambda x: x.sin(), xs)


torch.export.save(torch.export.export(Mapped(), (torch.randn(3, 4),)), f"{out}/bad_map.pt2")


class Kw(nn.Module):
    def forward(self, x, *, scale):
        return x * scale


torch.export.save(torch.export.export(Kw(), (torch.randn(2, 3),), {"scale": torch.ones(3)}), f"{out}/bad_kwargs.pt2")


def doctored(src, dst, change):
    """A copy of the archive `src` with change(name, bytes) -> bytes applied to each record."""
    with zipfile.ZipFile(f"{out}/{src}") as z:
        records = [(i.filename.split("/", 1)[1], z.read(i.filename)) for i in z.infolist()]
    w = torch._C.PyTorchFileWriter(f"{out}/{dst}")
    for name, data in records:
        if name in (".data/version", ".data/serialization_id", "byteorder"):
            continue
        data = change(name, data)
        w.write_record(name, data, len(data))
    w.write_end_of_file()


def model_json(f):
    def change(name, data):
        if name != "models/model.json":
            return data
        d = json.loads(data)
        f(d)
        return json.dumps(d).encode()
    return change


def newer(d):
    d["schema_version"] = {"major": 9, "minor": 0}


def triton(d):
    d["graph_module"]["graph"]["nodes"][0]["target"] = "torch.ops.higher_order.triton_kernel_wrapper_functional"


def pickled(name, data):
    if name.endswith("_weights_config.json"):
        c = json.loads(data)
        c["config"]["fc1.weight"]["use_pickle"] = True
        return json.dumps(c).encode()
    return data


def oversized(name, data):
    if name.endswith("_weights_config.json"):
        c = json.loads(data)
        c["config"]["fc1.weight"]["tensor_meta"]["sizes"][0] = {"as_int": 10 ** 6}
        return json.dumps(c).encode()
    return data


def truncated(name, data):
    return data[:-3] if name == "data/weights/weight_0" else data


def cond_without_graph(d):
    for n in d["graph_module"]["graph"]["nodes"]:
        if n["target"] == "torch.ops.higher_order.cond":
            n["inputs"][1]["arg"] = {"as_int": 0}


def outputs_miscounted(d):
    specs = d["graph_module"]["signature"]["output_specs"]
    specs.extend([specs[0], specs[0]])


doctored("mlp.pt2", "bad_oversized.pt2", oversized)
doctored("mlp.pt2", "bad_truncated.pt2", truncated)
doctored("cond.pt2", "bad_cond.pt2", model_json(cond_without_graph))
doctored("mlp.pt2", "bad_outputs.pt2", model_json(outputs_miscounted))
doctored("mlp.pt2", "bad_version.pt2", model_json(newer))
doctored("mlp.pt2", "bad_triton.pt2", model_json(triton))
doctored("mlp.pt2", "bad_subclass.pt2", pickled)
json.dump(cases, open(f"{out}/cases.json", "w"), indent=1)
print("cases:", ", ".join(cases))
