// Package mzemu is a Materialize emulator for tests and the demo: a pgwire
// server (pgx's pgproto3) that speaks the part of Materialize's SQL that
// mzsync and the source-versioning guide use, backed by a real PostgreSQL
// database it owns.
//
// It is a test double, faithful only on the surface it covers (see
// README.md): catalog relations of mz_catalog and mz_internal as real
// views with Materialize's column names, IDs u<N> that survive renames and
// swaps, pinned source-fed tables over postgres_fdw, Materialize's
// transaction rules and error texts, hydration delays, stalled tables after
// incompatible upstream changes, and fault injection.
//
// It must not be imported by mzsync's own code paths (only by tests and
// cmd/mzemu), and it never prints or exits: logs go to the injected
// slog.Logger, secrets stay in memory and never reach logs or errors.
package mzemu
