"""Fees, invoices, invoice runs, reminders and credit notes."""
