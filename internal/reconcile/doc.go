// Package reconcile turns an observed catalog and a desired state into a
// plan, and carries the plan out.
//
// It owns the pure diff (Diff), the typed plan (Plan, Change), the readiness
// evaluation over observed facts (Readiness), the status report (Status),
// the plan and status renderings, and, in the apply, lease and executor
// files, the execution of a plan against Materialize.
//
// The diff, readiness, status and rendering code is pure: it takes no
// context, does no I/O and never imports pgx, so nearly all of mzsync's
// decisions are testable from hand-made model values. It must never plan an
// ALTER or DROP of an object mzsync does not own (one without its marker
// comment), and it must never plan a drop from an empty desired state.
//
// # The apply lease
//
// Materialize has no advisory locks, no row locks mzsync could rely on and
// no conditional rename. It has three facts the lease is built on, and
// nothing else:
//
//  1. catalog changes are serialized, and CREATE SCHEMA or ALTER SCHEMA ...
//     RENAME TO of a taken name fails, as does a rename of a missing one;
//  2. a DDL transaction (BEGIN; ALTER ... RENAME ...; ...; COMMIT, where
//     Materialize allows only renames, swaps, CREATE SOURCE and CREATE
//     TABLE ... FROM SOURCE) commits all or nothing;
//  3. a DDL transaction fails with 40001 if any catalog change, by anyone,
//     lands between its first statement and its COMMIT.
//
// State. The lease is two schemas. The record, model.LeaseSchema
// ("mzsync_lease"), is commented "mzsync:lease owner=... expires=...
// token=T"; T is random per holding. The fence, "mzsync_lease_fence_T",
// exists exactly while T holds the lease; its comment carries the current
// expiry. Names never repeat: a token is never reused.
//
// Time. Expiry is judged by the server's clock only: every expiry written
// is the server's now() plus the TTL, and contenders compare it with the
// server's now(), read in the same query. Hosts' clocks (LeaseOptions.Now)
// only measure durations on the holder: RenewDeadline < TTL, counted from
// just before the server's clock was read for the last successful renewal,
// so the holder's own deadline always falls before the server-side expiry.
//
// Acquire (no record). CREATE SCHEMA mzsync_lease_new_T, COMMENT it with
// owner, token and expiry, CREATE SCHEMA mzsync_lease_pending_T, then one
// DDL transaction renames pending_T to fence_T and new_T to mzsync_lease.
// The last rename succeeds for exactly one contender (fact 1), and the
// record is complete and fenced from the moment it exists (fact 2): there
// is no half-created lease. A crash before the transaction leaves only
// candidate schemas, which block no one and which the next holder drops.
//
// Take over (record token P, expiry passed by the server's clock). The same
// preparation, then one transaction: rename fence_P to a stale name, the
// record to a stale name, pending_T to fence_T, new_T to mzsync_lease.
// This is a compare-and-swap on P: only one contender can rename fence_P,
// and it exists only while P holds. A contender that read P and stalled
// finds fence_P gone and fails; there is no read-then-write.
//
// Renew. Read the server's now(), then COMMENT ON SCHEMA fence_T with the new
// expiry. The COMMENT names T's fence, so a stale holder's renewal fails
// ("unknown schema") instead of extending someone else's lease.
//
// Fencing. Every catalog change of an apply goes through Lease.Fence:
//
//   - a DDL transaction (the cutover's swaps, CREATE TABLE ... FROM SOURCE
//     groups, publishing a build, retiring a schema) gets "ALTER SCHEMA
//     fence_T RENAME TO pending_T" as its first statement and the rename
//     back as its last. It fails unless fence_T exists, and by fact 3 any
//     takeover landing before COMMIT aborts it with 40001: it commits only
//     if T held the lease from its first statement to its COMMIT.
//   - a statement Materialize runs only alone (CREATE SCHEMA, CREATE VIEW,
//     MATERIALIZED VIEW and INDEX, COMMENT, GRANT, DROP) is preceded by a
//     read-only check: the record names T, fence_T exists, and by the
//     server's clock at least (TTL-RenewDeadline)/2 is left (renewing
//     first if not). It cannot share a transaction with the fence, so this
//     is check-then-act: a holder that stalls longer than that margin
//     between the check and the send is not stopped by it. What such a
//     late statement can reach is therefore limited by naming, as follows.
//
// Builds. Under the lease, a version is built in a private schema,
// model.PrivateBuildName(T, id) = "mzsync_build_T_<schema>_<version>":
// CREATE SCHEMA and its building marker, the tables (a fenced
// transaction), their markers, views, materialized views, indexes, grants
// and, last, the built marker all name it. Then one fenced transaction
// renames it to its build schema name (app_v2): the version is published
// only while T holds the lease. A stale holder's late CREATE, COMMENT or
// GRANT lands in its own private schema, or fails because that schema is
// gone: a private build of any token but the planner's (and, for a plan
// made without the lease, the current holder's) is abandoned, since only
// its holder could publish it, and the next holder drops it. A plan made
// without the lease shows builds under their build schema name, and status
// shows the current holder's private builds as building.
//
// Drops. A drop of a version schema (beyond retention, or a never-live
// version torn down, or an abandoned private build) is a retirement: one
// fenced transaction renames it to model.TrashName(T, name) =
// "mzsync_trash_T_<name>", out of the namespace, then DROP SCHEMA ...
// CASCADE names the trash. A stale holder's late DROP can only drop its
// own trash. Between the two the trash is read once more: an object
// outside it that came to depend on it since the plan (the plan refuses
// such drops) makes the drop fail, naming it, after a fenced rename back.
// A trash schema whose DROP did not happen (crash, error) keeps its
// version marker; no plan treats it as a version; status lists it, and the
// next holder's plan drops it (again only without outside dependents). An
// unmarked object left in a version being built by an interrupted pass is
// retired the same way (ALTER ... RENAME to its trash name in a fenced
// transaction, then DROP ... RESTRICT).
//
// What stays check-then-act: (a) the live record, the COMMENT on the alias
// schema after a cutover (Materialize cannot COMMENT inside the swap's
// transaction). A holder that swapped under its lease and stalled before
// this COMMENT for longer than the margin, while another holder took over
// and cut over again, would overwrite the alias's marker with its own
// version's. Readers are not affected (the alias still holds a complete
// version), but the next plans are misled about which version it holds
// and a person must resolve what they report; this case has no test.
// (b) adopting an empty, unmarked build schema (app_v2) left by an mzsync
// older than private builds: its markers are written in place. (c) the
// lone DROP of the holder's own trash, and CREATE SCHEMA of its own
// private build: a late one can leave an empty, unmarked schema
// mzsync_build_T_..., which nothing uses and mzsync never drops (it has no
// marker). (d) the markers of an adoption (adopt.go), written in place on
// the adopted schema after its fenced rename into mzsync's naming.
//
// Nothing is sent once the lease is lost or RenewDeadline has passed
// without a successful renewal. Renewal is serialized with the holder's
// own DDL transactions (a renewal is a catalog change and would abort them
// by fact 3).
//
// Loss. KeepAlive renews every RetryPeriod; when a renewal finds the fence
// gone, or none has succeeded for RenewDeadline (a hung one included), the
// work context is cancelled with ErrLeaseLost, before the server-side
// expiry, so before anyone else may take over.
//
// Release. One transaction renames fence_T and the record to stale names
// (failing if fence_T is gone: a late release never removes a newer
// holder's lease), then both are dropped. Stale schemas left by a crash or
// a failed drop are dropped by the next holder.
//
// Orphans. A record without its fence (written by an mzsync older than the
// fence, or whose fence was dropped by hand) is respected until its
// recorded expiry (older format) or for a TTL after a contender first saw
// it, then given a fence and taken over as above.
//
// Transient errors (lost connection, 40001) while acquiring are retried
// with backoff within the caller's deadline; a COMMIT whose outcome is
// unknown is resolved by reading the record.
package reconcile
