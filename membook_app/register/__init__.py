"""The member register: organisations, people, memberships and the register table."""
