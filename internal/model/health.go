package model

import "strings"

// Source and table statuses Materialize reports in mz_source_statuses.
const (
	StatusRunning = "running"
	StatusStalled = "stalled"
	// StatusCeased was retired by Materialize in 2024; still accepted
	// from older servers and older emulators.
	StatusCeased = "ceased"
)

// IncompatibleSchemaChange is the text of the error Materialize gives a
// source-fed table whose upstream changed incompatibly.
const IncompatibleSchemaChange = "incompatible schema change"

// BrokenTable reports whether a source-fed table's status says it will
// never ingest again: stalled with an incompatible schema change (or
// ceased, on older servers). Only a new table (a new version) fixes it.
func BrokenTable(status, err string) bool {
	return status == StatusCeased ||
		status == StatusStalled && strings.Contains(strings.ToLower(err), IncompatibleSchemaChange)
}

// SourceFor returns the observed source with the given ID.
func (o *Observed) SourceFor(id string) (*ObservedSource, bool) {
	for i := range o.Sources {
		if o.Sources[i].ID == id {
			return &o.Sources[i], true
		}
	}
	return nil, false
}
