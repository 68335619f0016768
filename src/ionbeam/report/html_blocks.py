"""Building blocks of ionbeam's self-contained HTML pages (escaped elements, tables, the
page with its style sheet), public for other pages than the plan report (e.g. the batch
summary of ``ionbeam batch``)."""

from ionbeam.report._html import document, element, table

__all__ = ["document", "element", "table"]
