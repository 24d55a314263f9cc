"""Surgery on a pretrained network: find and replace its head, layer groups, freezing."""

from __future__ import annotations

import copy
import fnmatch
import numbers
from collections import OrderedDict

import torch
from torch import nn


def _first(out):
    """The main output of a network whose forward may return a tuple (e.g. DANN's)."""
    if isinstance(out, (tuple, list)):
        return out[0]
    return out


def _children_description(network: nn.Module) -> str:
    children = [f"{name!r} ({type(child).__name__})" for name, child in network.named_children()]
    return ", ".join(children) if children else "none"


def _find_head(network: nn.Module, head: str | None) -> str:
    """The dotted name of the head of ``network`` (``head``, or its last ``nn.Linear``)."""
    if head is None:
        linears = [name for name, m in network.named_modules() if isinstance(m, nn.Linear)]
        if not linears or linears[-1] == "":
            raise ValueError(
                f"could not find the head of module {type(network).__name__}: it has no "
                "nn.Linear submodule to replace. Name the submodule to replace with "
                f"head='<name>'; its children are: {_children_description(network)}"
            )
        return linears[-1]
    if not isinstance(head, str) or not head:
        raise TypeError(f"head must be the name of a submodule (a str) or None, got {head!r}")
    names = {name for name, _ in network.named_modules() if name}
    if head not in names:
        raise ValueError(
            f"head={head!r} is not a submodule of module {type(network).__name__}; its "
            f"children are: {_children_description(network)} (nested submodules are "
            "named with dots, as in named_modules())"
        )
    return head


def _probe_head(network: nn.Module, head_name: str, x: torch.Tensor):
    """``(head inputs, head output, network output)`` of one forward pass on ``x``, in eval mode.

    The head's items are ``()`` and None if the forward pass never calls it.
    """
    seen = []
    handle = network.get_submodule(head_name).register_forward_hook(
        lambda m, inputs, out: seen.append((inputs, out))
    )
    was_training = network.training
    network.eval()
    try:
        with torch.no_grad():
            out = _first(network(x))
    finally:
        handle.remove()
        network.train(was_training)
    inputs, head_out = seen[-1] if seen else ((), None)
    return inputs, head_out, out


def _check_head_is_output(network: nn.Module, head_name: str, x: torch.Tensor) -> None:
    """A clear error unless the output of ``head_name`` is the network's output.

    The head is replaced by a new one; a layer after it (a final ``Softmax``,
    an activation) or an output taken from another branch would transform or
    bypass the new head's outputs.
    """
    head = network.get_submodule(head_name)
    _, head_out, out = _probe_head(network, head_name, x)
    if not (
        isinstance(head_out, torch.Tensor)
        and isinstance(out, torch.Tensor)
        and head_out.shape == out.shape
        and torch.equal(head_out, out)
    ):
        raise ValueError(
            f"the head found, {head_name!r} ({type(head).__name__}, the last nn.Linear), "
            "is not the output layer of "
            f"module {type(network).__name__}: the network's output is not that layer's "
            "output (a layer after it, such as a final Softmax or an activation, or an "
            "output taken from another branch), so a new head there would be transformed "
            "or bypassed. Name the layer to replace with head='<name>' (the layers after a "
            "named head stay), or pass a network that ends with its head (drop a final "
            "Softmax: the estimator applies its own)."
        )


