"""Finnish banking formats: payment references, bank barcode, EPC QR, banking days, pain.001.

Pure domain code: no web framework and no database imports, so it can be reused from the
CLI, background jobs and tests alike.
"""
