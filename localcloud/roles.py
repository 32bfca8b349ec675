"""The group's admin role: what Azure's can do, and nothing that reaches the machine.

On PostgreSQL 15 a role with CREATEROLE may grant itself (or any role) every
non-superuser role, the predefined ``pg_execute_server_program``,
``pg_read_server_files`` and ``pg_write_server_files`` included, and with them run
programs and read files as the operating-system user of the node. No event trigger sees
``GRANT role`` on 15 (roles are shared objects), so the only sound rule is: the admin
role has no CREATEROLE. It gets role management through SECURITY DEFINER functions
owned by the superuser, in the schema ``localcloud`` of the group's database:

- ``localcloud.create_role(name, password DEFAULT NULL, login DEFAULT true)`` makes a
  plain role (no SUPERUSER, CREATEDB, CREATEROLE, REPLICATION or BYPASSRLS) and gives it
  to the admin role WITH ADMIN OPTION, so that plain ``GRANT role TO other`` and
  ``REVOKE`` work for it;
- ``localcloud.set_role_password(name, password)``, ``localcloud.set_role_login(name,
  login)`` and ``localcloud.drop_role(name)`` act on such roles only (those the admin role
  holds WITH ADMIN OPTION), never on a superuser, the admin itself or a ``pg_`` role.

The admin role keeps CREATEDB, owns the group's database and may change its own
password (``ALTER ROLE ... PASSWORD``), as in Azure.

``secure`` is idempotent and runs on every node at creation, after a restore (the
source may predate it) and when a group's nodes start: it also removes CREATEROLE and
the three server-access roles from any role that is not a superuser.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

SERVER_ACCESS_ROLES = ("pg_execute_server_program", "pg_read_server_files", "pg_write_server_files")
SCHEMA = "localcloud"
VERSION = 1  # of what ``secure`` puts in place; kept in the group's catalog record

FUNCTIONS = """
CREATE OR REPLACE FUNCTION localcloud.managed(role_name text) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT EXISTS (
        SELECT 1 FROM pg_roles r
        WHERE r.rolname = role_name AND NOT r.rolsuper AND r.rolname !~ '^pg_'
          AND r.rolname <> {admin_text}
          AND pg_has_role({admin_text}, r.oid, 'MEMBER WITH ADMIN OPTION'))
$$;

CREATE OR REPLACE FUNCTION localcloud.create_role(
    role_name text, password text DEFAULT NULL, login boolean DEFAULT true
) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF role_name IS NULL OR role_name ~ '^pg_' OR length(role_name) = 0 THEN
        RAISE EXCEPTION 'The role name % is reserved or empty.', quote_ident(role_name)
            USING ERRCODE = 'reserved_name';
    END IF;
    EXECUTE format(
        'CREATE ROLE %I %s NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS',
        role_name, CASE WHEN login THEN 'LOGIN' ELSE 'NOLOGIN' END);
    IF password IS NOT NULL THEN
        EXECUTE format('ALTER ROLE %I PASSWORD %L', role_name, password);
    END IF;
    EXECUTE format('GRANT %I TO %I WITH ADMIN OPTION', role_name, {admin_text});
END
$$;

CREATE OR REPLACE FUNCTION localcloud.check_managed(role_name text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NOT localcloud.managed(role_name) THEN
        RAISE EXCEPTION 'The role % was not created with localcloud.create_role().',
            quote_ident(role_name)
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Only roles the admin role manages can be changed or dropped.';
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION localcloud.set_role_password(role_name text, password text)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM localcloud.check_managed(role_name);
    EXECUTE format('ALTER ROLE %I PASSWORD %L', role_name, password);
END
$$;

CREATE OR REPLACE FUNCTION localcloud.set_role_login(role_name text, login boolean)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM localcloud.check_managed(role_name);
    EXECUTE format('ALTER ROLE %I %s', role_name, CASE WHEN login THEN 'LOGIN' ELSE 'NOLOGIN' END);
END
$$;

CREATE OR REPLACE FUNCTION localcloud.drop_role(role_name text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM localcloud.check_managed(role_name);
    EXECUTE format('DROP ROLE %I', role_name);
END
$$;
"""


def secure(conn: psycopg.Connection, admin: str) -> None:
    """Put the admin role's rights in place on one node; ``conn`` is a superuser
    connection to the group's database, in autocommit mode."""
    admin_ident = sql.Identifier(admin)
    with conn.transaction():
        conn.execute(sql.SQL("ALTER ROLE {} NOCREATEROLE").format(admin_ident))
        # CREATEROLE on any other plain role is the same hole (the admin may have made
        # such roles before this rule existed).
        for (role,) in conn.execute(
            "SELECT rolname FROM pg_roles WHERE rolcreaterole AND NOT rolsuper"
        ).fetchall():
            conn.execute(sql.SQL("ALTER ROLE {} NOCREATEROLE").format(sql.Identifier(role)))
        members = conn.execute(
            "SELECT g.rolname, m.rolname FROM pg_auth_members a"
            " JOIN pg_roles g ON g.oid = a.roleid JOIN pg_roles m ON m.oid = a.member"
            " WHERE g.rolname = ANY(%s) AND NOT m.rolsuper",
            (list(SERVER_ACCESS_ROLES),),
        ).fetchall()
        for granted, member in members:
            conn.execute(
                sql.SQL("REVOKE {} FROM {} CASCADE").format(
                    sql.Identifier(granted), sql.Identifier(member)
                )
            )
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(SCHEMA)))
        conn.execute(sql.SQL("ALTER SCHEMA {} OWNER TO postgres").format(sql.Identifier(SCHEMA)))
        conn.execute(sql.SQL("REVOKE ALL ON SCHEMA {} FROM PUBLIC").format(sql.Identifier(SCHEMA)))
        for statement in FUNCTIONS.strip().split("\n\n"):
            conn.execute(
                sql.SQL(statement.replace("{admin_text}", "{admin}")).format(
                    admin=sql.Literal(admin)
                )
            )
        conn.execute(
            sql.SQL("REVOKE ALL ON ALL FUNCTIONS IN SCHEMA {} FROM PUBLIC").format(
                sql.Identifier(SCHEMA)
            )
        )
        conn.execute(
            sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(sql.Identifier(SCHEMA), admin_ident)
        )
        for function in ("create_role", "set_role_password", "set_role_login", "drop_role"):
            conn.execute(
                sql.SQL("GRANT EXECUTE ON FUNCTION {}.{} TO {}").format(
                    sql.Identifier(SCHEMA), sql.Identifier(function), admin_ident
                )
            )


# Previews: the query runs as the admin role only while it has none of these.
DANGEROUS = """
SELECT r.rolsuper OR EXISTS (
    SELECT 1 FROM pg_roles s
    WHERE s.oid <> r.oid AND (s.rolsuper OR s.rolname = ANY(%s))
      AND pg_has_role(r.oid, s.oid, 'MEMBER'))
FROM pg_roles r WHERE r.rolname = current_user
"""


def too_powerful(conn: psycopg.Connection) -> bool:
    """Whether the connected role is a superuser, or may become one or reach the
    machine through a server-access role."""
    row = conn.execute(DANGEROUS, (list(SERVER_ACCESS_ROLES),)).fetchone()
    return row is None or bool(row[0])


def names(conn: psycopg.Connection) -> list[str]:
    """The roles a DBA made (not PostgreSQL's own ``pg_*``), by name."""
    rows = conn.execute("SELECT rolname FROM pg_roles WHERE rolname !~ '^pg_' ORDER BY 1")
    return [row[0] for row in rows.fetchall()]
