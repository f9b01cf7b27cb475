"""Scale-out tests: several nodes on one PostgreSQL and one Redis, nginx in front, failures injected."""
