"""Perl compatibility: numbers, truth, regular expressions and lists read as the original reads them."""
