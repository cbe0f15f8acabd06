package e2e_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mzsync/mzsync/internal/model"
	"github.com/mzsync/mzsync/internal/mzemu"
	"github.com/mzsync/mzsync/internal/reconcile"
)

// soakPasses is the soak test's budget: MZSYNC_SOAK_PASSES (make soak sets
// 250); 12 in the ordinary suite, 4 with -short.
func soakPasses(t *testing.T) int {
	if s := os.Getenv("MZSYNC_SOAK_PASSES"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("MZSYNC_SOAK_PASSES=%q: want a positive number", s)
		}
		return n
	}
	if testing.Short() {
		return 4
	}
	return 12
}

// soakDesired is a desired state of the soak: schemas app and other, each
// with versions v1 and v2, their own active version and retention.
func soakDesired(t *testing.T, activeApp, activeOther string, retainApp, retainOther int) *model.Desired {
	d := twoSchemas(manifestsV2(t))
	d = withActive(withActive(d, "app", activeApp), "other", activeOther)
	return withRetain(withRetain(d, "app", retainApp), "other", retainOther)
}

// TestSoak runs many apply passes against one catalog, mixing active
// switches, retention changes and faults (killed applies, failed CREATE,
// COMMENT, ALTER and DROP statements, dropped connections, lost replies,
// 40001s). After every pass, whatever it returned: each alias holds a
// complete owned version, no two schemas claim one version, unowned
// objects are untouched, and a reader of the aliases never saw an error.
// Once the faults stop, one apply converges and the next plan is empty,
// without findings. The sequence is pseudo-random with a logged seed
// (MZSYNC_SOAK_SEED reproduces a run).
func TestSoak(t *testing.T) {
	passes := soakPasses(t)
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("MZSYNC_SOAK_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		seed = v
	}
	t.Logf("soak: %d passes, MZSYNC_SOAK_SEED=%d", passes, seed)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))

	w := newWorld(t)
	ctx := context.Background()
	a := w.applier()
	mustApply(t, a, twoSchemas(manifestsV1(t)))
	addColumnB(w)

	// Objects mzsync does not own, which it must never touch.
	unowned := []string{
		"CREATE SCHEMA scratch",
		"CREATE VIEW scratch.mine AS SELECT 1 AS x",
		"CREATE VIEW public.mine AS SELECT 2 AS y",
	}
	for _, s := range unowned {
		if _, err := w.mz.Exec(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	unownedIDs := func() string {
		var ids string
		if err := w.mz.QueryRow(ctx, `SELECT string_agg(o.id || '=' || s.name || '.' || o.name, ',' ORDER BY o.id)
		  FROM mz_objects o JOIN mz_schemas s ON s.id = o.schema_id
		 WHERE (s.name, o.name) IN (('scratch', 'mine'), ('public', 'mine'))`).Scan(&ids); err != nil {
			t.Fatal(err)
		}
		return ids
	}
	wantUnowned := unownedIDs()

	// A reader of both aliases, on its own session, for the whole soak.
	readerCtx, stopReader := context.WithCancel(ctx)
	var reads atomic.Int64
	var readErr atomic.Value
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		rc, err := pgx.Connect(readerCtx, w.env.MaterializeURL)
		if err != nil {
			readErr.Store(err)
			return
		}
		defer rc.Close(context.Background())
		for readerCtx.Err() == nil {
			for _, rel := range []string{"app.matview", "other.matview"} {
				var n int64
				if err := rc.QueryRow(readerCtx, "SELECT total FROM "+rel).Scan(&n); err != nil {
					if readerCtx.Err() == nil {
						readErr.Store(fmt.Errorf("read %s: %w", rel, err))
					}
					return
				}
				if n != 20 && n != 30 {
					readErr.Store(fmt.Errorf("read %s = %d, want v1's 30 or v2's 20", rel, n))
					return
				}
				reads.Add(1)
			}
			// Pace the reader so it does not starve the passes of CPU;
			// nothing depends on this interval.
			time.Sleep(2 * time.Millisecond)
		}
	}()
	defer func() { stopReader(); wg.Wait() }()

	faults := w.env.Server.Faults()
	kinds := []string{"CREATE", "COMMENT", "ALTER", "DROP"}
	versions := []string{"v1", "v2"}
	var des *model.Desired
	var opts reconcile.Options
	for pass := 1; pass <= passes; pass++ {
		des = soakDesired(t, versions[rng.IntN(2)], versions[rng.IntN(2)], rng.IntN(3), rng.IntN(3))
		opts = reconcile.Options{AllowDrop: rng.IntN(2) == 0}
		faults.Reset()
		applier := w.applier()
		fault := "none"
		switch rng.IntN(7) {
		case 0:
			applier.rec.crashAt = 1 + rng.IntN(12)
			fault = fmt.Sprintf("killed before statement %d", applier.rec.crashAt)
		case 1:
			k := kinds[rng.IntN(len(kinds))]
			fault = "failed " + k
			mustFault(t, faults.Add(mzemu.Fault{Pattern: `(?is)^\s*` + k + `\b.*"(mzsync_build_[0-9a-z]+_)?(app|other)`, Nth: 1 + rng.IntN(2), Action: mzemu.FaultFail}))
		case 2:
			fault = "connection dropped"
			mustFault(t, faults.Add(mzemu.Fault{Pattern: `(?is)^\s*(CREATE|COMMENT|ALTER|DROP)\b.*"(mzsync_build_[0-9a-z]+_)?(app|other)`, Nth: 1 + rng.IntN(6), Scope: mzemu.ScopeSession, Action: mzemu.FaultDrop}))
		case 3:
			fault = "reply lost"
			mustFault(t, faults.Add(mzemu.Fault{Pattern: `(?is)^\s*(CREATE|COMMENT|ALTER|DROP)\b.*"(mzsync_build_[0-9a-z]+_)?(app|other)`, Nth: 1 + rng.IntN(6), Scope: mzemu.ScopeSession, Action: mzemu.FaultLoseReply}))
		case 4:
			fault = "40001s"
			faults.SetDDLConflictRate(0.5)
		}
		wait := rng.IntN(3) > 0
		pctx, cancel := context.WithTimeout(ctx, time.Minute)
		res, err := applier.apply(pctx, des, reconcile.ApplyOptions{Diff: opts, Wait: wait, Timeout: 30 * time.Second,
			Sleep: func(ctx context.Context, d time.Duration) error { return nil }})
		cancel()
		applier.close()
		executed := 0
		if res != nil {
			executed = len(res.Executed)
		}
		t.Logf("pass %d: app %s retain %d, other %s retain %d, allow-drop %v, wait %v, fault %s: %d executed, err %v",
			pass, des.Schemas[0].Active, des.Schemas[0].Retain, des.Schemas[1].Active, des.Schemas[1].Retain,
			opts.AllowDrop, wait, fault, executed, err)
		faults.Reset()
		checkSoakInvariants(t, w, des, pass)
		if got := unownedIDs(); got != wantUnowned {
			t.Fatalf("pass %d: unowned objects changed: %s, want %s", pass, got, wantUnowned)
		}
		if e := readErr.Load(); e != nil {
			t.Fatalf("pass %d: the reader saw: %v", pass, e)
		}
	}

	// Faults stopped: one apply converges, the next plan is empty.
	opts = reconcile.Options{AllowDrop: true}
	final := w.applier()
	defer final.close()
	mustApplyOpts(t, final, des, opts)
	if p := final.planOpts(t, des, opts); !p.Empty() || p.Blocked() {
		t.Fatalf("after the soak the plan is not empty or has findings: %+v", p.Changes)
	}
	checkSoakInvariants(t, w, des, passes+1)
	for _, s := range des.Schemas {
		if got := aliasVersion(t, w, s.Name); got != s.Active {
			t.Fatalf("after the soak %s holds %s, want %s", s.Name, got, s.Active)
		}
	}
	stopReader()
	wg.Wait()
	if e := readErr.Load(); e != nil {
		t.Fatalf("the reader saw: %v", e)
	}
	if reads.Load() == 0 {
		t.Fatal("the reader never read: the test proves nothing")
	}
}

