"""Each person's own data: the privacy notice, "Dữ liệu của tôi", corrections, the access trace, retention."""
