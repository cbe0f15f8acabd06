package mzemu

import (
	"sort"
	"sync"
)

// CatalogChange is one committed catalog change, as the log records it:
// the statements of one autocommitted DDL statement or of one DDL
// transaction, in the order Materialize's coordinator serialized them.
type CatalogChange struct {
	// Revision is the catalog revision the change produced.
	Revision int64
	// Session is the key of the session that made it (see SessionKey).
	Session uint64
	// Statements are the client's statement texts.
	Statements []string
}

// catalogLog records committed catalog changes and counts the DDL
// statements received, for tests (a daemon idle for many passes must send
// no DDL; concurrent writers' DDL must not interleave).
type catalogLog struct {
	mu          sync.Mutex
	changes     []CatalogChange
	ddlReceived int
}

func (l *catalogLog) committed(rev int64, session uint64, list []*stmt) {
	c := CatalogChange{Revision: rev, Session: session}
	for _, st := range list {
		c.Statements = append(c.Statements, st.text)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.changes = append(l.changes, c)
}

func (l *catalogLog) received(st *stmt) {
	if st == nil || st.ddl == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ddlReceived++
}

// CatalogChanges returns the catalog changes this server committed since
// it started, in commit (revision) order.
func (s *Server) CatalogChanges() []CatalogChange {
	s.catalogLog.mu.Lock()
	out := append([]CatalogChange(nil), s.catalogLog.changes...)
	s.catalogLog.mu.Unlock()
	sort.SliceStable(out, func(i, j int) bool { return out[i].Revision < out[j].Revision })
	return out
}

// DDLReceived counts the DDL statements clients sent since the server
// started, whether they succeeded or not.
func (s *Server) DDLReceived() int {
	s.catalogLog.mu.Lock()
	defer s.catalogLog.mu.Unlock()
	return s.catalogLog.ddlReceived
}

// SessionKey is the key CatalogChange.Session names a session by, from
// what the client was told at startup (pgconn's PID and SecretKey).
func SessionKey(pid uint32, secretKey []byte) uint64 {
	if len(secretKey) != 4 {
		return 0
	}
	return uint64(pid)<<32 | uint64(uint32(secretKey[0])<<24|uint32(secretKey[1])<<16|uint32(secretKey[2])<<8|uint32(secretKey[3]))
}
