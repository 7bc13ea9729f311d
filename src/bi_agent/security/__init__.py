"""Security domain: passwords, users and roles (tokens, RBAC, PHI and audit follow)."""
