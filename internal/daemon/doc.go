// Package daemon owns mzsync's reconciling loop, the state it reports and
// the HTTP surface of `mzsync run`: status, metrics, health, the webhook
// receiver and the triggers (webhook, watched directory, SIGHUP) that ask
// for another pass.
//
// The loop is level-based, in the manner of controller-runtime and Flux:
// every pass fetches the manifest source, loads the desired state and runs
// a pass function that observes the catalog afresh and converges. Triggers
// carry no data; they only say "look again", and several of them before
// the next pass start one pass. What happened is recorded as conditions
// (Ready, Reconciling, Stalled), the last five passes, and Prometheus
// metrics on the daemon's own registry.
//
// The package must not talk to Materialize or PostgreSQL itself: the pass
// function is injected (cmd/mzsync wires it to a leased reconcile.Apply).
// It never prints and never exits; logs go to the injected slog.Logger.
// An empty or invalid manifest set never reaches the pass function, so it
// can never prune anything.
package daemon
