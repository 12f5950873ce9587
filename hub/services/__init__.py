"""Hub domain services, one module per use case (see hub/domain.py)."""
