"""The shared metrics layer beneath the families: the gate grammar, rates and parity figures."""
