"""Who may sign in, how, and what each signed-in user may touch."""
