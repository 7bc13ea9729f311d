"""Security domain: passwords, tokens and sessions, permissions, users and roles, and the audit log."""
