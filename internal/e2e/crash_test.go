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
// Each interruption runs on its own copy of the example schema, named by
// the caller (c01, c02, ...), so all of a scenario's runs share one
// emulated Materialize: schemas are independent, and a world is costly.
type crashScenario struct {
	name   string
	setup  func(t *testing.T, a *applier, schema string)
	target func(t *testing.T, schema string) *model.Desired
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

// renamed returns d with its schema app renamed.
func renamed(d *model.Desired, name string) *model.Desired {
	c := *d
	c.Schemas = slices.Clone(d.Schemas)
	for i := range c.Schemas {
		if c.Schemas[i].Name != "app" {
			continue
		}
		s := &c.Schemas[i]
		s.Name = name
		s.Versions = slices.Clone(s.Versions)
		for j := range s.Versions {
			s.Versions[j].ID.Schema = name
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
func v1ThenV2WithoutV1(t *testing.T, a *applier, name string) {
	mustApply(t, a, renamed(manifestsV1(t), name))
	mustApplyOpts(t, a, renamed(withRetain(manifestsV2(t), "app", 0), name), reconcile.Options{AllowDrop: true})
}

var crashScenarios = []crashScenario{
	{
		name:   "forward build",
		setup:  func(t *testing.T, a *applier, name string) { mustApply(t, a, renamed(manifestsV1(t), name)) },
		target: func(t *testing.T, name string) *model.Desired { return renamed(manifestsV2(t), name) },
	},
	{
		name: "retention drop",
		setup: func(t *testing.T, a *applier, name string) {
			mustApply(t, a, renamed(manifestsV1(t), name))
			mustApply(t, a, renamed(manifestsV2(t), name))
		},
		target: func(t *testing.T, name string) *model.Desired {
			return renamed(withRetain(manifestsV2(t), "app", 0), name)
		},
		opts: reconcile.Options{AllowDrop: true},
	},
	{
		name:  "build of an older version for a rollback",
		setup: v1ThenV2WithoutV1,
		target: func(t *testing.T, name string) *model.Desired {
			return renamed(withRetain(withActive(manifestsV2(t), "app", "v1"), "app", 0), name)
		},
	},
	{
		name:   "rebuild after retain grows",
		setup:  v1ThenV2WithoutV1,
		target: func(t *testing.T, name string) *model.Desired { return renamed(manifestsV2(t), name) },
	},
	{
		// The alias was built by hand the seed guide's way; the pass adopts
		// it as v1 (markers only), builds v2 beside it and cuts over. An
		// unowned view elsewhere reads the hand-built materialized view.
		name:   "adoption",
		setup:  handBuiltAlias,
		target: adoptingTarget,
	},
}

// handBuiltAlias builds alias schema name by hand, the seed guide's way,
// over source pg, with an unowned view public."reads-<name>" reading it.
func handBuiltAlias(t *testing.T, a *applier, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := a.apply(ctx, &model.Desired{Revision: "src", Sources: manifestsV1(t).Sources}, reconcile.ApplyOptions{}); err != nil {
		t.Fatalf("create the source: %v", err)
	}
	hb := model.QuoteIdent("hb_" + name)
	for _, s := range []string{
		"CREATE SCHEMA " + hb,
		"CREATE TABLE " + hb + ".t FROM SOURCE pg (REFERENCE public.t)",
		"CREATE MATERIALIZED VIEW " + hb + ".matview AS SELECT sum(a) AS total FROM " + hb + ".t",
		"ALTER SCHEMA " + hb + " RENAME TO " + model.QuoteIdent(name),
		"CREATE VIEW public." + model.QuoteIdent("reads-"+name) + " AS SELECT total FROM " + model.QuoteIdent(name) + ".matview",
	} {
		if err := a.db.Exec(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// adoptingTarget is the example manifests (v2 active) for schema name,
// with v1 adopting the hand-built alias.
func adoptingTarget(t *testing.T, name string) *model.Desired {
	d := renamed(manifestsV2(t), name)
	for i := range d.Schemas {
		if d.Schemas[i].Name == name {
			for j := range d.Schemas[i].Versions {
				if d.Schemas[i].Versions[j].ID.Version == "v1" {
					d.Schemas[i].Versions[j].AdoptFrom = name
				}
			}
		}
	}
	return d
}

// ddlOn matches the statements of a pass that change the version schemas
// of alias schema name (not the lease's, not SET), as mzemu's fault
// counter sees them: one statement at a time, also inside BEGIN ... COMMIT.
func ddlOn(name string) *regexp.Regexp {
	return regexp.MustCompile(`(?is)^\s*(CREATE|COMMENT|ALTER|DROP)\b.*"(` + regexp.QuoteMeta(model.BuildPrefix) + `[0-9a-z]+_)?` + regexp.QuoteMeta(name) + `(_v[0-9]+)?"`)
}

func countDDL(re *regexp.Regexp, sent []string) int {
	n := 0
	for _, s := range sent {
		for _, part := range strings.Split(s, "; ") {
			if re.MatchString(part) {
				n++
			}
		}
	}
	return n
}

// shapeOf is catalogShape restricted to alias schema name and its version
// schemas, with name replaced by "S", so two copies compare equal.
func shapeOf(t *testing.T, w *world, name string) []string {
	t.Helper()
	re := regexp.MustCompile(`\b` + regexp.QuoteMeta(name) + `\b|\b` + regexp.QuoteMeta(name) + `(_v[0-9]+)`)
	var out []string
	for _, l := range catalogShape(t, w) {
		if !strings.Contains(l, name) {
			continue
		}
		out = append(out, re.ReplaceAllStringFunc(l, func(m string) string { return "S" + strings.TrimPrefix(m, name) }))
	}
	return out
}

// TestCrashAtEveryStatement interrupts every statement of every kind of
// pass in turn, in one of three ways by turn: the process is killed before
// sending it, Materialize fails it, or it runs and its reply is lost with
// the connection. Whatever happened, consumers still read a complete
// version under the alias; the next apply converges to exactly the catalog
// of an uninterrupted one and the plan after it is empty, without findings.
func TestCrashAtEveryStatement(t *testing.T) {
	for si, sc := range crashScenarios {
		t.Run(sc.name, func(t *testing.T) {
			if testing.Short() && si > 0 {
				t.Skip("-short: only the forward build")
			}
			t.Parallel()
			w := newWorld(t)
			addColumnB(w)
			// An uninterrupted pass first: its statements and its result.
			probeName := fmt.Sprintf("c%d_00", si)
			pa := w.applier()
			sc.setup(t, pa, probeName)
			before := len(pa.rec.sent())
			mustApplyOpts(t, pa, sc.target(t, probeName), sc.opts)
			sent := pa.rec.sent()[before:]
			if len(sent) < 1 {
				t.Fatalf("the pass sent %d statements; the test proves nothing", len(sent))
			}
			want := shapeOf(t, w, probeName)
			wantTotal := w.total(probeName + ".matview")

			for k := 1; k <= len(sent); k++ {
				name := fmt.Sprintf("c%d_%02d", si, k)
				re := ddlOn(name)
				mode := []string{"killed before", "failed", "reply lost after"}[k%3]
				// Server-side faults count only DDL on the schema's versions.
				nth := countDDL(ddlOn(probeName), sent[:k])
				if mode != "killed before" && countDDL(ddlOn(probeName), sent[k-1:k]) == 0 {
					mode = "killed before"
				}
				t.Run(fmt.Sprintf("%s statement %d of %d", mode, k, len(sent)), func(t *testing.T) {
					setup := w.applier()
					sc.setup(t, setup, name)
					setup.close()
					crashing := w.applier()
					defer crashing.close()
					switch mode {
					case "killed before":
						crashing.rec.crashAt = k
					case "failed":
						mustFault(t, w.env.Server.Faults().Add(mzemu.Fault{Pattern: re.String(), Nth: nth, Action: mzemu.FaultFail}))
					default:
						mustFault(t, w.env.Server.Faults().Add(mzemu.Fault{Pattern: re.String(), Nth: nth, Action: mzemu.FaultLoseReply}))
					}
					defer w.env.Server.Faults().Reset()
					ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
					defer cancel()
					_, err := crashing.apply(ctx, sc.target(t, name), reconcile.ApplyOptions{Diff: sc.opts, Wait: true, Timeout: 30 * time.Second,
						Sleep: func(ctx context.Context, d time.Duration) error { return nil }})
					switch {
					case mode == "killed before" && !errors.Is(err, errCrash):
						t.Fatalf("crashing apply returned %v, want the simulated crash", err)
					case mode == "failed":
						var se *reconcile.StatementError
						if !errors.As(err, &se) || se.SQL == "" || !strings.Contains(err.Error(), se.Change.Target) {
							t.Fatalf("failure %v does not name the object and show its SQL", err)
						}
					}
					// Whatever happened, consumers still read a complete version.
					if got := w.total(name + ".matview"); got != 30 && got != 20 {
						t.Fatalf("after the interruption %s.matview = %d", name, got)
					}
					w.env.Server.Faults().Reset()

					recovery := w.applier()
					defer recovery.close()
					mustApplyOpts(t, recovery, sc.target(t, name), sc.opts)
					if p := recovery.planOpts(t, sc.target(t, name), sc.opts); !p.Empty() || p.Blocked() {
						t.Fatalf("after recovery the plan is not empty: %+v", p.Changes)
					}
					if diff := cmp.Diff(want, shapeOf(t, w, name)); diff != "" {
						t.Fatalf("catalog after recovery differs from an uninterrupted apply (-want +got):\n%s", diff)
					}
					if got := w.total(name + ".matview"); got != wantTotal {
						t.Fatalf("after recovery %s.matview = %d, want %d", name, got, wantTotal)
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
	o := w.observeOnce(t)
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
