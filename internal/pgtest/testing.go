package pgtest

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"
)

var (
	shared     *Cluster
	sharedErr  error
	sharedOnce sync.Once
)

// Main runs a package's tests with one shared cluster, started lazily by
// the first test that asks for it and stopped after all tests. Call it from
// TestMain: func TestMain(m *testing.M) { pgtest.Main(m) }.
func Main(m *testing.M) {
	code := m.Run()
	StopShared()
	os.Exit(code)
}

// StopShared stops the shared cluster if it was started. Use it from a
// TestMain that cannot call Main (e.g. one that testscript owns).
func StopShared() {
	if shared != nil {
		shared.Stop()
	}
}

// Shared returns the package's shared cluster, starting it on first use.
// A missing PostgreSQL fails the test: integration tests never skip.
func Shared(t testing.TB) *Cluster {
	t.Helper()
	sharedOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		shared, sharedErr = Start(ctx, Options{})
	})
	if sharedErr != nil {
		t.Fatalf("start PostgreSQL: %v", sharedErr)
	}
	return shared
}

// NewDatabase creates a fresh database on the shared cluster for this test,
// drops it when the test ends, and returns its connection URL.
func NewDatabase(t testing.TB) string {
	t.Helper()
	c := Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	name, err := c.CreateDatabase(ctx, t.Name())
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := c.DropDatabase(ctx, name); err != nil {
			t.Logf("drop database %s: %v", name, err)
		}
	})
	return c.URL(name)
}

// String describes the cluster without credentials.
func (c *Cluster) String() string { return fmt.Sprintf("postgres on 127.0.0.1:%d", c.Port) }
