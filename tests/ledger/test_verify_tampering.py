"""`cookiegate ledger verify` against a log tampered with in raw SQL, past the append-only guard.

Each scenario edits, deletes, inserts or reorders rows of a site whose 20 events were sequenced
in three batches (checkpoints at 7, 14, 20), and returns the problem the verifier must report
first; the CLI must exit 1 with exactly that on its first line.
"""
from __future__ import annotations

from functools import partial

import pytest
from sqlalchemy import update

from cookiegate.ledger.merkle import leaf_hash
from cookiegate.ledger.models import EventPersonal
from tests.factories import record
from tests.ledger.helpers import edited_leaf, forge_event, log_of, sequence_in_batches

VICTIM = 9  # an entry in the middle of the second checkpoint's range (#7..#13)
CHANGED = "the event's content has been changed after it was hashed"
NOT_LOGGED_HERE = "this is not the event that was logged at this position"
BAD_SEAL = "the event's seal is invalid"


def verify(run_ledger_cli, site):
    return run_ledger_cli("verify", "--site", site.slug)


def entry(log, seq: int, problem: str) -> str:
    return f"entry #{seq} (event {log[seq].event_id}): {problem}"


def set_event(sql, event, **values) -> None:
    assignments = ", ".join(f"{name} = :{name}" for name in values)
    sql(f"UPDATE consent_event SET {assignments} WHERE id = :pk", pk=event.pk, **values)


# ---------------------------------------------------------------- edits

def edit_leaf(sql, site, log):
    set_event(sql, log[VICTIM], leaf=edited_leaf(log[VICTIM].leaf))
    return entry(log, VICTIM, CHANGED)


def edit_leaf_and_its_hash(sql, site, log):
    leaf = edited_leaf(log[VICTIM].leaf)
    set_event(sql, log[VICTIM], leaf=leaf, leaf_hash=leaf_hash(leaf.encode()))
    return entry(log, VICTIM, NOT_LOGGED_HERE)


def edit_leaf_its_hash_and_log_entry(sql, site, log):
    leaf = edited_leaf(log[VICTIM].leaf)
    set_event(sql, log[VICTIM], leaf=leaf, leaf_hash=leaf_hash(leaf.encode()))
    sql("UPDATE log_entry SET leaf_hash = :digest WHERE event_pk = :pk",
        digest=leaf_hash(leaf.encode()), pk=log[VICTIM].pk)
    return entry(log, VICTIM, BAD_SEAL)


def edit_column(column, value, sql, site, log):
    set_event(sql, log[VICTIM], **{column: value})
    return entry(log, VICTIM, f"column {column} differs from the hashed record")


def edit_personal_fields(sql, site, log):
    sql(update(EventPersonal).where(EventPersonal.event_pk == log[VICTIM].pk)
        .values(data={"ip_prefix": "192.0.2.0", "ua_family": "Firefox 1", "account_id": None,
                      "email_hmac": None}))
    return entry(log, VICTIM, "the personal fields do not match their commitment")


# ---------------------------------------------------------------- deletions

def delete_event_with_its_rows(seq, sql, site, log):
    for table, column in (("log_entry", "event_pk"), ("event_personal", "event_pk"), ("consent_event", "id")):
        sql(f"DELETE FROM {table} WHERE {column} = :pk", pk=log[seq].pk)
    if seq == len(log) - 1:
        return f"the checkpoint signed at size {len(log)} covers entries that are missing (from #{seq})"
    return f"entry #{seq} is missing (the log jumps to #{seq + 1})"


def delete_only_the_event_row(sql, site, log):
    sql("DELETE FROM consent_event WHERE id = :pk", pk=log[VICTIM].pk)
    return f"entry #{VICTIM}: its event has been deleted"


# ---------------------------------------------------------------- insertions

def append_entry(sql, site, seq: int, event_pk: int) -> None:
    sql("INSERT INTO log_entry (site_id, seq, event_pk, leaf_hash) "
        "SELECT site_id, :seq, id, leaf_hash FROM consent_event WHERE id = :pk", seq=seq, pk=event_pk)


def make_room_at(sql, site, seq: int) -> None:
    """Renumber entries seq.. one up (in two steps, so the primary key never collides)."""
    for shift in (1_000_001, -1_000_000):
        sql("UPDATE log_entry SET seq = seq + :shift WHERE site_id = :site AND seq >= :seq",
            shift=shift, site=site.id, seq=seq if shift > 0 else seq + 1_000_001)


def insert_forged_at_the_end(sql, site, log):
    forged = forge_event(sql, log[VICTIM])
    append_entry(sql, site, len(log), forged.pk)
    return f"entry #{len(log)} (event {forged.event_id}): {BAD_SEAL}"


def insert_forged_in_the_middle(sql, site, log):
    forged = forge_event(sql, log[VICTIM])
    make_room_at(sql, site, VICTIM)
    append_entry(sql, site, VICTIM, forged.pk)
    return f"entry #{VICTIM} (event {forged.event_id}): {BAD_SEAL}"


# ---------------------------------------------------------------- reordering

FIRST, SECOND = 3, 15  # in different checkpoint ranges


