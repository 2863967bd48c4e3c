"""Field-level explanations a credit reviewer can act on: attributions per field of the
application (text or tabular model), the Reg B reference applicant they are measured
against, adverse-action reason codes, and checks of their faithfulness.
"""