func mustFault(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// checkSoakInvariants: each alias holds a complete, built, owned version
// (every declared object present and marked) and no two schemas carry the
// marker of one version.
func checkSoakInvariants(t *testing.T, w *world, des *model.Desired, pass int) {
	t.Helper()
	o := w.observeOnce(t)
	claimed := map[model.VersionID]string{}
	for _, s := range o.Schemas {
		if s.Marker == nil || model.IsTrash(s.Name) || model.IsPrivateBuild(s.Name) {
			// A retired schema an interrupted drop left in the trash, and
			// a private build an interrupted pass left, are out of the
			// namespace; the next pass drops them.
			continue
		}
		if prev, dup := claimed[s.Marker.ID()]; dup {
			t.Fatalf("pass %d: schemas %s and %s both claim %s", pass, prev, s.Name, s.Marker.ID())
		}
		claimed[s.Marker.ID()] = s.Name
	}
	for _, decl := range des.Schemas {
		var alias *model.ObservedSchema
		for i := range o.Schemas {
			if o.Schemas[i].Name == decl.Name {
				alias = &o.Schemas[i]
			}
		}
		if alias == nil || alias.Marker == nil || alias.Marker.Schema != decl.Name || !alias.Marker.Built() {
			t.Fatalf("pass %d: alias %s does not hold a built owned version: %+v", pass, decl.Name, alias)
		}
		v, ok := decl.Version(alias.Marker.Version)
		if !ok {
			t.Fatalf("pass %d: %s holds undeclared %s", pass, decl.Name, alias.Marker.Version)
		}
		for _, ob := range v.Objects {
			found := false
			for _, x := range alias.Objects {
				if x.Name == ob.Name && x.Marker != nil && x.Marker.Digest == ob.Digest {
					found = true
				}
			}
			if !found {
				t.Fatalf("pass %d: %s (%s) lacks its owned %s", pass, decl.Name, v.ID, ob.Name)
			}
		}
	}
}
