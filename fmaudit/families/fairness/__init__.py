"""Fairness computations behind the fairness plugin: group metrics and disparities as array
functions, significance tests, counterfactual flips and a post-processing what-if."""
