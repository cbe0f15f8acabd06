package daemon

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mzsync/mzsync/internal/model"
)

// TestStuckPassCountsAsFailed: a pass that never returns on its own (it
// waits for its context) is cut off at PassTimeout and recorded as failed,
// saying so; the daemon goes on.
func TestStuckPassCountsAsFailed(t *testing.T) {
	src := &fakeSource{}
	src.set(good("r1"), nil)
	stuck := func(ctx context.Context, _ *model.Desired) (Outcome, error) {
		<-ctx.Done()
		return Outcome{}, ctx.Err()
	}
	d := New(Config{Source: src, Pass: stuck, Interval: time.Minute, PassTimeout: 20 * time.Millisecond, Jitter: -1, Now: newClock().now})
	delay := d.Reconcile(context.Background())
	st := d.Status()
	if len(st.History) != 1 || st.History[0].Result != ResultFailed {
		t.Fatalf("history %+v, want one failed pass", st.History)
	}
	if !strings.Contains(st.History[0].Error, "pass exceeded its deadline of 20ms") {
		t.Errorf("error %q does not say the pass ran out of time", st.History[0].Error)
	}
	if delay >= time.Minute {
		t.Errorf("requeue %s: a failed pass retries with backoff, sooner than the interval", delay)
	}
}

// settableClock is a clock the test moves.
type settableClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *settableClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *settableClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// TestHealthzTurnsUnhealthyWhenPassesStop: /healthz is 200 while passes
// finish, 503 (saying why) once none has finished for UnhealthyAfter, 200
// again after a pass, and 200 while suspended.
func TestHealthzTurnsUnhealthyWhenPassesStop(t *testing.T) {
	src := &fakeSource{}
	src.set(good("r1"), nil)
	p := &fakePass{}
	clk := &settableClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	d := New(Config{Source: src, Pass: p.pass, Interval: time.Minute, PassTimeout: time.Minute, Jitter: -1, Now: clk.now})
	if d.cfg.UnhealthyAfter != 3*time.Minute {
		t.Fatalf("default UnhealthyAfter %s, want 3 intervals", d.cfg.UnhealthyAfter)
	}
	h := d.Handler(HTTPConfig{})
	health := func() (int, string) { return do(t, h, http.MethodGet, "/healthz", nil, "") }
	if code, _ := health(); code != http.StatusOK {
		t.Fatalf("/healthz at start = %d", code)
	}
	clk.add(3*time.Minute + time.Second)
	code, body := health()
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "no pass has finished since start for 3m1s") {
		t.Fatalf("/healthz with no pass for 3m1s = %d %q, want 503 saying so", code, body)
	}
	d.Reconcile(context.Background())
	if code, _ := health(); code != http.StatusOK {
		t.Fatalf("/healthz right after a pass = %d", code)
	}
	clk.add(4 * time.Minute)
	if code, body := health(); code != http.StatusServiceUnavailable || !strings.Contains(body, "no pass has finished for 4m0s") {
		t.Fatalf("/healthz 4m after the last pass = %d %q", code, body)
	}
	d.Suspend()
	if code, _ := health(); code != http.StatusOK {
		t.Fatalf("/healthz while suspended = %d, want 200 (no passes are expected)", code)
	}
}
