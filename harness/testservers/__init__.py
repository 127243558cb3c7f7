"""Small servers the tests measure: leaky_server.c (C, plain malloc) and go-memserver (Go)."""
