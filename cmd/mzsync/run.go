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
	listen := fs.String("listen", "127.0.0.1:8080", "address for /status, /metrics, /healthz, /readyz and /webhook")
	secretFile := fs.String("webhook-secret-file", "", "file holding the webhook secret; without it /webhook, /suspend and /resume are disabled")
	allowDrop := fs.Bool("allow-drop", false, "drop retired versions beyond retention (only when nothing outside depends on them)")
	leaseTTL := fs.Duration("lease-ttl", time.Minute, "how long the apply lease lasts without renewal")
	if err := parseFlags(fs, e, args); err != nil {
		return flagError(e, "run", err)
	}
	if err := mz.check(); err != nil {
		return flagError(e, "run", err)
	}
	if *interval < time.Second {
		return flagError(e, "run", fmt.Errorf("--interval must be at least 1s, not %s", *interval))
	}
	source, err := src.source(e)
	if err != nil {
		return flagError(e, "run", err)
	}
	var secret []byte
	if *secretFile != "" {
		b, err := os.ReadFile(*secretFile)
		if err != nil {
			return flagError(e, "run", fmt.Errorf("--webhook-secret-file: %w", err))
		}
		secret = []byte(strings.TrimSpace(string(b)))
		if len(secret) == 0 {
			return flagError(e, "run", fmt.Errorf("--webhook-secret-file %s is empty", *secretFile))
		}
	}

	var d *daemon.Daemon
	lopts := reconcile.LeaseOptions{Owner: reconcile.DefaultOwner(), TTL: *leaseTTL, Log: e.log,
		OnChange: func(held bool) { d.SetLeaseHeld(held) }}
	pass := func(ctx context.Context, des *model.Desired) (daemon.Outcome, error) {
		return leasedPass(ctx, e, &mz, des, reconcile.Options{AllowDrop: *allowDrop}, lopts)
	}
	d = daemon.New(daemon.Config{Source: source, Pass: pass, Interval: *interval, Log: e.log})

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(e.stderr, "mzsync run: --listen: %v\n", err)
		return exitError
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	srv := &http.Server{Handler: d.Handler(secret), ReadHeaderTimeout: 10 * time.Second}
	serveErr := make(chan error, 1)
	go func() {
		err := srv.Serve(ln)
		if !errors.Is(err, http.ErrServerClosed) {
			cancel()
		}
		serveErr <- err
	}()

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

	e.log.Info("mzsync run: reconciling", "source", source.String(), "interval", *interval,
		"listen", ln.Addr().String(), "webhook", len(secret) > 0)
	d.Run(ctx)

	shutdownCtx, stop := context.WithTimeout(context.Background(), 5*time.Second)
	defer stop()
	srv.Shutdown(shutdownCtx)
	if err := <-serveErr; !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintf(e.stderr, "mzsync run: serve %s: %v\n", ln.Addr(), err)
		return exitError
	}
	e.log.Info("mzsync run: stopped")
	return exitOK
}

// leasedPass is one daemon pass: apply under the lease without waiting for
// readiness (applyWithLease), then read the catalog, with upstream
// inspection, for status and drift. The catalog is read even when the pass
// failed or met another writer's lease, so status stays current.
func leasedPass(ctx context.Context, e *env, mz *mzFlags, des *model.Desired, diff reconcile.Options, lopts reconcile.LeaseOptions) (daemon.Outcome, error) {
	opts := reconcile.ApplyOptions{Diff: diff, Log: e.log}
	res, runCtx, err := applyWithLease(ctx, e, mz, des, opts, lopts, 0)
	if err != nil && runCtx != nil && errors.Is(context.Cause(runCtx), reconcile.ErrLeaseLost) {
		err = fmt.Errorf("%w (apply lease lost)", err)
	}
	out := daemon.Outcome{Apply: res}
	if ctx.Err() != nil {
		return out, err
	}
	db := mz.db("read the Materialize catalog for status")
	defer db.Close(context.Background())
	o, oerr := observerFor(db, des, e).Observe(ctx)
	if o != nil {
		st := reconcile.Status(o, des)
		out.Status = &st
		out.Drift = drift.Compute(o, des)
	}
	if oerr != nil && ctx.Err() == nil {
		e.log.Warn("read catalog for status", "err", oerr)
	}
	return out, err
}
