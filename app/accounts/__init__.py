"""Staff accounts: users with roles, server-side sessions, API tokens."""
