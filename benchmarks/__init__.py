"""Speed and memory targets, measured against a bare baseline in the same run (`make bench`)."""
