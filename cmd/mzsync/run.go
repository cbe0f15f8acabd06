package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/mzsync/mzsync/internal/daemon"
	"github.com/mzsync/mzsync/internal/desired"
	"github.com/mzsync/mzsync/internal/drift"
	"github.com/mzsync/mzsync/internal/model"
	"github.com/mzsync/mzsync/internal/reconcile"
)

func init() {
	register(&command{name: "run", summary: "reconcile continuously; serve status, metrics and a webhook over HTTP", run: runRun})
}

func runRun(ctx context.Context, e *env, args []string) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	var src sourceFlags
	var mz mzFlags
	src.register(fs)
	mz.register(fs)
	interval := fs.Duration("interval", time.Minute, "time between passes when all is well (with 10% jitter); also the cap of the retry backoff")
	listen := fs.String("listen", "127.0.0.1:8080", "host:port for /status, /metrics, /healthz, /readyz, /webhook, /suspend and /resume; \"off\" disables HTTP")
	listenAny := fs.Bool("listen-non-loopback", false, "allow --listen on an address other than loopback (put TLS and access control in front)")
	secretFile := fs.String("webhook-secret-file", "", "file holding the webhook secret (GitHub HMAC or GitLab token); without it /webhook is disabled")
	adminFile := fs.String("admin-token-file", "", "file holding the bearer token for /suspend and /resume; without it they are disabled")
	allowDrop := fs.Bool("allow-drop", false, "drop retired versions beyond retention (only when nothing outside depends on them)")
	leaseTTL := fs.Duration("lease-ttl", time.Minute, "how long the apply lease lasts without renewal")
	allowOlder := fs.Bool("allow-older-revision", false, "with --git: apply a revision older than the one live (a rollback by ref); by default such a pass is refused")
	swapTogether := fs.Bool("swap-together", false, "cut over every schema of a pass in one DDL transaction, once all are ready (none changes if one cannot); a later pass goes on while any is not ready")
	if err := parseFlags(fs, e, args); err != nil {
		return flagError(e, "run", err)
	}
	if err := mz.check(); err != nil {
		return flagError(e, "run", err)
	}
	if *interval < time.Second {
		return flagError(e, "run", fmt.Errorf("--interval must be at least 1s, not %s", *interval))
	}
	if err := checkListen(*listen, *listenAny); err != nil {
		return flagError(e, "run", err)
	}
	source, err := src.source(e)
	if err != nil {
		return flagError(e, "run", err)
	}
	secret, err := readSecretFile("--webhook-secret-file", *secretFile)
	if err != nil {
		return flagError(e, "run", err)
	}
	admin, err := readSecretFile("--admin-token-file", *adminFile)
	if err != nil {
		return flagError(e, "run", err)
	}

	// The same sessions for the daemon's life: statements and catalog reads on
	// db, the lease on leaseDB (so renewal never waits behind a long
	// statement). Both reconnect after a lost connection.
	db := mz.db("apply to Materialize")
	defer db.Close(context.Background())
	leaseDB := mz.db("hold the apply lease")
	defer leaseDB.Close(context.Background())

	var d *daemon.Daemon
	lopts := reconcile.LeaseOptions{Owner: reconcile.DefaultOwner(), TTL: *leaseTTL, Log: e.log,
		OnChange: func(held bool) { d.SetLeaseHeld(held) }}
	pass := func(ctx context.Context, des *model.Desired) (daemon.Outcome, error) {
		return leasedPass(ctx, e, db, leaseDB, des, reconcile.ApplyOptions{Diff: reconcile.Options{AllowDrop: *allowDrop}, Log: e.log, RetryFor: *interval, SwapTogether: *swapTogether}, lopts)
	}
	cfg := daemon.Config{Source: source, Pass: pass, Interval: *interval, Log: e.log}
	if g, ok := source.(*desired.GitSource); ok && !*allowOlder {
		cfg.Guard = daemon.RevisionGuard(g, observerFor(db, nil, e))
	}
	d = daemon.New(cfg)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var srv *http.Server
	var ln net.Listener
	serveErr := make(chan error, 1)
	if *listen != "off" {
		ln, err = net.Listen("tcp", *listen)
		if err != nil {
			fmt.Fprintf(e.stderr, "mzsync run: --listen: %v\n", err)
			return exitError
		}
		srv = &http.Server{
			Handler:           d.Handler(daemon.HTTPConfig{WebhookSecret: secret, AdminToken: admin}),
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       30 * time.Second,
			WriteTimeout:      30 * time.Second,
			IdleTimeout:       2 * time.Minute,
			MaxHeaderBytes:    64 << 10,
		}
		go func() {
			err := srv.Serve(ln)
			if !errors.Is(err, http.ErrServerClosed) {
				cancel()
			}
			serveErr <- err
		}()
	}

	if src.dir != "" {
		if _, err := daemon.WatchDir(ctx, src.dir, 200*time.Millisecond, e.log, func() { d.Trigger("manifest directory changed") }); err != nil {
			// The interval still brings changes in; say why they are slower.
			e.log.Warn("cannot watch the manifest directory; changes are seen at the interval", "err", err)
		}
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				d.Trigger("SIGHUP")
			}
		}
	}()

	addr := "off"
	if ln != nil {
		addr = ln.Addr().String()
	}
	e.log.Info("mzsync run: reconciling", "source", source.String(), "interval", *interval,
		"listen", addr, "webhook", len(secret) > 0, "admin", len(admin) > 0)
	d.Run(ctx)

	if srv != nil {
		shutdownCtx, stop := context.WithTimeout(context.Background(), 5*time.Second)
		defer stop()
		srv.Shutdown(shutdownCtx)
		if err := <-serveErr; !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintf(e.stderr, "mzsync run: serve %s: %v\n", addr, err)
			return exitError
		}
	}
	e.log.Info("mzsync run: stopped")
	return exitOK
}

