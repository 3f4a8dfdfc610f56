"""The pieces of the command-line options; :func:`pose3d.opts.parse` joins them."""
