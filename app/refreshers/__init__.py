"""Spaced refreshers: three questions one and three months after completing a course."""
