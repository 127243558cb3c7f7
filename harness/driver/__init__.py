"""The memgate driver: runs scenarios against refserver, samples memory, writes result JSON."""
