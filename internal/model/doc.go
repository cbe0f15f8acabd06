// Package model is the shared vocabulary of mzsync: the desired state built
// from manifests (internal/desired), the observed state read from
// Materialize (internal/observed), and the marker comments that tie the two
// together. Diffing (internal/reconcile) compares values of these types.
//
// It owns plain data types, identifier quoting, version ordering and the
// marker-comment codec. It must not do I/O or import pgx, spec or any other
// mzsync package.
package model
