"""Online payments: the Paytrail Payment API client and its local contract sandbox."""
