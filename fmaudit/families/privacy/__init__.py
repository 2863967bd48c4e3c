"""Privacy: the differential-privacy statement, membership-inference attacks, and what the guarantee cost
against the non-private twin and across an epsilon sweep."""
