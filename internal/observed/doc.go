// Package observed reads what exists: the Materialize catalog of the
// current database (schemas, objects, comments and mzsync's markers,
// dependencies, sources, clusters, readiness facts) and, over a separate
// connection per source, the upstream PostgreSQL tables a source publishes.
// It fills model.Observed and model.UpstreamState.
//
// Every pass costs a fixed number of round trips whatever the number of
// objects: the catalog queries go out as one pgx batch, a readiness poll is
// one query, and an upstream inspection is one batch per source.
//
// It must not change anything: every statement it sends is a SELECT. It
// must not decide what to do about what it reads (that is
// internal/reconcile), and errors it returns never carry a password.
package observed
