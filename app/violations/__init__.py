"""Violation reports: filing with evidence, handling by monitoring officers, forwarding, figures."""
