// Package pgtest starts throwaway PostgreSQL clusters from the system's
// binaries, for integration tests and for mzemu's embedded mode.
//
// A cluster lives in a temporary directory, listens on a free loopback port
// with wal_level=logical, and is removed by Stop. When the process runs as
// root, initdb and postgres run as the unprivileged "postgres" system user,
// because PostgreSQL refuses to run as root.
//
// It owns process and directory management only; it must not know about
// Materialize, manifests or mzsync's model.
package pgtest
