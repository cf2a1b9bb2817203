"""The agency tree: creating, moving and merging agencies, and browsing one's subtree."""
