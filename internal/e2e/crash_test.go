package e2e_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mzsync/mzsync/internal/model"
	"github.com/mzsync/mzsync/internal/mzemu"
	"github.com/mzsync/mzsync/internal/reconcile"
)

// crashScenario is one kind of pass: a catalog prepared by setup, then an
// apply towards target that the test interrupts at each of its statements.
type crashScenario struct {
	name   string
	setup  func(t *testing.T, w *world, a *applier)
	target func(t *testing.T) *model.Desired
	opts   reconcile.Options
}

// withRetain returns a copy of d whose schema has another retain.
func withRetain(d *model.Desired, schema string, retain int) *model.Desired {
	c := *d
	c.Schemas = append([]model.Schema(nil), d.Schemas...)
	for i := range c.Schemas {
		if c.Schemas[i].Name == schema {
			c.Schemas[i].Retain = retain
		}
	}
	return &c
}

func manifestsV1(t *testing.T) *model.Desired { return load(t, repoPath("examples", "manifests-v1")) }
func manifestsV2(t *testing.T) *model.Desired { return load(t, repoPath("examples", "manifests")) }

func addColumnB(w *world) {
	w.upExec("ALTER TABLE t ADD COLUMN b boolean DEFAULT false", "INSERT INTO t (a, b) VALUES (20, true)")
}

// v1ThenV2WithoutV1 deploys v1, then v2 with retain 0, dropping v1.
func v1ThenV2WithoutV1(t *testing.T, w *world, a *applier) {
	mustApply(t, a, manifestsV1(t))
	addColumnB(w)
	mustApplyOpts(t, a, withRetain(manifestsV2(t), "app", 0), reconcile.Options{AllowDrop: true})
}

var crashScenarios = []crashScenario{
	{
		name: "forward build",
		setup: func(t *testing.T, w *world, a *applier) {
			mustApply(t, a, manifestsV1(t))
			addColumnB(w)
		},
		target: manifestsV2,
	},
	{
		name: "forward build retiring and dropping the old version",
		setup: func(t *testing.T, w *world, a *applier) {
			mustApply(t, a, manifestsV1(t))
			addColumnB(w)
		},
		target: func(t *testing.T) *model.Desired { return withRetain(manifestsV2(t), "app", 0) },
		opts:   reconcile.Options{AllowDrop: true},
	},
	{
		name:  "build of an older version for a rollback",
		setup: v1ThenV2WithoutV1,
		target: func(t *testing.T) *model.Desired {
			return withRetain(withActive(manifestsV2(t), "app", "v1"), "app", 0)
		},
	},
	{
		name:   "rebuild after retain grows",
		setup:  v1ThenV2WithoutV1,
		target: manifestsV2,
	},
}

// ddlOnVersions matches the statements of a pass that change version
// schemas (not the lease's, not SET), as mzemu's fault counter sees them:
// one statement at a time, also inside BEGIN ... COMMIT.
var ddlOnVersions = regexp.MustCompile(`(?is)^\s*(CREATE|COMMENT|ALTER|DROP)\b.*"app`)

func countDDL(sent []string) int {
	n := 0
	for _, s := range sent {
		for _, part := range strings.Split(s, "; ") {
			if ddlOnVersions.MatchString(part) {
				n++
			}
		}
	}
	return n
}

