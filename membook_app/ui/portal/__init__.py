"""The member portal: a member's own data, usable on a phone."""
