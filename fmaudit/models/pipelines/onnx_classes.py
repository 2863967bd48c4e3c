"""The class labels of an ONNX classifier's probability columns, read from its graph: converters put them on
the classifier node (``classlabels_*`` of ``LinearClassifier``, ``TreeEnsembleClassifier``, ``ZipMap``, ...) or,
for graphs built from plain operators (skl2onnx's MLP), in a constant the label output is indexed from."""

from __future__ import annotations

from typing import Any

CLASS_ATTRIBUTES = ("classlabels_strings", "classlabels_int64s", "classlabels_ints")
PASS_THROUGH = {"Identity", "Cast", "Reshape", "Squeeze", "Unsqueeze", "Flatten", "Normalizer"}
"""Operators that keep the order of the classes: followed through their first input."""
INDEXING = {"ArrayFeatureExtractor", "Gather"}
"""Operators that pick from their first input (the classes, for a label output) by the second (the argmax)."""


def graph_classes(graph: Any, output: str) -> list[object] | None:
    """The classes of the probability ``output``'s columns, traced from it and then from the graph's other
    outputs (the label); None when no trace reaches class labels."""
    for name in [output, *(o.name for o in graph.output if o.name != output)]:
        found = _traced(graph, name)
        if found is not None:
            return found
    return None


def _traced(graph: Any, name: str) -> list[object] | None:
    """Follow ``name`` back through order-keeping operators to a node naming its class labels, or, past an
    indexing operator, to the constant array it indexes."""
    from onnx import numpy_helper

    producers = {out: node for node in graph.node for out in node.output}
    constants = {init.name: init for init in graph.initializer}
    indexed = False
    for _ in range(len(graph.node) + 1):
        if indexed and name in constants:
            return list(numpy_helper.to_array(constants[name]).ravel())
        node = producers.get(name)
        if node is None:
            return None
        attributes = {a.name: a for a in node.attribute}
        for key in CLASS_ATTRIBUTES:
            if key in attributes:
                attribute = attributes[key]
                return [s.decode("utf-8") for s in attribute.strings] if attribute.strings else list(attribute.ints)
        if indexed and node.op_type == "Constant" and "value" in attributes:
            return list(numpy_helper.to_array(attributes["value"].t).ravel())
        if node.op_type in INDEXING:
            indexed = True
        elif node.op_type not in PASS_THROUGH:
            return None
        name = node.input[0]
    return None
