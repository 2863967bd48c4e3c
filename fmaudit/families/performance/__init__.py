"""Performance: score figures (accuracy, balanced accuracy, F1, ROC AUC, calibration) with intervals, next to
baselines. Its figures are the vocabulary other families build on (fairness computes them per group).
"""
