"""Accounts: registration (open, by invite, or closed), login, tokens and their revocation, admins, the user
directory, invite codes and (through `profiles`, service/profiles.py) display names and avatars.

A token is good while it is signed, unexpired, its account exists and its generation is the account's
current one, and the token was not revoked on its own (signing out on one device: the ids of such tokens
are held in memory, loaded from the store at start and on every check). What an account is (its
generation, whether it is an admin) is cached for `USER_CHECK` seconds; a revocation is published through
the broker so every node ends the user's sessions at once, and a periodic check (every heartbeat) catches
what a broker outage lost.
"""

import asyncio
import logging
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from parley.auth import Bearer, InvalidToken, Tokens, hash_password, verify_password
from parley.auth.throttle import ACCOUNT_FAILURES, ADDRESS_FAILURES, Busy, FailedLogins, HashPool
from parley.broker import Broker
from parley.config import Settings
from parley.protocol.names import password_problem, username_problem
from parley.service.profiles import Profiles
from parley.session.registry import SessionRegistry
from parley.store import BadInvite, Invite, Store, User, UserExists
from parley.transports.sink import unauthenticated

log = logging.getLogger("parley")

USER_CHECK = 60.0  # seconds what an account is (exists, token generation, admin) is trusted without asking the store
INVITE_USES_MAX = 1000
INVITE_TTL_DEFAULT = 7 * 24 * 3600
USER_SEARCH_MAX = 50


