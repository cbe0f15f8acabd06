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
package reconcile
