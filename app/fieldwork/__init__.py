"""Fieldwork: the staff list, invitations and reminders by mail, and response progress while a
wave is open."""
