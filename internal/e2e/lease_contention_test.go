package e2e_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mzsync/mzsync/internal/model"
	"github.com/mzsync/mzsync/internal/reconcile"
)

var (
	installRe = regexp.MustCompile(`ALTER SCHEMA "` + model.LeaseNewPrefix + `([0-9a-z]+)" RENAME TO "` + model.LeaseSchema + `"`)
	releaseRe = regexp.MustCompile(`ALTER SCHEMA "` + model.LeaseSchema + `" RENAME TO "` + model.StaleLeasePrefix)
	workRe    = regexp.MustCompile(`(?:work_writer-|'writer-|"drop_writer-)(\d+)`)
	// A drop is a retirement: a fenced rename into the holder's trash,
	// then a DROP of that trash, which may come late but only ever names
	// the dropping writer's own trash.
	retireRe    = regexp.MustCompile(`RENAME TO "` + model.TrashPrefix + `([0-9a-z]+)_drop_writer-(\d+)_`)
	trashDropRe = regexp.MustCompile(`^DROP SCHEMA "` + model.TrashPrefix + `([0-9a-z]+)_drop_writer-(\d+)_`)
)

// TestLeaseContention runs several writers against one server: random
// delays, host clocks off by up to a minute either way (which must not
// matter: expiry is judged by the server's clock), and one holder that
// stalls with its lease, its own clock frozen (so only the server-side
// fence can stop it), and tries to write after its lease passed to
// another. The server's log of committed catalog changes must show every
// write made by the holder of the lease at that point of the log (never
// two writers, no interleaving), and the stalled holder's late writes
// refused by the fencing check.
func TestLeaseContention(t *testing.T) {
	w := newWorld(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if _, err := w.mz.Exec(ctx, "CREATE SCHEMA work"); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	owner := map[string]int{} // lease token -> writer
	acquired := map[int]int{}
	record := func(i int, l *reconcile.Lease) {
		mu.Lock()
		defer mu.Unlock()
		owner[l.Token()] = i
		acquired[i]++
	}
	// write sends one fenced catalog change naming its writer: a DDL
	// transaction, a lone statement, or a schema created and dropped as
	// Apply drops one (retired into the trash, then dropped).
	var seq atomic.Int64
	write := func(db reconcile.DB, i, n int) error {
		switch n % 3 {
		case 0:
			tmp := model.QuoteIdent(fmt.Sprintf("work_writer-%d", i))
			return db.Exec(ctx, "BEGIN; ALTER SCHEMA work RENAME TO "+tmp+"; ALTER SCHEMA "+tmp+" RENAME TO work; COMMIT")
		case 1:
			return db.Exec(ctx, fmt.Sprintf("COMMENT ON SCHEMA work IS 'writer-%d write %d'", i, n))
		}
		name := fmt.Sprintf("drop_writer-%d_%d", i, seq.Add(1))
		if err := db.Exec(ctx, "CREATE SCHEMA "+model.QuoteIdent(name)); err != nil {
			return err
		}
		err := dropSchema(ctx, db, name)
		for try := 0; try < 10 && err != nil && strings.Contains(err.Error(), "40001"); try++ {
			err = dropSchema(ctx, db, name) // as for the transactions below
		}
		return err
	}

	// Writer 0 takes the lease first, writes once, and stalls: it stops
	// renewing, as a stopped process would.
	const stalled = 0
	sa := w.applier()
	sl, err := reconcile.AcquireLease(ctx, sa.lease, reconcile.LeaseOptions{Owner: "writer-0", TTL: time.Second, Now: frozen()})
	if err != nil {
		t.Fatal(err)
	}
	record(stalled, sl)
	if err := write(sl.Fence(sa.db), stalled, 1); err != nil {
		t.Fatalf("the stalled writer's first write, under its lease: %v", err)
	}
	const stalledSchema = "drop_writer-0_0"
	if err := sl.Fence(sa.db).Exec(ctx, "CREATE SCHEMA "+model.QuoteIdent(stalledSchema)); err != nil {
		t.Fatalf("the stalled writer's second write, under its lease: %v", err)
	}

	const writers, rounds = 4, 3
	var wg sync.WaitGroup
	errs := make(chan error, writers*rounds*4)
	for i := 1; i <= writers; i++ {
		rng := rand.New(rand.NewPCG(uint64(i), 42))
		offset := time.Duration(rng.Int64N(int64(2*time.Minute))) - time.Minute
		a := w.applier()
		wg.Add(1)
		go func() {
			defer wg.Done()
			pause := func() { time.Sleep(time.Duration(rng.IntN(30)) * time.Millisecond) }
			clock := func() time.Time { return time.Now().Add(offset) }
			for r := 0; r < rounds; r++ {
				pause()
				l, err := reconcile.AcquireLease(ctx, a.lease, reconcile.LeaseOptions{
					Owner: fmt.Sprintf("writer-%d", i), TTL: 3 * time.Second, Wait: true, Poll: 10 * time.Millisecond, Now: clock})
				if err != nil {
					errs <- fmt.Errorf("writer %d: acquire: %w", i, err)
					return
				}
				record(i, l)
				runCtx, stop := l.KeepAlive(ctx)
				db := l.Fence(a.db)
				for n := 0; n < 4 && runCtx.Err() == nil; n++ {
					pause()
					err := write(db, i, n)
					for try := 0; try < 10 && err != nil && strings.Contains(err.Error(), "40001"); try++ {
						// A losing contender's DDL landed inside the
						// transaction: Materialize's rule; retry, as Apply does.
						err = write(db, i, n)
					}
					if err != nil && !errors.Is(err, reconcile.ErrLeaseLost) {
						errs <- fmt.Errorf("writer %d: write %d: %w", i, n, err)
					}
				}
				stop()
				if err := l.Release(ctx); err != nil {
					errs <- fmt.Errorf("writer %d: release: %w", i, err)
				}
			}
		}()
	}

	// Resume the stalled writer once its lease has passed to another.
	for {
		rows, err := w.mz.Query(ctx, "SELECT COALESCE(c.comment, '') FROM mz_schemas s LEFT JOIN mz_internal.mz_comments c ON c.id = s.id WHERE s.name = 'mzsync_lease'")
		if err != nil {
			t.Fatal(err)
		}
		var comment string
		found := false
		for rows.Next() {
			found = true
			rows.Scan(&comment)
		}
		rows.Close()
		if l, ok := model.ParseLeaseComment(comment); found && ok && l.Token != sl.Token() {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("the stalled writer's lease never passed to another")
		}
		time.Sleep(10 * time.Millisecond)
	}
	late := sl.Fence(sa.db)
	for n := 2; n < 4; n++ {
		if err := write(late, stalled, n); !errors.Is(err, reconcile.ErrLeaseLost) {
			t.Fatalf("the stalled writer's late write %d: %v, want refused by the fencing check (ErrLeaseLost)", n, err)
		}
	}
	if err := dropSchema(ctx, late, stalledSchema); !errors.Is(err, reconcile.ErrLeaseLost) {
		t.Fatalf("the stalled writer's late drop: %v, want refused by the fence (ErrLeaseLost)", err)
	}
	if err := sl.Renew(ctx); !errors.Is(err, reconcile.ErrLeaseLost) {
		t.Fatalf("the stalled writer's late renewal: %v, want ErrLeaseLost", err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	// The server's log, in commit order: every write was made by the
	// holder of the lease at that point.
	holder, writes, drops := "", 0, 0
	perWriter := map[int]int{}
	for _, c := range w.env.Server.CatalogChanges() {
		text := strings.Join(c.Statements, "; ")
		if m := installRe.FindStringSubmatch(text); m != nil {
			holder = m[1]
			continue
		}
		if releaseRe.MatchString(text) {
			holder = ""
			continue
		}
		if m := trashDropRe.FindStringSubmatch(text); m != nil {
			// A lone DROP may land after its writer lost the lease, but
			// only on the trash its own holding retired.
			i, _ := strconv.Atoi(m[2])
			mu.Lock()
			h, ok := owner[m[1]]
			mu.Unlock()
			if !ok || h != i {
				t.Fatalf("revision %d: writer %d dropped trash retired under token %s (writer %d, known %v): %s", c.Revision, i, m[1], h, ok, text)
			}
			drops++
			continue
		}
		if strings.Contains(text, `DROP SCHEMA "drop_writer-`) {
			t.Fatalf("revision %d: a schema dropped without being retired first: %s", c.Revision, text)
		}
		if m := retireRe.FindStringSubmatch(text); m != nil && m[1] != holder {
			t.Fatalf("revision %d: retired into the trash of token %s while token %q held the lease: %s", c.Revision, m[1], holder, text)
		}
		m := workRe.FindStringSubmatch(text)
		if m == nil {
			continue
		}
		i, _ := strconv.Atoi(m[1])
		mu.Lock()
		h, ok := owner[holder]
		mu.Unlock()
		if holder == "" || !ok || h != i {
			t.Fatalf("revision %d: writer %d wrote while the lease was held by token %q (writer %d, known %v): %s", c.Revision, i, holder, h, ok, text)
		}
		writes++
		perWriter[i]++
	}
	if perWriter[stalled] != 2 {
		t.Fatalf("the stalled writer made %d writes, want only the two under its lease", perWriter[stalled])
	}
	if drops < writers {
		t.Fatalf("only %d drops in the log: the test proves little", drops)
	}
	for i := 1; i <= writers; i++ {
		if acquired[i] != rounds {
			t.Errorf("writer %d acquired the lease %d times, want %d", i, acquired[i], rounds)
		}
	}
	if writes < writers {
		t.Fatalf("only %d writes in the log: the test proves little", writes)
	}
}

// dropSchema drops a schema as Apply drops a version schema.
func dropSchema(ctx context.Context, db reconcile.DB, name string) error {
	return reconcile.ExecChange(ctx, db, reconcile.Change{Op: reconcile.OpDrop, Kind: reconcile.KindSchema, Target: name,
		SQL: []string{"DROP SCHEMA " + model.QuoteIdent(name) + " CASCADE"}})
}