class AccountError(Exception):
    """An account request that cannot succeed; `status` is the HTTP status to answer with."""

    def __init__(self, status: int, code: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Known:
    gen: int
    admin: bool
    until: float


class Accounts:
    def __init__(self, settings: Settings, store: Store, broker: Broker, sessions: SessionRegistry) -> None:
        self.settings = settings
        self._store = store
        self._broker = broker
        self._sessions = sessions
        self.tokens: Tokens | None = None
        self._known: dict[str, Known] = {}
        self._revoked: dict[str, int] = {}  # token id -> expiry (ms), of tokens revoked one by one
        self._hashing = HashPool()
        self._failed_accounts = FailedLogins(ACCOUNT_FAILURES)
        self._failed_addresses = FailedLogins(ADDRESS_FAILURES)
        self._tasks: set[asyncio.Task[int]] = set()
        self.profiles = Profiles(store)

    async def start(self) -> None:
        secret = await self._store.secret("token_secret", secrets.token_bytes(32))
        self.tokens = Tokens(secret, self.settings.token_ttl)
        await self._load_revoked()

    # creating and signing in ------------------------------------------------------------------------

    async def create_user(self, name: object, password: object, admin: bool = False,
                          invite: str | None = None) -> str:
        """Validate and create an account; AccountError (400, 403 or 409) when it cannot be."""
        problem = username_problem(name) or password_problem(password)
        if problem:
            raise AccountError(400, "bad_request", problem)
        assert isinstance(name, str) and isinstance(password, str)
        try:
            async with self._hash_slot():
                hashed = await hash_password(password)
            user = await self._store.create_user(name, hashed, admin=admin, invite=invite)
        except UserExists:
            raise AccountError(409, "conflict", f"username {name!r} is taken") from None
        except BadInvite:
            raise AccountError(403, "forbidden", "the invite code is unknown, expired or used up") from None
        self.remember(user)
        return user.name

    async def register(self, name: object, password: object, invite: object = None) -> tuple[str, str, int]:
        """Self-service registration, as `--registration` allows."""
        mode = self.settings.registration
        if mode == "closed":
            raise AccountError(403, "forbidden", "registration is closed: ask an admin for an account")
        if mode == "invite":
            if not isinstance(invite, str) or not invite:
                raise AccountError(403, "forbidden", "registration needs an invite code")
        else:
            invite = None
        user = await self.create_user(name, password, invite=invite)  # type: ignore[arg-type]
        return self._issue(user, 0)

    async def login(self, name: object, password: object, address: str = "") -> tuple[str, str, int]:
        """A token for `name`; AccountError 400, 401, or 429 while this account or `address` has failed too
        often lately or too many logins are being checked at once."""
        if not isinstance(name, str) or not isinstance(password, str) or not name:
            raise AccountError(400, "bad_request", "username and password are required")
        user = await self._check_password(name, password, address)
        self.remember(user)
        return self._issue(user.name, user.token_gen)

    async def _check_password(self, name: str, password: str, address: str) -> User:
        account, client = f"user:{name.lower()}", f"addr:{address}"
        wait = max(self._failed_accounts.retry_after(account), self._failed_addresses.retry_after(client))
        if wait > 0:
            raise AccountError(429, "rate_limited", f"too many failed logins; try again in {wait:.0f} s",
                               retry_after=wait)
        user = await self._store.get_user(name) if username_problem(name) is None else None
        async with self._hash_slot():
            good = await verify_password(user.password_hash if user else None, password)
        if not good or user is None:
            self._failed_accounts.failed(account)
            self._failed_addresses.failed(client)
            raise AccountError(401, "unauthorized", "wrong username or password")
        self._failed_accounts.succeeded(account)
        return user

    @asynccontextmanager
    async def _hash_slot(self) -> AsyncIterator[None]:
        try:
            async with self._hashing.slot():
                yield
        except Busy:
            raise AccountError(429, "rate_limited", "too many logins at once; try again in a moment",
                               retry_after=1.0) from None

    def issue_token(self, user: str) -> str:
        """A token for `user`, an account the caller has just created or checked (`remember`)."""
        known = self._known.get(user)
        return self._issue(user, known.gen if known is not None else 0)[0]

    def _issue(self, user: str, gen: int) -> tuple[str, str, int]:
        assert self.tokens is not None
        token, expires = self.tokens.issue(user, gen)
        return token, user, expires

    def remember(self, user: User) -> Known:
        """Trust what `user` is (exists, token generation, admin) for USER_CHECK seconds."""
        known = self._known[user.name] = Known(user.token_gen, user.admin, time.monotonic() + USER_CHECK)
        if len(self._known) > 100_000:
            self._known.pop(next(iter(self._known)))
        return known

    # checking tokens --------------------------------------------------------------------------------

    def authenticate(self, token: object) -> Bearer:
        """What a token says (its user and generation); InvalidToken if it is not valid now or was signed out.
        Whether the account still exists with that generation is `confirm` (`confirmed` answers from memory)."""
        if not isinstance(token, str) or self.tokens is None:
            raise InvalidToken("invalid token")
        bearer = self.tokens.verify(token)
        if bearer.token_id and bearer.token_id in self._revoked:
            raise InvalidToken("token revoked: sign in again")
        return bearer

    def confirmed(self, user: str, gen: int) -> bool | None:
        """From memory: whether `user` exists with token generation `gen`; None when not known lately."""
        known = self._known.get(user)
        if known is None or known.until < time.monotonic():
            return None
        return known.gen == gen

    async def confirm(self, user: str, gen: int) -> None:
        """Raise InvalidToken unless `user` exists and `gen` is its current token generation."""
        ok = self.confirmed(user, gen)
        if ok is None:
            account = await self._store.get_user(user)
            if account is None:
                self._known.pop(user, None)
                raise InvalidToken("account no longer exists")
            ok = self.remember(account).gen == gen
        if not ok:
            raise InvalidToken("token revoked: sign in again")

    def is_admin(self, user: str) -> bool | None:
        """From memory: whether `user` is a server admin; None when not known lately."""
        known = self._known.get(user)
        return known.admin if known is not None and known.until >= time.monotonic() else None

    async def admin(self, user: str) -> bool:
        cached = self.is_admin(user)
        if cached is not None:
            return cached
        account = await self._store.get_user(user)
        return account is not None and self.remember(account).admin

    async def canonical(self, name: str) -> str | None:
        """The registered spelling of the account `name` (compared case-insensitively), None if there is none."""
        if username_problem(name) is not None:
            return None
        account = await self._store.get_user(name)
        return account.name if account is not None else None

    # changing ---------------------------------------------------------------------------------------

    async def change_password(self, user: str, password: object, new_password: object,
                              address: str = "") -> tuple[str, str, int]:
        """Check the current password, set the new one, revoke every token issued before; a new token."""
        if not isinstance(password, str) or not password:
            raise AccountError(400, "bad_request", "password (the current one) is required")
        problem = password_problem(new_password)
        if problem:
            raise AccountError(400, "bad_request", f"new_password: {problem}")
        assert isinstance(new_password, str)
        await self._check_password(user, password, address)
        async with self._hash_slot():
            hashed = await hash_password(new_password)
        account = await self._store.update_user(user, password_hash=hashed)
        if account is None:
            raise AccountError(401, "unauthorized", "account no longer exists")
        self.remember(account)
        issued = self._issue(user, account.token_gen)
        self._broker.publish_user(user)  # every node ends the sessions of older tokens
        return issued

    async def sign_out(self, bearer: Bearer) -> None:
        """Revoke this one token: every node refuses it from now on and ends the sessions that use it."""
        if not bearer.token_id:  # made before tokens had ids: only signing out everywhere can revoke it
            raise AccountError(400, "bad_request", 'this token cannot be revoked alone: send {"everywhere": true}')
        await self._store.revoke_token(bearer.token_id, bearer.user, bearer.expires * 1000)
        self._revoked[bearer.token_id] = bearer.expires * 1000
        self._broker.publish_user(bearer.user)

    async def sign_out_everywhere(self, user: str) -> None:
        account = await self._store.update_user(user, revoke=True)
        if account is not None:
            self.remember(account)
        self._broker.publish_user(user)

    async def set_admin(self, name: str, admin: bool) -> bool:
        account = await self._store.update_user(name, admin=admin)
        return account is not None

    async def delete_user(self, name: str) -> bool:
        """Remove an account: its tokens stop working and its sessions end (within a heartbeat interval on
        every node)."""
        self._known.pop(name, None)
        return await self._store.delete_user(name)

    def user_changed(self, user: str) -> None:
        """The broker says `user`'s tokens were revoked: forget what is known and end the sessions whose token
        is older than the account's generation."""
        self._known.pop(user, None)
        # even with no session of the user here: REST and new connections must know the revoked token ids
        task = asyncio.get_running_loop().create_task(self._end_stale_quietly(user))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _end_stale_quietly(self, user: str) -> int:
        try:
            return await self.end_stale_sessions([user])
        except Exception as exc:  # the periodic check will do it
            log.warning("cannot check %s's tokens now: %s", user, exc)
            return 0

    async def _load_revoked(self) -> None:
        """Add the token ids revoked on any node; never drop one that has not expired (a sign-out on this node
        may have added it after the read began)."""
        now = int(time.time() * 1000)
        loaded = await self._store.revoked_tokens(now)
        self._revoked = {t: e for t, e in (self._revoked | loaded).items() if e > now}

    async def end_stale_sessions(self, users: list[str] | None = None) -> int:
        """End the live sessions of accounts that no longer exist or whose token was revoked (on any node or
        from the CLI); how many users had such sessions."""
        await self._load_revoked()  # also for REST on this node
        users = self._sessions.users() if users is None else [u for u in users if self._sessions.of(u)]
        if not users:
            return 0
        gens = await self._store.token_gens(users)
        ended = 0
        for user in users:
            gen = gens.get(user)
            stale = [s for s in self._sessions.of(user)
                     if gen is None or s.gen < gen or (s.token_id and s.token_id in self._revoked)]
            if gen is None:
                self._known.pop(user, None)
            for session in stale:
                session.end(unauthenticated("account no longer exists" if gen is None else "token revoked"))
            ended += bool(stale)
        return ended

    # directory and invites --------------------------------------------------------------------------

    async def find(self, prefix: str, limit: int) -> list[str]:
        return await self._store.find_users(prefix, max(1, min(limit, USER_SEARCH_MAX)))

    async def create_invite(self, by: str, uses: object = 1, expires_in: object = INVITE_TTL_DEFAULT) -> Invite:
        if not isinstance(uses, int) or isinstance(uses, bool) or not 1 <= uses <= INVITE_USES_MAX:
            raise AccountError(400, "bad_request", f"uses must be an integer from 1 to {INVITE_USES_MAX}")
        if not isinstance(expires_in, int) or isinstance(expires_in, bool) or not 60 <= expires_in <= 365 * 86400:
            raise AccountError(400, "bad_request", "expires_in must be a number of seconds from 60 to 31536000")
        invite = Invite(code=secrets.token_urlsafe(12), created_by=by,
                        expires_ms=int((time.time() + expires_in) * 1000), uses_left=uses)
        await self._store.create_invite(invite)
        return invite

    async def invites(self) -> list[Invite]:
        return await self._store.invites(int(time.time() * 1000))

    async def delete_invite(self, code: str) -> bool:
        return await self._store.delete_invite(code)
