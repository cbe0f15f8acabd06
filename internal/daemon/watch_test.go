package daemon

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestWatchDir proves edits to a manifest, in the root and in a directory
// created after the watch began, ask for a pass.
func TestWatchDir(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	triggered := make(chan struct{}, 10)
	done, err := WatchDir(ctx, dir, 10*time.Millisecond, nil, func() { triggered <- struct{}{} })
	if err != nil {
		t.Fatal(err)
	}
	wait := func(what string) {
		t.Helper()
		select {
		case <-triggered:
		case <-time.After(20 * time.Second):
			t.Fatalf("no trigger after %s", what)
		}
	}
	write := func(rel string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, rel), []byte("kind: Schema\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	write("source.yaml")
	wait("writing source.yaml")
	if err := os.Mkdir(filepath.Join(dir, "app"), 0o755); err != nil {
		t.Fatal(err)
	}
	wait("creating app/")
	write(filepath.Join("app", "v1.yaml"))
	wait("writing app/v1.yaml")

	cancel()
	<-done
}

// TestWatchDirMissing proves a missing directory is an error at start.
func TestWatchDirMissing(t *testing.T) {
	_, err := WatchDir(context.Background(), filepath.Join(t.TempDir(), "nope"), time.Millisecond, nil, func() {})
	if err == nil {
		t.Fatal("watching a missing directory succeeded")
	}
}
