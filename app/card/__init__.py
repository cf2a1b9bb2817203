"""The "Trước khi đăng" card: the course's checklist on one page, as PDF and as a phone-sized PNG."""
