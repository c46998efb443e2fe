"""Turning stored results into files people read: exports, charts, PDFs and boards."""
