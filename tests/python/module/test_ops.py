"""pipette.ops: every op on Python values, checked as the language checks them."""
import inspect

import pipette
import pytest
import torch


def test_tensors_cross_without_copies():
    x = torch.arange(12.0).view(3, 4)
    y = pipette.ops.tensor.reshape(x, [4, 3])  # a view in the engine, of the caller's memory
    assert y.data_ptr() == x.data_ptr() and y.shape == (4, 3)
    part = pipette.ops.tensor.slice(x.t(), dim=0, start=1, end=3)  # strided in, strided out
    assert torch.equal(part, x.t()[1:3]) and part.data_ptr() == x.t()[1:3].data_ptr()
    flags = torch.tensor([True, False, True])
    same = pipette.ops.tensor.reshape(flags, [3])
    assert same.dtype == torch.bool and same.data_ptr() == flags.data_ptr()
    x.requires_grad_(True)
    assert torch.equal(pipette.ops.tensor.mul(x, 2.0), x.detach() * 2)


def test_keyword_arguments_get_the_languages_messages(net, images):
    with pytest.raises(pipette.Error) as e:
        pipette.ops.attr.integrated_gradients(net, images, target=0, stpes=8)
    assert "'attr.integrated_gradients' has no parameter 'stpes'" in str(e.value)
    assert "did you mean 'steps'?" in e.value.hints
    with pytest.raises(pipette.Error, match="steps"):
        pipette.ops.attr.integrated_gradients(net, images, target=0, steps=0)
    with pytest.raises(pipette.Error, match="method"):
        pipette.ops.attr.integrated_gradients(net, images, target=0, method="simpson")
    with pytest.raises(pipette.Error, match="must be model"):
        pipette.ops.attr.integrated_gradients(images, images)
    with pytest.raises(AttributeError, match="did you mean 'integrated_gradients'"):
        pipette.ops.attr.integrated_gradient
    with pytest.raises(pipette.Error, match="5 labels|target|class"):  # an error at run time names the op
        pipette.ops.attr.saliency(net, images, target=7)


def test_help_and_completion_come_from_the_signatures():
    ig = pipette.ops.attr.integrated_gradients
    assert "integrated_gradients" in dir(pipette.ops.attr) and "attr" in dir(pipette.ops)
    params = inspect.signature(ig).parameters
    assert list(params)[:3] == ["model", "inputs", "target"]
    assert params["steps"].default == 50 and params["method"].default == "gausslegendre"
    assert "Points on the path" in ig.__doc__ and "riemann_trapezoid" in ig.__doc__
    assert ig.__module__ == "pipette.ops.attr"


def test_an_nn_module_is_scripted_or_traced_and_a_clear_error_when_neither(net, images):
    scripted = torch.jit.script(net)
    a = pipette.ops.attr.saliency(net, images, target=1)
    assert torch.equal(a, pipette.ops.attr.saliency(scripted, images, target=1))

    class Untraceable(torch.nn.Module):
        def forward(self, x):  # NumPy: neither TorchScript nor a trace can hold it
            return x.flatten(1)[:, :3].numpy()

    with pytest.raises(pipette.Error) as e:
        pipette.ops.attr.saliency(Untraceable(), images, target=0)
    assert "could not be made one" in str(e.value) and "torch.jit.script" in str(e.value)
    assert "torch.jit.trace" in str(e.value)


def test_integrated_gradients_are_complete(images):
    # A smooth model: Gauss-Legendre quadrature of its path integral is exact to rounding.
    torch.manual_seed(2)
    smooth = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
    target = torch.tensor([0, 1, 2, 0, 1, 2])
    a = pipette.ops.attr.integrated_gradients(smooth, images, target=target, steps=64)
    rows = torch.arange(6)
    with torch.no_grad():
        gap = smooth(images)[rows, target] - smooth(torch.zeros_like(images))[rows, target]
    assert torch.allclose(a.flatten(1).sum(1), gap, atol=1e-5)


def test_plugin_ops_are_there_too():
    x = torch.zeros(6, 1, 16, 16)
    for i in range(6):
        x[i, 0, 4:12, 4:12] = 0.1 + 0.15 * i  # darker to brighter squares
    tags = pipette.ops.prime.image_tags(x, fraction=0.34)
    assert tags["names"][:2] == ["dark", "bright"]
    assert tags["values"][:, 0].tolist() == [True, True, False, False, False, False]
    assert tags["values"][:, 1].tolist() == [False, False, False, False, True, True]


def test_records_come_back_as_dicts_and_models_as_script_modules(images):
    labels = torch.tensor([0, 1, 2, 0, 1, 2])
    trained = pipette.ops.train.classifier(data={"images": images, "labels": labels}, arch="mlp", epochs=1)
    assert isinstance(trained["model"], torch.jit.ScriptModule)
    assert trained["model"](images).shape == (6, 3)


def test_a_model_is_loaded_once_until_its_weights_change(net, images):
    from pipette import _ops
    first = pipette.ops.attr.saliency(net, images, target=0)
    handle = _ops._models[net][1]
    pipette.ops.attr.saliency(net, images, target=1)
    assert _ops._models[net][1] is handle  # not scripted and serialized again
    with torch.no_grad():
        net[0].weight.mul_(2.0)  # an in-place update, as an optimizer step makes
    changed = pipette.ops.attr.saliency(net, images, target=0)
    assert _ops._models[net][1] is not handle
    assert not torch.equal(changed, first)
    assert torch.equal(changed, pipette.ops.attr.saliency(torch.jit.script(net), images, target=0))
