package mzemu

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"sync"
)

// Faults is the fault injection of a Server, for reliability tests. All
// faults are off by default; methods are safe for concurrent use.
type Faults struct {
	mu        sync.Mutex
	rules     []*failRule
	dropAfter int
	ddlRate   float64
}

type failRule struct {
	re   *regexp.Regexp
	nth  int
	seen int
	code string
}

// FailStatement makes the nth statement from now (1-based, counted over
// all sessions) whose text matches the regular expression pattern fail
// with SQLSTATE code (XX000 when empty). The rule fires once.
func (f *Faults) FailStatement(pattern string, nth int, code string) error {
	re, err := regexp.Compile(pattern)
	if err != nil {
		return fmt.Errorf("fault pattern %q: %w", pattern, err)
	}
	if nth < 1 {
		nth = 1
	}
	if code == "" {
		code = codeInternal
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules = append(f.rules, &failRule{re: re, nth: nth, code: code})
	return nil
}

// DropConnectionAfter makes the server drop the client connection that
// sends the nth statement from now (counted over all sessions), instead of
// running it. 0 turns it off.
func (f *Faults) DropConnectionAfter(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.dropAfter = n
}

// SetDDLConflictRate makes a committing DDL transaction fail with 40001
// ("another session modified the catalog ...") with probability rate.
func (f *Faults) SetDDLConflictRate(rate float64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ddlRate = rate
}

// Reset turns every fault off.
func (f *Faults) Reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules, f.dropAfter, f.ddlRate = nil, 0, 0
}

// check is called before each statement runs.
func (f *Faults) check(text string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.dropAfter > 0 {
		f.dropAfter--
		if f.dropAfter == 0 {
			return &dropConn{}
		}
	}
	for i, r := range f.rules {
		if !r.re.MatchString(text) {
			continue
		}
		r.seen++
		if r.seen == r.nth {
			f.rules = append(f.rules[:i:i], f.rules[i+1:]...)
			return errf(r.code, "mzemu: injected fault for statement %d matching %q", r.nth, r.re.String())
		}
	}
	return nil
}

func (f *Faults) ddlConflict() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ddlRate > 0 && rand.Float64() < f.ddlRate
}

func (ss *session) checkFaults(st *stmt) error {
	if st.cls == clsEmpty {
		return nil
	}
	ss.srv.catalogLog.received(st)
	return ss.srv.faults.check(st.text)
}