// leasedPass is one daemon pass: reconcile.LeasedPass without waiting for
// readiness, then status and drift from the catalog as read after the
// pass (with upstream inspection), even when the pass failed or met
// another writer's lease, so status stays current.
func leasedPass(ctx context.Context, e *env, db, leaseDB *reconcile.PgxDB, des *model.Desired, opts reconcile.ApplyOptions, lopts reconcile.LeaseOptions) (daemon.Outcome, error) {
	res, err := reconcile.LeasedPass(ctx, db, observerFor(db, nil, e), des, reconcile.PassOptions{
		Apply: opts, Lease: lopts, LeaseDB: leaseDB, Status: observerFor(db, des, e),
	})
	out := daemon.Outcome{Apply: res.Apply}
	if o := res.Observed; o != nil {
		st := reconcile.Status(o, des)
		out.Status = &st
		out.Drift = drift.Compute(o, des)
	}
	if res.StatusErr != nil && ctx.Err() == nil {
		e.log.Warn("read catalog for status", "err", res.StatusErr)
	}
	return out, err
}

// checkListen accepts "off" or host:port with both parts given; a host
// other than loopback only with allowAny.
func checkListen(addr string, allowAny bool) error {
	if addr == "off" {
		return nil
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" || port == "" {
		return fmt.Errorf("--listen %q: give host:port (e.g. 127.0.0.1:8080), or off", addr)
	}
	if isLoopback(host) || allowAny {
		return nil
	}
	return fmt.Errorf("--listen %q is not a loopback address; pass --listen-non-loopback to serve it (status and metrics are unauthenticated)", addr)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// readSecretFile reads a secret from path ("" means none); an empty file
// is an error.
func readSecretFile(flagName, path string) ([]byte, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flagName, err)
	}
	s := []byte(strings.TrimSpace(string(b)))
	if len(s) == 0 {
		return nil, fmt.Errorf("%s %s is empty", flagName, path)
	}
	return s, nil
}
