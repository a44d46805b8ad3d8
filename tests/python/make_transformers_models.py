"""Real-world model code in pipette: a ViT and a GPT-2 from Hugging Face's
transformers, built from small configs with random weights (no hub download),
traced to TorchScript as a transformers user exports them, with what Python
computes on them, for tests/python/transformers_models_test.sh.

    python make_transformers_models.py OUT_DIR

Writes vit.pt and gpt2.pt (torch.jit.trace with strict=False: both return
their ModelOutput as a dict, whose "logits" pipette reads through
model.load's output=), images.pt, targets.pt, tokens.pt and expected.pt: each
model's eager logits and Captum's IntegratedGradients on the eager ViT.
Seeded: the same files every time.
"""
import sys
import warnings

import torch
import transformers
from captum.attr import IntegratedGradients
from transformers import GPT2Config, GPT2LMHeadModel, ViTConfig, ViTForImageClassification

out = sys.argv[1]
torch.manual_seed(0)
# Tracing transformers' code warns (TracerWarning: shapes read as Python
# numbers); the trace is checked against eager outputs below instead.
warnings.simplefilter("ignore")

vit = ViTForImageClassification(ViTConfig(
    image_size=16, patch_size=4, num_channels=1, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
    intermediate_size=64, num_labels=5, attn_implementation="eager")).eval()
gpt2 = GPT2LMHeadModel(GPT2Config(
    n_layer=2, n_head=2, n_embd=32, vocab_size=100, n_positions=16, use_cache=False, bos_token_id=None,
    eos_token_id=None, attn_implementation="eager")).eval()

images = torch.rand(4, 1, 16, 16)
targets = torch.tensor([0, 1, 2, 3])
tokens = torch.randint(0, 100, (3, 8))
torch.jit.trace(vit, images, strict=False).save(f"{out}/vit.pt")
torch.jit.trace(gpt2, tokens, strict=False).save(f"{out}/gpt2.pt")

expected = {}
with torch.no_grad():
    expected["vit_logits"] = vit(images).logits
    expected["gpt2_logits"] = gpt2(tokens).logits
expected["vit_ig"] = IntegratedGradients(lambda x: vit(x).logits).attribute(
    images, baselines=0.0, target=targets, n_steps=32, method="gausslegendre").detach()
torch.save(images, f"{out}/images.pt")
torch.save(targets, f"{out}/targets.pt")
torch.save(tokens, f"{out}/tokens.pt")
torch.save(expected, f"{out}/expected.pt")
print(f"transformers {transformers.__version__}")
