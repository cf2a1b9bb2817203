"""Sign-in, sign-out, passwords and account commands."""
