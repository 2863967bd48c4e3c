"""The shared metrics layer beneath the families: the gate grammar, rates, parity figures and the association
of fields with sensitive attributes, and the stability index of a distribution that may have moved."""
