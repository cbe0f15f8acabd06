package daemon

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/mzsync/mzsync/internal/desired"
	"github.com/mzsync/mzsync/internal/model"
	"github.com/mzsync/mzsync/internal/reconcile"
)

// examples is the example manifest tree of the repository.
var examples = os.DirFS(filepath.Join("..", "..", "examples", "manifests"))

// fakeSource returns whatever the test set last.
type fakeSource struct {
	mu   sync.Mutex
	snap *desired.Snapshot
	err  error
}

func (s *fakeSource) set(snap *desired.Snapshot, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.snap, s.err = snap, err
}

func (s *fakeSource) Fetch(ctx context.Context) (*desired.Snapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.snap, s.err
}

func (s *fakeSource) String() string { return "fake" }

func good(rev string) *desired.Snapshot { return &desired.Snapshot{FS: examples, Revision: rev} }

func empty(rev string) *desired.Snapshot {
	return &desired.Snapshot{FS: fstest.MapFS{"README.md": {Data: []byte("no manifests")}}, Revision: rev}
}

func invalid(rev string) *desired.Snapshot {
	return &desired.Snapshot{FS: fstest.MapFS{"bad.yaml": {Data: []byte("apiVersion: mzsync.dev/v1alpha1\nkind: Nonsense\n")}}, Revision: rev}
}

// fakePass returns scripted outcomes and counts its calls.
type fakePass struct {
	mu    sync.Mutex
	calls int
	revs  []string
	out   Outcome
	err   error
}

func (p *fakePass) set(out Outcome, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.out, p.err = out, err
}

func (p *fakePass) pass(ctx context.Context, des *model.Desired) (Outcome, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls++
	p.revs = append(p.revs, des.Revision)
	return p.out, p.err
}

func (p *fakePass) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls
}

// fakeClock advances by one second every time it is read, so durations
// and transition times are deterministic and distinct.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Second)
	return c.t
}

// newTestDaemon returns a daemon over a fake source and pass, with a fake
// clock and no jitter.
func newTestDaemon(t *testing.T) (*Daemon, *fakeSource, *fakePass) {
	t.Helper()
	src := &fakeSource{}
	src.set(good("r1"), nil)
	p := &fakePass{}
	p.set(Outcome{Apply: &reconcile.ApplyResult{}}, nil)
	clk := newClock()
	d := New(Config{
		Source:       src,
		Pass:         p.pass,
		Interval:     time.Minute,
		RequeueReady: 5 * time.Second,
		RetryBase:    5 * time.Second,
		Jitter:       -1,
		Now:          clk.now,
	})
	return d, src, p
}

var (
	errConn    = errors.New("connection refused")
	notReadyV2 = &model.VersionID{Schema: "app", Version: "v2"}
)
