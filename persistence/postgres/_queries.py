"""The SQL the store runs (tables are found through the connection's ``search_path``).

Events travel as JSON: a batch of appends is two ``jsonb`` parameters (the
sessions' new rows, the events with their session), expanded by
``jsonb_to_recordset`` on the server.  That keeps one statement per batch,
whatever its size, and spares the client from encoding arrays.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "APPEND",
    "APPEND_QUIET",
    "INSERT_EVENTS",
    "LISTING",
    "LISTING_OF",
    "OWNER",
    "RELEASE",
    "TAKE",
    "UPSERT",
]

TAKE: Final = """
UPDATE sessions SET owner_host = %(host)s, owner_pid = %(pid)s, owner_started = %(started)s,
    owner_token = %(token)s, heartbeat = now()
WHERE id = %(id)s AND (owner_token IS NULL OR owner_token = %(token)s
    OR heartbeat < now() - make_interval(secs => %(lease)s) OR owner_token = %(gone)s)
RETURNING last_seq, version, status
"""
"""Own a session: free, already ours, its owner's lease expired, or its owner (``gone``) gone."""

OWNER: Final = """
SELECT owner_host, owner_pid, owner_started, owner_token, heartbeat, now(), version, last_seq
FROM sessions WHERE id = %s
"""
"""Who owns a session, the server's clock, and where the session stands."""

LISTING: Final = """
SELECT id, state::text, config->'workflow'->>'name', created_at,
    owner_host, owner_pid, owner_started, owner_token, heartbeat, now()
FROM sessions ORDER BY id COLLATE "C"
"""
"""Every session at a glance, with its owner and the server's clock, oldest first."""

LISTING_OF: Final = """
SELECT id, state::text, config->'workflow'->>'name', created_at,
    owner_host, owner_pid, owner_started, owner_token, heartbeat, now()
FROM sessions WHERE id = ANY(%s) ORDER BY id COLLATE "C"
"""
""":data:`LISTING` of some sessions (a list of ids)."""

_APPEND_HEAD: Final = """
WITH v AS (
    SELECT * FROM jsonb_to_recordset(%s::jsonb) AS v(id text, version bigint, after bigint,
        last bigint, state jsonb, status text, finished boolean)
), s AS (
    UPDATE sessions AS t SET last_seq = v.last, version = t.version + 1, state = v.state,
        status = v.status, heartbeat = now(),
        owner_token = CASE WHEN v.finished THEN NULL ELSE t.owner_token END,
        owner_host = CASE WHEN v.finished THEN NULL ELSE t.owner_host END,
        owner_pid = CASE WHEN v.finished THEN NULL ELSE t.owner_pid END,
        owner_started = CASE WHEN v.finished THEN NULL ELSE t.owner_started END
    FROM v
    WHERE t.id = v.id AND t.version = v.version AND t.last_seq = v.after AND t.owner_token = %s
    RETURNING t.id, t.version, t.last_seq
), i AS (
    INSERT INTO events (session_id, seq, recorded_at, kind, body)
    SELECT e.s, (e.b->>'seq')::bigint, (e.b->>'timestamp')::timestamptz, e.b->'event'->>'kind', e.b
    FROM jsonb_to_recordset(%s::jsonb) AS e(s text, b jsonb) JOIN s ON s.id = e.s
)"""

APPEND: Final = (
    _APPEND_HEAD  # noqa: S608 - constants only
    + """, n AS (
    SELECT pg_notify(%s, %s || ' ' || string_agg(s.id || ':' || s.last_seq, ' '))
    FROM s HAVING count(*) > 0
)
SELECT s.id, s.version, (SELECT count(*) FROM n) FROM s
"""
)
"""A batch of appends of distinct sessions, in one statement: each session's row moves on
only if it is still at the version and seq its writer expects and owned by the writer's
token; the events of the sessions that moved on are inserted, and one notification names
them all (``token sid:seq sid:seq...``).  Parameters: sessions (JSON), token, events
(JSON), channel, token.  Returns the sessions that moved on, with their new version."""

APPEND_QUIET: Final = _APPEND_HEAD + "\nSELECT s.id, s.version, 0 FROM s\n"
""":data:`APPEND` without the notification (parameters: sessions, token, events)."""

INSERT_EVENTS: Final = """
INSERT INTO events (session_id, seq, recorded_at, kind, body)
SELECT e.s, (e.b->>'seq')::bigint, (e.b->>'timestamp')::timestamptz, e.b->'event'->>'kind', e.b
FROM jsonb_to_recordset(%s::jsonb) AS e(s text, b jsonb)
"""
"""Insert events given as JSON (``[{"s": session, "b": event}, ...]``)."""

UPSERT: Final = """
INSERT INTO sessions AS old (id, created_at, config, state, status, last_seq, checkpoint,
    owner_host, owner_pid, owner_started, owner_token, heartbeat)
VALUES (%(id)s, %(created_at)s, %(config)s::jsonb, %(state)s::jsonb, %(status)s, %(last)s,
    %(checkpoint)s::jsonb, %(host)s, %(pid)s, %(started)s, %(token)s, now())
ON CONFLICT (id) DO UPDATE SET created_at = EXCLUDED.created_at, config = EXCLUDED.config,
    state = EXCLUDED.state, status = EXCLUDED.status, last_seq = EXCLUDED.last_seq,
    checkpoint = EXCLUDED.checkpoint, version = old.version + 1,
    owner_host = EXCLUDED.owner_host, owner_pid = EXCLUDED.owner_pid,
    owner_started = EXCLUDED.owner_started, owner_token = EXCLUDED.owner_token,
    heartbeat = EXCLUDED.heartbeat
RETURNING version
"""
"""Store a session's row whole (a new session, or one replaced by ``save``)."""

RELEASE: Final = """
UPDATE sessions SET owner_host = NULL, owner_pid = NULL, owner_started = NULL,
    owner_token = NULL, heartbeat = NULL
WHERE owner_token = %(token)s AND (%(id)s::text IS NULL OR id = %(id)s)
"""
"""Let go of one session (``id``) or of every session (``id`` NULL) a store owns."""
