"""Admin pages for association admins, treasurers, viewers and the operator."""
