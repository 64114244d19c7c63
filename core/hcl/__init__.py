"""HCL syntax: the lexer, the fast reader, the python-hcl2 adapter and the tree both produce."""
