"""The server's API keys in the store: only a sha256 of each key is kept; the key itself is
shown once, when it is made. A revoked key stays listed (with when it was revoked)."""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

import sqlalchemy as sa

from ..errors import NotFoundError, UserErrorException
from .entities import utcnow
from .schema import metadata

api_keys = sa.Table(
    "api_keys", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", sa.String(32), nullable=False),
    sa.Column("revoked_at", sa.String(32)),
)

KEY_PREFIX = "aml_"


@dataclass(frozen=True)
class ApiKeyInfo:
    id: str
    name: str
    created_at: str
    revoked_at: str | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class ApiKeyStore:
    """Mixin of SqlStore (uses its ``_engine``)."""

    def create_api_key(self, name: str) -> tuple[ApiKeyInfo, str]:
        """A new key named ``name``: ``(its record, the key)``; the key is not kept."""
        if not isinstance(name, str) or not name.strip() or len(name) > 128:
            raise UserErrorException("a key needs a name of 1-128 characters, e.g. "
                                     "`amlocal studio keys create ci-bot`")
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        info = ApiKeyInfo(id=secrets.token_hex(8), name=name.strip(), created_at=utcnow())
        with self._engine.begin() as conn:
            conn.execute(api_keys.insert().values(**info.__dict__, key_hash=hash_key(key)))
        return info, key

    def list_api_keys(self) -> list[ApiKeyInfo]:
        with self._engine.connect() as conn:
            rows = conn.execute(api_keys.select().order_by(api_keys.c.created_at)).all()
        return [ApiKeyInfo(r.id, r.name, r.created_at, r.revoked_at) for r in rows]

    def revoke_api_key(self, key_id_or_name: str) -> ApiKeyInfo:
        """Revoke the key with this id (or the active keys with this name)."""
        found = [k for k in self.list_api_keys() if k.active
                 and key_id_or_name in (k.id, k.name)]
        if not found:
            raise NotFoundError(f"no active key with id or name {key_id_or_name!r}; list them with "
                                "`amlocal studio keys list`")
        now = utcnow()
        with self._engine.begin() as conn:
            conn.execute(api_keys.update().where(api_keys.c.id.in_([k.id for k in found]))
                         .values(revoked_at=now))
        return ApiKeyInfo(found[0].id, found[0].name, found[0].created_at, now)

    def verify_api_key(self, key: str) -> ApiKeyInfo | None:
        """The active key record matching ``key``, else None (compared in constant time)."""
        if not isinstance(key, str) or not key:
            return None
        digest = hash_key(key)
        with self._engine.connect() as conn:
            row = conn.execute(api_keys.select().where(api_keys.c.key_hash == digest)).first()
        if row is None or row.revoked_at is not None or not hmac.compare_digest(row.key_hash, digest):
            return None
        return ApiKeyInfo(row.id, row.name, row.created_at, row.revoked_at)
