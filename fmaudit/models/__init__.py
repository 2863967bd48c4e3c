"""Models: the ``Classifier`` protocol every audited model offers, and the runners' model classes
(a pretrained text encoder with a classification head, a tabular MLP). No training here."""
