"""`make audit`: Lighthouse on the main pages of each role (docs/benchmarks.md, "Front end")."""
