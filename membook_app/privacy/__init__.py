"""Data protection: a member's own data, deletion requests, retention and pseudonymisation."""
