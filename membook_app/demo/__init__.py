"""Demo data for `make run` and for trying the product out."""