def _replace_submodule(network: nn.Module, name: str, new: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    parent = network.get_submodule(parent_name) if parent_name else network
    setattr(parent, child, new)


def _head_input_width(network: nn.Module, head_name: str, x: torch.Tensor) -> int:
    """Width of the input the head receives (``in_features`` of a Linear, else probed)."""
    head = network.get_submodule(head_name)
    if isinstance(head, nn.Linear):
        return head.in_features
    inputs = _probe_head(network, head_name, x)[0]
    if len(inputs) != 1 or not isinstance(inputs[0], torch.Tensor) or inputs[0].dim() != 2:
        shapes = [tuple(i.shape) for i in inputs if isinstance(i, torch.Tensor)]
        raise ValueError(
            f"head={head_name!r} is a {type(head).__name__} whose input is not one 2-D "
            f"tensor (got shapes {shapes}), so a new nn.Linear head cannot be sized; "
            "pass the replacement with head_module"
        )
    return int(inputs[0].shape[1])


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _layer_groups(network: nn.Module, head_name: str) -> list[list[str]]:
    """Names of the parameters of each layer group of ``network``, bottom group first.

    The *container* is ``network`` itself, or, while it has exactly one child
    holding parameters (a wrapper such as ``MLP.layers``), that child. Each
    child of the container that holds parameters outside the head is a group,
    in order, except that a child which is an ``nn.Sequential`` or
    ``nn.ModuleList`` of composite blocks is split into one group per block;
    parameters held directly by the container (or by the wrappers above it)
    join the first group. The head is no group.
    """
    container, prefix = network, ""
    while True:
        with_params = [
            (name, child)
            for name, child in container.named_children()
            if any(True for _ in child.parameters())
        ]
        if len(with_params) != 1 or prefix + with_params[0][0] == head_name:
            break
        name, child = with_params[0]
        container, prefix = child, prefix + name + "."
    groups: OrderedDict[str, list[str]] = OrderedDict()
    for name, child in container.named_children():
        if _is_stack_of_blocks(child) and prefix + name != head_name:
            # e.g. EfficientNet's ``blocks`` or a ResNet stage: one group per block
            for block_name, _ in child.named_children():
                groups[f"{prefix}{name}.{block_name}"] = []
        else:
            groups[prefix + name] = []
    loose: list[str] = []
    for pname, _ in network.named_parameters():
        if _under(pname, head_name):
            continue
        owner = next((g for g in groups if _under(pname, g)), None)
        (groups[owner] if owner is not None else loose).append(pname)
    result = [names for names in groups.values() if names]
    if loose:
        if result:
            result[0] = loose + result[0]
        else:
            result = [loose]
    return result


def _is_stack_of_blocks(module: nn.Module) -> bool:
    """An ``nn.Sequential``/``nn.ModuleList`` of several composite blocks (modules
    with children of their own), as opposed to a block of single layers."""
    if not isinstance(module, (nn.Sequential, nn.ModuleList)):
        return False
    children = list(module.children())
    return len(children) > 1 and all(any(True for _ in c.children()) for c in children)


def _resolve_freeze(freeze, names: list[str], groups: list[list[str]], head_name: str) -> list[str]:
    """Names of the parameters that ``freeze`` selects (in ``named_parameters()`` order)."""
    body = [n for n in names if not _under(n, head_name)]
    if freeze is None:
        return []
    if isinstance(freeze, str) and freeze == "all_but_head":
        return body
    if isinstance(freeze, numbers.Integral) and not isinstance(freeze, bool):
        n = int(freeze)
        if abs(n) > len(groups):
            raise ValueError(
                f"freeze={n} asks for {abs(n)} layer groups but module has "
                f"{len(groups)} (excluding the head): "
                + "; ".join(f"group {i}: {g[0]}..." for i, g in enumerate(groups))
            )
        chosen = groups[:n] if n >= 0 else groups[len(groups) + n :]
        selected = {p for g in chosen for p in g}
        return [p for p in names if p in selected]
    patterns = [freeze] if isinstance(freeze, str) else freeze
    if isinstance(freeze, bool) or not isinstance(patterns, (list, tuple)) or not all(
        isinstance(p, str) for p in patterns
    ):
        raise TypeError(
            "freeze must be None, 'all_but_head', an int (first n layer groups; "
            "negative: last n) or a list of fnmatch patterns over parameter names, "
            f"got {freeze!r}"
        )
    selected = set()
    for pattern in patterns:
        matched = [n for n in names if fnmatch.fnmatchcase(n, pattern)]
        if not matched:
            raise ValueError(
                f"freeze pattern {pattern!r} matches no parameter of module; valid "
                f"names (from named_parameters()) are: {', '.join(names)}"
                + (" (or freeze='all_but_head')" if "all" in pattern else "")
            )
        in_body = [n for n in matched if not _under(n, head_name)]
        if not in_body:
            raise ValueError(
                f"freeze pattern {pattern!r} matches only parameters of the head "
                f"({', '.join(matched)}), which is replaced by a new head that is always "
                "trained; patterns select layers below the head"
            )
        selected.update(in_body)  # the head's parameters are never frozen
    return [n for n in names if n in selected]


class _FineTuneModule(nn.Module):
    """The fine-tuned network plus the source head kept alongside.

    ``network`` is the pretrained network with its head replaced (its
    parameter names are the source's, prefixed by ``network.``);
    ``source_head`` a copy of the original head, fed the same features as the
    new head. In training mode with ``distill`` set, the forward pass returns
    ``(outputs, source_outputs)``; otherwise the new head's outputs.

    A BatchNorm layer whose parameters are all frozen (or, without affine
    parameters, whose nearest ancestor holding parameters is frozen) stays in
    eval mode, so its running statistics never change.
    """

    def __init__(self, network: nn.Module, head_name: str, source_head: nn.Module, distill: bool):
        super().__init__()
        self.network = network
        self.head_name = head_name
        self.source_head = source_head
        self.distill = distill

    def _with_source(self, x):
        captured = []
        head = self.network.get_submodule(self.head_name)
        handle = head.register_forward_hook(lambda m, inputs, out: captured.append(inputs))
        try:
            out = _first(self.network(x))
        finally:
            handle.remove()
        return out, self.source_head(*captured[-1])

    def forward(self, x):
        if self.training and self.distill:
            return self._with_source(x)
        return _first(self.network(x))

    def source_forward(self, x):
        """Outputs of the retained source head on ``x``."""
        return self._with_source(x)[1]

    def train(self, mode: bool = True):
        super().train(mode)
        if mode:
            for module in _frozen_batchnorms(self.network):
                module.eval()
        return self


def _frozen_batchnorms(network: nn.Module):
    modules = dict(network.named_modules())
    for name, module in modules.items():
        if not isinstance(module, nn.modules.batchnorm._BatchNorm):
            continue
        owner, owner_name = module, name
        while not any(True for _ in owner.parameters()) and owner_name:
            owner_name = owner_name.rpartition(".")[0]
            owner = modules[owner_name]
        params = list(owner.parameters())
        if params and not any(p.requires_grad for p in params):
            yield module


def _source_network_of(spec) -> nn.Module | None:
    """The network inside a fitted estimator or skorch net (deep-copied), else None."""
    net = getattr(spec, "net_", None)
    module = getattr(net, "module_", None) if net is not None else getattr(spec, "module_", None)
    if module is None:
        return None
    if isinstance(module, _FineTuneModule):
        return copy.deepcopy(module.network)
    if hasattr(module, "feature_extractor") and hasattr(module, "label_predictor"):
        # DANN layout: the path it predicts with (its domain classifier is dropped).
        return copy.deepcopy(
            nn.Sequential(
                OrderedDict(
                    feature_extractor=module.feature_extractor,
                    label_predictor=module.label_predictor,
                )
            )
        )
    return copy.deepcopy(module)
