// Command mzsync is the GitOps reconciler for Materialize: it validates
// manifests, plans and applies them, runs as a daemon, and reports status
// and upstream drift.
//
// This package owns flags, wiring, exit codes and the daemon's HTTP server.
// Logic lives in the library packages so tests reach it without a process.
package main
