package mzemu

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"sync"
)

// Faults is the fault injection of a Server, for reliability tests. All
// faults are off by default; methods are safe for concurrent use and may be
// called while the server runs (also through the SQL control, see
// Server.Control).
type Faults struct {
	mu      sync.Mutex
	rules   []*faultRule
	ddlRate float64
}

// FaultAction is what a fault does to the statement it fires on.
type FaultAction int

const (
	// FaultFail fails the statement (it does not run) with Fault.Code.
	FaultFail FaultAction = iota
	// FaultDrop drops the client connection instead of running the
	// statement.
	FaultDrop
	// FaultLoseReply runs the statement (it takes effect, and commits when
	// it runs outside a transaction block) and then drops the client
	// connection before any reply is sent: "the statement ran but its reply
	// was lost".
	FaultLoseReply
)

// FaultScope says which statements a fault counts.
type FaultScope int

const (
	// ScopePattern counts the matching statements of every session
	// together: the fault fires on the Nth matching statement overall.
	ScopePattern FaultScope = iota
	// ScopeSession counts each session's matching statements separately:
	// the fault fires in the first session that sends its own Nth matching
	// statement, so unrelated sessions never advance another's count.
	ScopeSession
)

// Fault is one injected fault. It fires once.
type Fault struct {
	// Pattern is a regular expression over the statement text; "" matches
	// every statement.
	Pattern string
	// Nth is which matching statement fires (1-based; 0 means 1).
	Nth    int
	Scope  FaultScope
	Action FaultAction
	// Code is the SQLSTATE of a FaultFail (XX000 when empty).
	Code string
}

type faultRule struct {
	Fault
	re   *regexp.Regexp
	seen map[uint64]int // per session key (0 for ScopePattern)
}

// Add installs a fault; it counts statements sent from now on.
func (f *Faults) Add(ft Fault) error {
	re, err := regexp.Compile(ft.Pattern)
	if err != nil {
		return fmt.Errorf("fault pattern %q: %w", ft.Pattern, err)
	}
	if ft.Nth < 1 {
		ft.Nth = 1
	}
	if ft.Code == "" {
		ft.Code = codeInternal
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules = append(f.rules, &faultRule{Fault: ft, re: re, seen: map[uint64]int{}})
	return nil
}

// FailStatement makes the nth statement from now (1-based, counted over
// all sessions) whose text matches the regular expression pattern fail
// with SQLSTATE code (XX000 when empty). The rule fires once.
func (f *Faults) FailStatement(pattern string, nth int, code string) error {
	return f.Add(Fault{Pattern: pattern, Nth: nth, Code: code, Scope: ScopePattern, Action: FaultFail})
}

// DropConnectionAfter makes the server drop the client connection that
// sends the nth statement from now (counted over all sessions), instead of
// running it. 0 removes such faults. Use Add with ScopeSession to count
// only one session's statements.
func (f *Faults) DropConnectionAfter(n int) {
	if n <= 0 {
		f.mu.Lock()
		defer f.mu.Unlock()
		kept := f.rules[:0]
		for _, r := range f.rules {
			if !(r.Action == FaultDrop && r.Pattern == "" && r.Scope == ScopePattern) {
				kept = append(kept, r)
			}
		}
		f.rules = kept
		return
	}
	_ = f.Add(Fault{Nth: n, Scope: ScopePattern, Action: FaultDrop})
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
	f.rules, f.ddlRate = nil, 0
}

// check is called before each statement of session key runs. It returns
// the action of a fault that fires (fail: the error to report).
func (f *Faults) check(key uint64, text string) (FaultAction, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, r := range f.rules {
		if !r.re.MatchString(text) {
			continue
		}
		k := uint64(0)
		if r.Scope == ScopeSession {
			k = key
		}
		r.seen[k]++
		if r.seen[k] != r.Nth {
			continue
		}
		f.rules = append(f.rules[:i:i], f.rules[i+1:]...)
		switch r.Action {
		case FaultDrop:
			return FaultDrop, &dropConn{}
		case FaultLoseReply:
			return FaultLoseReply, nil
		}
		return FaultFail, errf(r.Code, "mzemu: injected fault for statement %d matching %q", r.Nth, r.re.String())
	}
	return FaultFail, nil
}

func (f *Faults) ddlConflict() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ddlRate > 0 && rand.Float64() < f.ddlRate
}

// checkFaults runs the fault check for a statement about to run. lose is
// true when the statement must run and its reply be lost.
func (ss *session) checkFaults(st *stmt) (lose bool, err error) {
	if st.cls == clsEmpty || st.control != nil {
		return false, nil
	}
	ss.srv.catalogLog.received(st)
	act, err := ss.srv.faults.check(ss.key, st.text)
	return act == FaultLoseReply && err == nil, err
}
