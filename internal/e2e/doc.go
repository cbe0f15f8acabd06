// Package e2e holds mzsync's end-to-end tests: manifests from
// examples/, loaded by internal/desired, applied by internal/reconcile
// through internal/observed against mzemu over a real PostgreSQL, with the
// upstream database a real PostgreSQL too. Nothing here is mocked.
//
// It has no non-test code besides this comment; it must not be imported.
package e2e
