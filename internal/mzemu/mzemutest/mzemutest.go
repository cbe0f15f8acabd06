package mzemutest

import (
	"context"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mzsync/mzsync/internal/model"
	"github.com/mzsync/mzsync/internal/mzemu"
	"github.com/mzsync/mzsync/internal/pgtest"
)

// Env is a running emulator with its upstream database.
type Env struct {
	Server *mzemu.Server
	// MaterializeURL is the pgx URL of the emulator.
	MaterializeURL string
	// UpstreamURL is the pgx URL of the upstream PostgreSQL database
	// (superuser, no password; wal_level=logical).
	UpstreamURL string
	// BackingURL is the emulator's backing database, e.g. to start a
	// second mzemu over it.
	BackingURL string

	t testing.TB
}

// New creates a fresh backing database and a fresh upstream database on
// the calling package's pgtest shared cluster (callers use pgtest.Main in
// TestMain), starts a Server and registers cleanup. Objects hydrate at
// once, upstream schemas are re-validated only when the test asks
// (Revalidate), and lag buckets close every 200ms (so lag becomes known
// soon after hydration; a test that needs lag to stay unknown sets
// LagBucket negative and closes buckets itself). Tests hold what must not be
// ready yet (Hold, Release) instead of racing a delay.
func New(t testing.TB, opts ...func(*mzemu.Options)) *Env {
	t.Helper()
	backing := pgtest.NewDatabase(t)
	upstream := pgtest.NewDatabase(t)
	o := mzemu.Options{BackingURL: backing, RevalidateInterval: -1, LagBucket: 200 * time.Millisecond}
	for _, f := range opts {
		f(&o)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv, err := mzemu.Start(ctx, o)
	if err != nil {
		t.Fatalf("start mzemu: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Logf("close mzemu: %v", err)
		}
	})
	return &Env{Server: srv, MaterializeURL: srv.URL(), UpstreamURL: upstream, BackingURL: backing, t: t}
}

// ConnectionSQL returns a CREATE CONNECTION statement named name pointing
// at the upstream database.
func (e *Env) ConnectionSQL(name string) string {
	u, err := url.Parse(e.UpstreamURL)
	if err != nil {
		e.t.Fatalf("parse upstream URL: %v", err)
	}
	return fmt.Sprintf("CREATE CONNECTION %s TO POSTGRES (HOST '127.0.0.1', PORT %s, USER %s, DATABASE %s)",
		model.QuoteIdent(name), u.Port(), model.QuoteLiteral(u.User.Username()), model.QuoteLiteral(u.Path[1:]))
}

// UpstreamExec runs statements on the upstream database, failing the test
// on error.
func (e *Env) UpstreamExec(sql ...string) {
	e.t.Helper()
	exec(e.t, e.UpstreamURL, sql)
}

// MaterializeExec runs statements on the emulator, each as its own
// simple-protocol Exec, failing the test on error.
func (e *Env) MaterializeExec(sql ...string) {
	e.t.Helper()
	exec(e.t, e.MaterializeURL, sql)
}

func exec(t testing.TB, u string, sql []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(context.Background())
	for _, s := range sql {
		if _, err := conn.Exec(ctx, s); err != nil {
			t.Fatalf("exec %q: %v", s, err)
		}
	}
}

// Hold holds the snapshot (kind mzemu.HoldSnapshot) or hydration
// (mzemu.HoldHydration) of the objects matching pattern; see
// mzemu.Server.Hold.
func (e *Env) Hold(kind, pattern string) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := e.Server.Hold(ctx, kind, pattern); err != nil {
		e.t.Fatalf("hold %s %s: %v", kind, pattern, err)
	}
}

// Release releases held objects matching pattern and returns how many;
// see mzemu.Server.Release.
func (e *Env) Release(kind, pattern string) int {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n, err := e.Server.Release(ctx, kind, pattern)
	if err != nil {
		e.t.Fatalf("release %s %s: %v", kind, pattern, err)
	}
	return n
}

// Revalidate runs an upstream re-validation tick now.
func (e *Env) Revalidate() {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := e.Server.Revalidate(ctx); err != nil {
		e.t.Fatalf("revalidate: %v", err)
	}
}