// TestCrashAtEveryStatement interrupts every statement of every kind of
// pass in turn, in one of three ways by turn: the process is killed before
// sending it, Materialize fails it, or it runs and its reply is lost with
// the connection. Whatever happened, consumers still read a complete
// version under the alias; the next apply converges to exactly the catalog
// of an uninterrupted one and the plan after it is empty, without findings.
func TestCrashAtEveryStatement(t *testing.T) {
	for _, sc := range crashScenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			// An uninterrupted pass first: its statements and its result.
			probe := newWorld(t)
			pa := probe.applier()
			sc.setup(t, probe, pa)
			before := len(pa.rec.sent())
			mustApplyOpts(t, pa, sc.target(t), sc.opts)
			sent := pa.rec.sent()[before:]
			if len(sent) < 2 {
				t.Fatalf("the pass sent %d statements; the test proves nothing", len(sent))
			}
			want := catalogShape(t, probe)
			wantTotal := probe.total("app.matview")

			for k := 1; k <= len(sent); k++ {
				mode := []string{"killed before", "failed", "reply lost after"}[k%3]
				// Server-side faults count only DDL on version schemas.
				nth := countDDL(sent[:k])
				if mode != "killed before" && (nth == 0 || countDDL(sent[k-1:k]) == 0) {
					mode = "killed before"
				}
				t.Run(fmt.Sprintf("%s statement %d of %d", mode, k, len(sent)), func(t *testing.T) {
					w := newWorld(t)
					sc.setup(t, w, w.applier())
					crashing := w.applier()
					switch mode {
					case "killed before":
						crashing.rec.crashAt = k
					case "failed":
						if err := w.env.Server.Faults().Add(mzemu.Fault{Pattern: ddlOnVersions.String(), Nth: nth, Action: mzemu.FaultFail}); err != nil {
							t.Fatal(err)
						}
					default:
						if err := w.env.Server.Faults().Add(mzemu.Fault{Pattern: ddlOnVersions.String(), Nth: nth, Action: mzemu.FaultLoseReply}); err != nil {
							t.Fatal(err)
						}
					}
					ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
					defer cancel()
					_, err := crashing.apply(ctx, sc.target(t), reconcile.ApplyOptions{Diff: sc.opts, Wait: true, Timeout: 30 * time.Second,
						Sleep: func(ctx context.Context, d time.Duration) error { return nil }})
					switch {
					case mode == "killed before" && !errors.Is(err, errCrash):
						t.Fatalf("crashing apply returned %v, want the simulated crash", err)
					case mode == "failed" && err == nil:
						t.Fatal("a failed statement was not reported")
					}
					if mode == "failed" {
						var se *reconcile.StatementError
						if !errors.As(err, &se) || se.SQL == "" || !strings.Contains(err.Error(), se.Change.Target) {
							t.Fatalf("failure %v does not name the object and show its SQL", err)
						}
					}
					// Whatever happened, consumers still read a complete version.
					if got := w.total("app.matview"); got != 30 && got != 20 {
						t.Fatalf("after the interruption app.matview = %d", got)
					}
					w.env.Server.Faults().Reset()

					mustApplyOpts(t, w.applier(), sc.target(t), sc.opts)
					if p := w.applier().planOpts(t, sc.target(t), sc.opts); !p.Empty() || p.Blocked() {
						t.Fatalf("after recovery the plan is not empty: %+v", p.Changes)
					}
					if diff := cmp.Diff(want, catalogShape(t, w)); diff != "" {
						t.Fatalf("catalog after recovery differs from an uninterrupted apply (-want +got):\n%s", diff)
					}
					if got := w.total("app.matview"); got != wantTotal {
						t.Fatalf("after recovery app.matview = %d, want %d", got, wantTotal)
					}
				})
			}
		})
	}
}

// catalogShape lists every user schema with its marker and its objects
// with kinds and markers: what "exactly the desired catalog" means.
func catalogShape(t *testing.T, w *world) []string {
	t.Helper()
	a := w.applier()
	o, err := a.obs.Observe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range o.Schemas {
		m := "unowned"
		if s.Marker != nil {
			m = s.Marker.String()
		}
		out = append(out, fmt.Sprintf("schema %s (%s)", s.Name, m))
		for _, ob := range s.Objects {
			owned := ob.Marker != nil
			out = append(out, fmt.Sprintf("  %s %s.%s owned=%v", ob.Kind, s.Name, ob.Name, owned))
		}
	}
	slices.Sort(out)
	return out
}
