"""Captum's KernelShap with a least-squares trainer in torch, for the benchmarks
(attribution/captum_peer.py, python/module_vs_captum.py): its default trainer
needs scikit-learn, which Debian's Python here does not have. Its cost is
negligible next to the model evaluations being compared."""
import torch
from captum._utils.models.linear_model import LinearModel
from captum.attr import KernelShap


def lstsq_train(model, dataloader, construct_kwargs, **kwargs):
    # Weighted least squares, as scikit-learn's LinearRegression fits it.
    xs, ys, ws = [], [], []
    for batch in dataloader:
        xs.append(batch[0])
        ys.append(batch[1])
        ws.append(batch[2] if len(batch) == 3 else torch.ones(len(batch[0])))
    x, y, w = torch.cat(xs).double(), torch.cat(ys).double(), torch.cat(ws).double()
    design = torch.cat([torch.ones(len(x), 1, dtype=x.dtype), x], 1) * w.sqrt().view(-1, 1)
    coef = torch.linalg.lstsq(design, (y.view(len(y), -1) * w.sqrt().view(-1, 1))).solution
    model._construct_model_params(norm_type=None, weight_values=coef[1:].t().float(),
                                  bias_value=coef[0].float().view(-1))
    return {}


def kernel_shap(model):
    method = KernelShap(model)
    method.interpretable_model = LinearModel(train_fn=lstsq_train)  # in place of the scikit-learn one
    return method
