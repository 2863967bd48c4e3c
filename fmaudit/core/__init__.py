"""The core every layer builds on: the error tree, typed findings, intervals, provenance, offline guards
and where jobs run."""
