// Package drift compares what each active version ingests with what its
// upstream PostgreSQL tables hold now, and reports the difference: behind
// (upstream has columns the version does not ingest) and breaking (an
// ingested column was dropped, renamed or retyped, the table left the
// publication, replica identity is not FULL, or Materialize already marked
// the table stalled).
//
// It is pure: it reads model values and does no I/O. It must not import
// pgx or decide what to change; reconcile and the CLI act on its report.
package drift
