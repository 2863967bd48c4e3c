"""Behavioural tests a credit model validator runs: declared monotonic expectations, invariance to
rewritings that say the same thing, and sensitivity to the serialisation template, per sensitive group."""
