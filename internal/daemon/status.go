package daemon

import (
	"fmt"
	"time"

	"github.com/mzsync/mzsync/internal/drift"
	"github.com/mzsync/mzsync/internal/reconcile"
)

// Condition types, in the order status lists them (kstatus conventions).
const (
	// ConditionReady is True when the catalog matches the last fetched
	// revision.
	ConditionReady = "Ready"
	// ConditionReconciling is True while the daemon is working towards the
	// desired state: a version hydrating, or a retry pending.
	ConditionReconciling = "Reconciling"
	// ConditionStalled is True when no retry can help until the manifests
	// change.
	ConditionStalled = "Stalled"
)

// Condition statuses.
const (
	StatusTrue    = "True"
	StatusFalse   = "False"
	StatusUnknown = "Unknown"
)

// Condition reasons.
const (
	ReasonInitializing         = "Initializing"
	ReasonProgressing          = "Progressing"
	ReasonSucceeded            = "ReconciliationSucceeded"
	ReasonWaitingForReadiness  = "WaitingForReadiness"
	ReasonLocked               = "LockedByAnotherWriter"
	ReasonFailed               = "ReconciliationFailed"
	ReasonFetchFailed          = "FetchFailed"
	ReasonProgressingWithRetry = "ProgressingWithRetry"
	ReasonValidationFailed     = "ValidationFailed"
	ReasonEmptyManifests       = "EmptyManifests"
	ReasonBlocked              = "Blocked"
	ReasonOlderRevision        = "OlderRevision"
)

// historyLen is how many passes status keeps, newest first (as Flux).
const historyLen = 5

// Condition is one kstatus-style condition. LastTransitionTime changes
// only when Status does.
type Condition struct {
	Type               string    `json:"type"`
	Status             string    `json:"status"`
	Reason             string    `json:"reason"`
	Message            string    `json:"message"`
	LastTransitionTime time.Time `json:"last_transition_time"`
}

// PassRecord is one finished pass.
type PassRecord struct {
	Revision        string        `json:"revision"`
	Result          Result        `json:"result"`
	Changes         int           `json:"changes"`
	StartedAt       time.Time     `json:"started_at"`
	Duration        time.Duration `json:"-"`
	DurationSeconds float64       `json:"duration_seconds"`
	Error           string        `json:"error,omitempty"`
}

// Status is the daemon's report, served at GET /status. Its fields and
// lists are in a fixed order; it holds no credentials (sources name
// themselves without them, and errors from the catalog never carry the
// password).
type Status struct {
	Source    string `json:"source"`
	Suspended bool   `json:"suspended"`
	// LastAttemptedRevision is the revision of the newest pass that got as
	// far as fetching; LastAppliedRevision the newest the catalog fully
	// matched.
	LastAttemptedRevision string     `json:"last_attempted_revision"`
	LastAppliedRevision   string     `json:"last_applied_revision"`
	LastAppliedAt         *time.Time `json:"last_applied_at,omitempty"`
	NextPassAt            *time.Time `json:"next_pass_at,omitempty"`
	// Conditions are Ready, Reconciling, Stalled, in that order.
	Conditions []Condition `json:"conditions"`
	// History holds the last five passes, newest first.
	History []PassRecord `json:"history"`
	// Catalog is the catalog status after the last pass that could read
	// it; nil before.
	Catalog *reconcile.StatusReport `json:"catalog"`
	// Drift is the upstream drift after the last pass that could read it.
	Drift *drift.Report `json:"drift"`
}

// Status returns a copy of the daemon's report.
func (d *Daemon) Status() Status {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := Status{
		Source:                d.cfg.Source.String(),
		Suspended:             d.st.suspended,
		LastAttemptedRevision: d.st.lastAttempted,
		LastAppliedRevision:   d.st.lastApplied,
		Conditions:            append([]Condition(nil), d.st.conditions...),
		History:               append([]PassRecord{}, d.st.history...),
		Catalog:               d.st.catalog,
		Drift:                 d.st.drift,
	}
	if !d.st.lastAppliedAt.IsZero() {
		t := d.st.lastAppliedAt
		s.LastAppliedAt = &t
	}
	if !d.st.nextPassAt.IsZero() && !d.st.suspended {
		t := d.st.nextPassAt
		s.NextPassAt = &t
	}
	return s
}

// Condition returns the condition of type t.
func (s Status) Condition(t string) Condition {
	for _, c := range s.Conditions {
		if c.Type == t {
			return c
		}
	}
	return Condition{Type: t, Status: StatusUnknown}
}

// setConditionLocked sets one condition, keeping its transition time when
// the status does not change, so a repeated outcome never looks like news.
func (d *Daemon) setConditionLocked(typ, status, reason, msg string, now time.Time) {
	for i := range d.st.conditions {
		c := &d.st.conditions[i]
		if c.Type != typ {
			continue
		}
		if c.Status != status {
			c.LastTransitionTime = now
		}
		c.Status, c.Reason, c.Message = status, reason, msg
		return
	}
}

// updateConditionsLocked derives the conditions from a pass. A pass that
// met another writer's lease changes nothing: the lock is transient and
// says nothing about the catalog. Neither does a fetch failure after which
// the pass still converged on the last good checkout, beyond Reconciling.
func (d *Daemon) updateConditionsLocked(res Result, reason string, rec PassRecord, out Outcome, applied bool, now time.Time) {
	set := func(typ, status, reason, msg string) { d.setConditionLocked(typ, status, reason, msg, now) }
	switch res {
	case ResultSucceeded:
		msg := fmt.Sprintf("Applied revision %s.", rec.Revision)
		set(ConditionReady, StatusTrue, ReasonSucceeded, msg)
		set(ConditionReconciling, StatusFalse, ReasonSucceeded, msg)
		set(ConditionStalled, StatusFalse, ReasonSucceeded, "")
	case ResultNotReady:
		msg := fmt.Sprintf("Revision %s: waiting for version %s to be ready before cutover.", rec.Revision, out.Apply.NotReady)
		set(ConditionReady, StatusUnknown, ReasonProgressing, msg)
		set(ConditionReconciling, StatusTrue, ReasonWaitingForReadiness, msg)
		set(ConditionStalled, StatusFalse, ReasonWaitingForReadiness, "")
	case ResultLocked:
		// Nothing: another writer is applying; retry soon.
	case ResultFailed:
		if applied {
			set(ConditionReconciling, StatusTrue, ReasonProgressingWithRetry, rec.Error)
			return
		}
		set(ConditionReady, StatusFalse, reason, rec.Error)
		set(ConditionReconciling, StatusTrue, ReasonProgressingWithRetry, rec.Error)
		set(ConditionStalled, StatusFalse, reason, "")
	case ResultStalled:
		set(ConditionReady, StatusFalse, reason, rec.Error)
		set(ConditionReconciling, StatusFalse, reason, "")
		set(ConditionStalled, StatusTrue, reason, rec.Error)
	}
}