def swap_log_entry_events(sql, site, log):
    """Swap which event two log positions point to (via a free value: event_pk is unique)."""
    a, b = log[FIRST].pk, log[SECOND].pk
    for old, new in ((a, -1), (b, a), (-1, b)):
        sql("UPDATE log_entry SET event_pk = :new WHERE event_pk = :old", old=old, new=new)
    return f"entry #{FIRST} (event {log[SECOND].event_id}): {NOT_LOGGED_HERE}"


def swap_leaf_contents(sql, site, log):
    set_event(sql, log[FIRST], leaf=log[SECOND].leaf)
    set_event(sql, log[SECOND], leaf=log[FIRST].leaf)
    return entry(log, FIRST, CHANGED)


SCENARIOS = {
    "edit leaf": edit_leaf,
    "edit leaf and its hash": edit_leaf_and_its_hash,
    "edit leaf, its hash and the log entry's": edit_leaf_its_hash_and_log_entry,
    "edit copied column kind": partial(edit_column, "kind", "withdrawn"),
    "edit copied column consent_id": partial(edit_column, "consent_id", "00000000-0000-4000-8000-000000000000"),
    "edit personal fields": edit_personal_fields,
    "delete event with its rows": partial(delete_event_with_its_rows, VICTIM),
    "delete first event with its rows": partial(delete_event_with_its_rows, 0),
    "delete last event with its rows": partial(delete_event_with_its_rows, 19),
    "delete only the event row": delete_only_the_event_row,
    "insert forged event at the end": insert_forged_at_the_end,
    "insert forged event in the middle": insert_forged_in_the_middle,
    "swap two log entries' events": swap_log_entry_events,
    "swap two events' leaves": swap_leaf_contents,
}


def test_intact_log_verifies(logged_site, run_ledger_cli):
    result = verify(run_ledger_cli, logged_site)
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{logged_site.slug}: ok, 20 entries, 3 checkpoints, 0 pending\n"


@pytest.mark.parametrize("scenario", SCENARIOS.values(), ids=SCENARIOS.keys())
def test_verify_names_the_first_bad_entry(logged_site, log, tamper, run_ledger_cli, scenario):
    assert_tampering_is_named(logged_site, log, tamper, run_ledger_cli, scenario)


def assert_tampering_is_named(site, log, tamper, run_ledger_cli, scenario) -> None:
    """The log verifies; after the scenario's tampering `ledger verify` exits 1 and its first
    line is the problem the scenario expects."""
    assert verify(run_ledger_cli, site).exit_code == 0
    with tamper() as sql:
        expected = scenario(sql, site, log)
    result = verify(run_ledger_cli, site)
    assert result.exit_code == 1, result.output
    assert result.stderr.splitlines()[0] == f"{site.slug}: FAILED at {expected}"


# Reordering that keeps every entry self-consistent is caught by the signed checkpoints: the
# first problem names the range of entries under the first checkpoint that no longer matches.

def swap_whole_log_positions(sql, site, log):
    for seq, other in ((FIRST, SECOND), (SECOND, FIRST)):
        sql("UPDATE log_entry SET seq = :new WHERE site_id = :site AND event_pk = :pk",
            new=1_000_000 + seq, site=site.id, pk=log[other].pk)
    sql("UPDATE log_entry SET seq = seq - 1000000 WHERE site_id = :site AND seq >= 1000000", site=site.id)
    return "entries #0..#6 do not match the checkpoint signed at size 7"


def splice_in_a_genuine_pending_event(sql, site, log):
    pending = sql("SELECT event_pk FROM ledger_pending WHERE site_id = :site", site=site.id).scalar_one()
    sql("DELETE FROM ledger_pending WHERE event_pk = :pk", pk=pending)
    make_room_at(sql, site, VICTIM)
    append_entry(sql, site, VICTIM, pending)
    return "entries #7..#13 do not match the checkpoint signed at size 14"


POSITIONAL = {"swap two whole log positions": swap_whole_log_positions,
              "splice a genuine pending event into the middle": splice_in_a_genuine_pending_event}


@pytest.mark.parametrize("scenario", POSITIONAL.values(), ids=POSITIONAL.keys())
def test_reordering_is_caught_by_the_first_checkpoint_it_breaks(logged_site, log, tamper, run_ledger_cli,
                                                                 scenario):
    record(logged_site)  # one genuine event waiting to be sequenced
    assert_tampering_is_named(logged_site, log, tamper, run_ledger_cli, scenario)


@pytest.mark.parametrize("pending", [True, False], ids=["queued", "not queued"])
def test_forged_unsealed_event_is_reported_and_never_sequenced(logged_site, log, tamper, run_ledger_cli,
                                                               pending):
    with tamper() as sql:
        forged = forge_event(sql, log[VICTIM], pending=pending)
    genuine = {record(logged_site).pk for _ in range(3)}  # queued behind the forged event

    sequence_in_batches(logged_site, batch_size=1)

    sequenced = {event.pk for event in log_of(logged_site)}
    assert forged.pk not in sequenced
    assert genuine <= sequenced and len(sequenced) == len(log) + 3
    result = verify(run_ledger_cli, logged_site)
    assert result.exit_code == 1, result.output
    problem = ("its seal is invalid (not written by this deployment)" if pending
               else "is in no log and waits for none")
    separator = ": " if pending else " "
    assert result.stderr.splitlines()[0] == (
        f"{logged_site.slug}: FAILED at unsequenced event {forged.event_id}{separator}{problem}")
