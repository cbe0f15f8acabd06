package e2e_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/mzsync/mzsync/internal/golden"
	"github.com/mzsync/mzsync/internal/reconcile"
)

func renderText(t *testing.T, p *reconcile.Plan) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := reconcile.RenderText(&b, p); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestConvergence checks the four steps: the forward plan matches its
// golden file; after applying it the same state plans empty; the rollback
// plan (active back to v1) matches its golden file and executes one swap
// (and its live record) and no CREATE; after it the state plans empty again.
func TestConvergence(t *testing.T) {
	w := newWorld(t)
	a := w.applier()
	v1 := load(t, repoPath("examples", "manifests-v1"))
	mustApply(t, a, v1)
	w.upExec("ALTER TABLE t ADD COLUMN b boolean DEFAULT false", "INSERT INTO t (a, b) VALUES (20, true)")

	v2 := load(t, repoPath("examples", "manifests"))
	// Revisions are content hashes; the golden files should not change
	// when a comment in the examples does.
	v2.Revision = "forward"
	golden.Check(t, "forward.txt", renderText(t, a.plan(t, v2)))
	mustApply(t, a, v2)
	if p := a.plan(t, v2); !p.Empty() {
		t.Fatalf("after apply the same state must plan empty, got:\n%s", renderText(t, p))
	}

	back := withActive(v2, "app", "v1")
	back.Revision = "rollback"
	golden.Check(t, "rollback.txt", renderText(t, a.plan(t, back)))
	before := len(a.rec.sent())
	res := mustApply(t, a, back)
	sent := a.rec.sent()[before:]
	if len(res.Executed) != 2 || res.Executed[0].Op != reconcile.OpSwap ||
		res.Executed[1].Op != reconcile.OpComment || res.Executed[1].Target != "app" {
		t.Fatalf("rollback executed %+v, want exactly one swap and the live record on app", res.Executed)
	}
	for _, s := range sent {
		if strings.Contains(strings.ToUpper(s), "CREATE") {
			t.Fatalf("rollback sent a CREATE: %s", s)
		}
	}
	if got := w.total("app.matview"); got != 30 {
		t.Fatalf("after rollback app.matview = %d, want v1's 30", got)
	}
	if p := a.plan(t, back); !p.Empty() {
		t.Fatalf("after rollback the same state must plan empty, got:\n%s", renderText(t, p))
	}
	_ = context.Background()
}
