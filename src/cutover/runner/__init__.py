"""Running a cutover: the context every step rebuilds, the journaled steps, and the commands."""
