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
	"testing"
	"time"

	"github.com/mzsync/mzsync/internal/model"
	"github.com/mzsync/mzsync/internal/reconcile"
)

var (
	installRe = regexp.MustCompile(`ALTER SCHEMA "` + model.LeaseNewPrefix + `([0-9a-z]+)" RENAME TO "` + model.LeaseSchema + `"`)
	releaseRe = regexp.MustCompile(`ALTER SCHEMA "` + model.LeaseSchema + `" RENAME TO "` + model.StaleLeasePrefix)
	workRe    = regexp.MustCompile(`(?:work_writer-|'writer-)(\d+)`)
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
	// transaction or a lone statement.
	write := func(db reconcile.DB, i, n int) error {
		if n%2 == 0 {
			tmp := model.QuoteIdent(fmt.Sprintf("work_writer-%d", i))
			return db.Exec(ctx, "BEGIN; ALTER SCHEMA work RENAME TO "+tmp+"; ALTER SCHEMA "+tmp+" RENAME TO work; COMMIT")
		}
		return db.Exec(ctx, fmt.Sprintf("COMMENT ON SCHEMA work IS 'writer-%d write %d'", i, n))
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
	holder, writes := "", 0
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
	if perWriter[stalled] != 1 {
		t.Fatalf("the stalled writer made %d writes, want only the one under its lease", perWriter[stalled])
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
