"""Accounts: argon2 password hashing and expiring signed tokens."""

from parley.auth.passwords import hash_password, verify_password
from parley.auth.tokens import Bearer, InvalidToken, Tokens

__all__ = ["Bearer", "InvalidToken", "Tokens", "hash_password", "verify_password"]
