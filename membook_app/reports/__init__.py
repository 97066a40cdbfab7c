"""Reports: each defined once (`registry.ReportDef`) and used by the page, the command
line and the .xlsx export alike.

Figures come from SQL aggregates (GROUP BY in the database); pandas only shapes the
aggregated result (pivots, ordering, totals). Detail rows ("the members behind each
bucket", settlement lines) are a SQL select that the page reads a page at a time and the
export streams in partitions. See docs/reports.md.
"""
